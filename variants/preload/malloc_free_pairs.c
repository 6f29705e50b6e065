/* malloc_free_pairs [N] [SIZE] [BATCH ORDER]: N malloc(SIZE)/free pairs
 * (SIZE 64 unless given) through whatever malloc the process has, for
 * counting the instructions one pair costs with callgrind (only inside
 * run_pairs, so start-up and the warm-up are left out):
 *
 *   LD_PRELOAD=$PWD/bazel-bin/variants/libhakmem_ultra_simple.so \
 *     valgrind --tool=callgrind --toggle-collect=run_pairs \
 *     bazel-bin/variants/preload/malloc_free_pairs 1000000
 *
 * Instructions per pair = collected / N. With BATCH and ORDER (lifo, fifo
 * or random), the pairs come as the microbenchmark makes them
 * (workloads/microbench.cc): BATCH allocations, then their BATCH frees in
 * that order (random: one fixed permutation), N / BATCH times; add
 * --cache-sim=yes for the simulated cache misses a pair costs when the
 * batch's blocks compete for the cache. README ("hakmem as a process's
 * malloc") has what it measured, aliases against wrappers, and the mid
 * cache's 8 KiB pair. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the compiler from deleting a pair it can see through. */
static void escape(void* p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* The batch's blocks and the order they are freed in. */
enum { kMaxBatch = 4096 };
static void* blocks[kMaxBatch];
static long order[kMaxBatch];

__attribute__((noinline)) static void pairs(long n, size_t size, long batch) {
  if (batch <= 1) {
    for (long i = 0; i < n; ++i) {
      void* p = malloc(size);
      escape(p);
      free(p);
    }
    return;
  }
  for (long done = 0; done + batch <= n; done += batch) {
    for (long i = 0; i < batch; ++i) {
      void* p = malloc(size);
      escape(p);
      blocks[i] = p;
    }
    for (long i = 0; i < batch; ++i) free(blocks[order[i]]);
  }
}

/* What callgrind counts (--toggle-collect=run_pairs); the warm-up calls
 * pairs() itself. */
__attribute__((noinline)) void run_pairs(long n, size_t size, long batch) { pairs(n, size, batch); }

/* order[] for ORDER; 0 if ORDER is none of the three. */
static int set_order(const char* name, long batch) {
  const int lifo = strcmp(name, "lifo") == 0;
  if (!lifo && strcmp(name, "fifo") != 0 && strcmp(name, "random") != 0) return 0;
  for (long i = 0; i < batch; ++i) order[i] = lifo ? batch - 1 - i : i;
  if (strcmp(name, "random") == 0) {
    unsigned long long x = 42; /* a fixed permutation (Fisher-Yates over a 64-bit LCG) */
    for (long i = batch - 1; i > 0; --i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const long j = (long)((x >> 33) % (unsigned long long)(i + 1));
      const long t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }
  return 1;
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 1000000;
  const size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
  const long batch = argc > 3 ? atol(argv[3]) : 1;
  if (batch < 1 || batch > kMaxBatch) {
    fprintf(stderr, "malloc_free_pairs: BATCH must be 1 to %d, not %s\n", kMaxBatch, argv[3]);
    return 2;
  }
  if (batch > 1 && (argc < 5 || !set_order(argv[4], batch))) {
    fprintf(stderr, "malloc_free_pairs: ORDER must be lifo, fifo or random, not %s\n", argc < 5 ? "missing" : argv[4]);
    return 2;
  }
  /* The thread's caches are set up before counting: 1000 pairs, or 100
   * rounds of the batch (the mid cache's limits grow with its frees). */
  pairs(batch <= 1 ? 1000 : 100 * batch, size, batch);
  run_pairs(n, size, batch);
  return 0;
}
