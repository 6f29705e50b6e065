/* Trap: the first call is calloc (what ld.so and pthread use for their own
 * per-thread structures). */
#include <stdlib.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  unsigned char* p = calloc(100, 10);
  CHECK(p != NULL);
  for (int i = 0; i < 1000; ++i) CHECK(p[i] == 0);
  free(p);
}
