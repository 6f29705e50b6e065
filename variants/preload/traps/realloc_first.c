/* Trap: the first call is realloc(NULL, n), then it grows, moves across
 * size ranges and shrinks to nothing. */
#include <stdlib.h>
#include <string.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  char* p = realloc(NULL, 100);
  CHECK(p != NULL);
  strcpy(p, "kept");
  p = realloc(p, 5000);
  CHECK(p != NULL && strcmp(p, "kept") == 0);
  p = realloc(p, 200000);
  CHECK(p != NULL && strcmp(p, "kept") == 0);
  p = realloc(p, 0);
  CHECK(p == NULL);
}
