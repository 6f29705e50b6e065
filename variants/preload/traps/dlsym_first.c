/* Trap: the first allocation comes from inside libc: a failed dlsym makes
 * dlerror's message, in a buffer libc mallocs (and frees on the next
 * dlerror, or at thread exit). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "variants/preload/traps/trap.h"

static void trap(void) {
  CHECK(dlsym(RTLD_DEFAULT, "hakmem_no_such_symbol") == NULL);
  const char* message = dlerror();
  CHECK(message != NULL && strstr(message, "hakmem_no_such_symbol") != NULL);
  CHECK(dlsym(RTLD_DEFAULT, "hakmem_no_such_symbol_either") == NULL);
  CHECK(dlerror() != NULL); /* frees the first message */
  CHECK(dlerror() == NULL);
}
