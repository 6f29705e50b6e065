/* Trap: the first call is free(NULL), which must need no set-up at all. */
#include <stdlib.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  free(NULL);
  void* p = malloc(40);
  CHECK(p != NULL);
  free(p);
}
