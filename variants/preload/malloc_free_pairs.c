/* malloc_free_pairs [N] [SIZE]: N malloc(SIZE)/free pairs (SIZE 64 unless
 * given) through whatever malloc the process has, for counting the
 * instructions one pair costs with callgrind (only inside run_pairs, so
 * start-up and the warm-up are left out):
 *
 *   LD_PRELOAD=$PWD/bazel-bin/variants/libhakmem_ultra_simple.so \
 *     valgrind --tool=callgrind --toggle-collect=run_pairs \
 *     bazel-bin/variants/preload/malloc_free_pairs 1000000
 *
 * Instructions per pair = collected / N. README ("hakmem as a process's
 * malloc") has what it measured, aliases against wrappers, and the mid
 * cache's 8 KiB pair. */
#include <stdlib.h>

/* Keeps the compiler from deleting a pair it can see through. */
static void escape(void* p) { __asm__ volatile("" : : "r"(p) : "memory"); }

__attribute__((noinline)) void run_pairs(long n, size_t size) {
  for (long i = 0; i < n; ++i) {
    void* p = malloc(size);
    escape(p);
    free(p);
  }
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 1000000;
  const size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
  for (int i = 0; i < 1000; ++i) { /* the thread's cache is set up before counting */
    void* p = malloc(size);
    escape(p);
    free(p);
  }
  run_pairs(n, size);
  return 0;
}
