/* Thread teardown under a preloaded malloc (issue 11, defect 2), for
 * teardown_test.cc. Runs 100 threads one after another, then prints
 * "slabs in use: BEFORE -> AFTER" (mallinfo2's uordblks in 64 KiB slabs)
 * and calls malloc_stats(), whose summary has the heap counts.
 *   strerror     each thread calls strerror(99999): glibc keeps the text
 *                in a per-thread buffer it frees after every thread-exit
 *                destructor has run (__libc_thread_freeres);
 *   late_malloc  each thread arms a pthread key whose destructor comes
 *                after the allocator's and, in the last round
 *                (PTHREAD_DESTRUCTOR_ITERATIONS), allocates and frees. */
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kThreads = 100 };

static pthread_key_t g_key;
static __thread int t_rounds;

static void escape(void* p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static void allocate_in_the_last_round(void* value) {
  if (++t_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_key, value);
    return;
  }
  void* tiny = malloc(48);
  void* mid = malloc(6000);
  escape(tiny);
  escape(mid);
  free(tiny);
  free(mid);
}

static void* call_strerror(void* arg) {
  (void)arg;
  return (void*)strerror(99999);
}

static void* arm_the_key(void* arg) {
  (void)arg;
  void* p = malloc(200); /* the thread has a heap (escape: GCC drops a bare free(malloc())) */
  escape(p);
  free(p);
  pthread_setspecific(g_key, &t_rounds);
  return NULL;
}

static size_t slabs_in_use(void) { return mallinfo2().uordblks / 65536; }

int main(int argc, char** argv) {
  if (argc != 2 || (strcmp(argv[1], "strerror") != 0 && strcmp(argv[1], "late_malloc") != 0)) {
    fprintf(stderr, "usage: teardown_probe strerror|late_malloc\n");
    return 2;
  }
  void* (*body)(void*) = strcmp(argv[1], "strerror") == 0 ? call_strerror : arm_the_key;
  void* p = malloc(16); /* the allocator's exit key is made before ours */
  escape(p);
  free(p);
  if (pthread_key_create(&g_key, allocate_in_the_last_round) != 0) return 1;
  pthread_t t;
  /* One thread first, so that the heap the others will reuse exists. */
  if (pthread_create(&t, NULL, body, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;
  const size_t before = slabs_in_use();
  for (int i = 0; i < kThreads; ++i) {
    if (pthread_create(&t, NULL, body, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;
  }
  printf("slabs in use: %zu -> %zu\n", before, slabs_in_use());
  fflush(stdout);
  malloc_stats();
  return 0;
}
