/* Trap: the first call is memalign, with an over-aligned request. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  void* p = memalign(4096, 100);
  CHECK(p != NULL && (uintptr_t)p % 4096 == 0);
  free(p);
}
