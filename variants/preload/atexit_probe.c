/* The learner's lazy start inside atexit, for startup_test.cc. glibc grows
 * its exit-handler list by a calloc made while it holds its exit-handler
 * lock, once every 32 handlers; this program registers 20000, so the
 * allocator's first cold events, and with them the learner thread's first
 * start under HAKMEM_LEARN=on, come from inside that calloc. A start that
 * registered its stop with atexit deadlocked there (g++'s cc1plus hung in
 * the program suite). Prints "ok" after the handlers are in place; they
 * all run at exit. */
#include <stdio.h>
#include <stdlib.h>

static int g_ran;

static void count(void) { ++g_ran; }

int main(void) {
  for (int i = 0; i < 20000; ++i) {
    if (atexit(count) != 0) {
      fputs("atexit failed\n", stderr);
      return 1;
    }
  }
  puts("ok");
  return 0;
}
