/* Trap: the first call is pthread_create, which allocates the new thread's
 * TLS with calloc in the parent; the child then allocates on its own. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "variants/preload/traps/trap.h"

static void* child(void* unused) {
  (void)unused;
  char* p = malloc(64);
  CHECK(p != NULL);
  strcpy(p, "child");
  return p;
}

static void trap(void) {
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, child, NULL) == 0);
  void* result = NULL;
  CHECK(pthread_join(thread, &result) == 0);
  CHECK(result != NULL && strcmp(result, "child") == 0);
  free(result); /* a block of the exited child */
}
