/* Trap: the first call is posix_memalign. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  void* p = NULL;
  CHECK(posix_memalign(&p, 64, 100) == 0);
  CHECK(p != NULL && (uintptr_t)p % 64 == 0);
  void* q = p;
  CHECK(posix_memalign(&q, 24, 100) == EINVAL && q == p);
  free(p);
}
