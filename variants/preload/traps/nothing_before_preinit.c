/* Not a trap but the proof the traps need: when .preinit_array runs,
 * hakmem has served nothing yet (no SuperSlab, no large block), so each
 * trap's call there really is the process's first. Only meaningful with a
 * hakmem library preloaded; on glibc it just runs. */
#include <malloc.h>
#include <stdlib.h>

#include "variants/preload/traps/trap.h"

static int g_runs;

static void trap(void) {
  if (g_runs++ == 0 && expecting_hakmem()) {
    /* mallinfo2 reads hakmem's counters; it allocates nothing. */
    const struct mallinfo2 info = mallinfo2();
    CHECK(info.arena == 0);
    CHECK(info.hblks == 0);
  }
  free(malloc(16));
}
