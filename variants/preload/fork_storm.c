/* The fork storm of issue 11 (defect 1) under a preloaded malloc, for
 * fork_test.cc: one thread churns 32 KiB blocks (and tiny ones) while the
 * main thread forks 40 times; each child allocates 20,000-byte blocks,
 * starts a thread that does the same, and exits 0. Each child runs under a
 * deadline of its own (5 s): one still running then is killed and counted
 * as hung. Prints "children: N exited 0, H hung, F failed" and exits 0 only
 * when every child exited 0. Before the fork handlers, 3-9 of 42 hung. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kForks = 40, kDeadlineMs = 5000 };

static atomic_int g_stop;
static atomic_int g_started;

static void escape(void* p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static void* churn(void* arg) {
  (void)arg;
  enum { kHeld = 512 };
  static void* held[kHeld];
  for (unsigned long i = 0; !atomic_load(&g_stop); ++i) {
    void* big = malloc(32 * 1024);
    escape(big);
    free(big);
    unsigned slot = (unsigned)(i % kHeld);
    free(held[slot]);
    held[slot] = malloc(16 + (i * 37) % 1000);
    escape(held[slot]);
    if (i % 4096 == 0) malloc_trim(0);
    atomic_store(&g_started, 1);
  }
  for (unsigned i = 0; i < kHeld; ++i) free(held[i]);
  return NULL;
}

static void* child_thread(void* arg) {
  int* ok = arg;
  for (int i = 0; i < 100; ++i) {
    char* p = malloc(20000);
    char* q = malloc(64);
    if (p == NULL || q == NULL) *ok = 0;
    else p[0] = p[19999] = q[0] = 1;
    free(p);
    free(q);
  }
  return NULL;
}

static int child_body(void) {
  char* blocks[200];
  for (int i = 0; i < 200; ++i) {
    blocks[i] = malloc(20000);
    if (blocks[i] == NULL) return 3;
    memset(blocks[i], i, 20000);
  }
  for (int i = 0; i < 200; ++i) {
    if (blocks[i][0] != (char)i || blocks[i][19999] != (char)i) return 4;
    free(blocks[i]);
  }
  int ok = 1;
  pthread_t t;
  if (pthread_create(&t, NULL, child_thread, &ok) != 0 || pthread_join(t, NULL) != 0) return 5;
  return ok ? 0 : 6;
}

/* 0: exited 0; 1: hung (killed at the deadline); 2: anything else. */
static int wait_with_deadline(pid_t pid) {
  const struct timespec tick = {0, 2 * 1000 * 1000};
  for (int waited_ms = 0; waited_ms < kDeadlineMs; waited_ms += 2) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
    if (r < 0) return 2;
    nanosleep(&tick, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return 1;
}

int main(void) {
  pthread_t churner;
  if (pthread_create(&churner, NULL, churn, NULL) != 0) return 2;
  while (!atomic_load(&g_started)) sched_yield();
  int exited = 0, hung = 0, failed = 0;
  for (int i = 0; i < kForks; ++i) {
    fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) {
      ++failed;
      continue;
    }
    if (pid == 0) _exit(child_body());
    switch (wait_with_deadline(pid)) {
      case 0: ++exited; break;
      case 1: ++hung; break;
      default: ++failed; break;
    }
  }
  atomic_store(&g_stop, 1);
  pthread_join(churner, NULL);
  printf("children: %d exited 0, %d hung, %d failed\n", exited, hung, failed);
  return exited == kForks ? 0 : 1;
}
