/* Trap: the first call is malloc_usable_size(NULL), a query before any
 * block exists. */
#include <malloc.h>
#include <stdlib.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  CHECK(malloc_usable_size(NULL) == 0);
  void* p = malloc(10);
  CHECK(p != NULL && malloc_usable_size(p) >= 10);
  free(p);
}
