/* A start-up trap: a tiny program whose first allocation call is one entry
 * point, once for the process and once for a thread. Each trap program
 * defines
 *     static void trap(void);
 * (the calls under test; CHECK aborts on a wrong result) and then includes
 * this header, which
 *   - runs trap() from .preinit_array: ld.so calls it before every
 *     library's initializer (libc's, and libstdc++'s, whose emergency
 *     exception pool is otherwise the process's first malloc), so the
 *     trap's first call is the process's first call into the allocator
 *     (nothing_before_preinit.c checks that nothing came before);
 *   - in main, checks that malloc resolves to the expected library
 *     (malloc_provider.h), runs trap() on a new thread, whose first call
 *     it is on that thread, and prints "ok".
 * A wrong result or a crash makes the exit status nonzero. */
#ifndef HAKMEM_VARIANTS_PRELOAD_TRAPS_TRAP_H_
#define HAKMEM_VARIANTS_PRELOAD_TRAPS_TRAP_H_

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "variants/preload/malloc_provider.h"

/* Stops the program with a message: write(2), since stdio may allocate. */
#define CHECK(condition)                                                        \
  do {                                                                          \
    if (!(condition)) {                                                         \
      static const char message[] = __FILE__ ": check failed: " #condition "\n"; \
      ssize_t ignored = write(2, message, sizeof message - 1);                  \
      (void)ignored;                                                            \
      abort();                                                                  \
    }                                                                           \
  } while (0)

static void trap(void);

static void run_trap_first(int argc, char** argv, char** envp) {
  (void)argc;
  (void)argv;
  (void)envp;
  trap();
}

__attribute__((section(".preinit_array"), used)) static void (*const trap_preinit)(int, char**, char**) =
    run_trap_first;

static void* trap_on_thread(void* unused) {
  (void)unused;
  trap();
  return NULL;
}

int main(void) {
  if (!malloc_provider_is_expected()) return 1;
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, trap_on_thread, NULL) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  puts("ok");
  return 0;
}

#endif /* HAKMEM_VARIANTS_PRELOAD_TRAPS_TRAP_H_ */
