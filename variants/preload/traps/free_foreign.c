/* Trap: a thread's first call frees a block another thread allocated: a
 * remote free from a thread that has no heap yet. (The process's first
 * call is free(NULL): no block exists yet.) */
#include <stdlib.h>
#include <string.h>

#include "variants/preload/traps/trap.h"

static char* g_block; /* the previous run's block */

static void trap(void) {
  if (g_block != NULL) CHECK(strcmp(g_block, "from the other thread") == 0);
  free(g_block);
  g_block = malloc(100);
  CHECK(g_block != NULL);
  strcpy(g_block, "from the other thread");
}
