/* A small program for the HAKMEM_STATS tests: tiny blocks (refills and
 * spills), mid blocks, L25 blocks and large blocks, all freed, then exits
 * normally.
 * With the argument "malloc_stats" it also calls malloc_stats() before
 * exiting, after printing a marker line to stderr. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kTiny = 5000, kMid = 100, kL25 = 10, kLarge = 5 };

/* Keeps the compiler from deleting a malloc/free pair it can see through. */
static void escape(void* p) { __asm__ volatile("" : : "r"(p) : "memory"); }

int main(int argc, char** argv) {
  static void* blocks[kTiny];
  for (int i = 0; i < kTiny; ++i) escape(blocks[i] = malloc(64));
  for (int i = 0; i < kTiny; ++i) free(blocks[i]);
  for (int i = 0; i < kMid; ++i) escape(blocks[i] = malloc(3000));
  for (int i = 0; i < kMid; ++i) free(blocks[i]);
  for (int i = 0; i < kL25; ++i) escape(blocks[i] = malloc(1 << 20));
  for (int i = 0; i < kL25; ++i) free(blocks[i]);
  for (int i = 0; i < kLarge; ++i) {
    void* p = malloc(4 << 20);
    memset(p, 1, 4 << 20);
    escape(p);
    free(p);
  }
  if (argc > 1 && strcmp(argv[1], "malloc_stats") == 0) {
    fputs("before malloc_stats\n", stderr);
    malloc_stats();
  }
  return 0;
}
