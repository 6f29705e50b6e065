/* malloc_provider(): dladdr on what dlsym finds for "malloc". */
#define _GNU_SOURCE
#include "variants/preload/malloc_provider.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* file_name(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

const char* malloc_provider(void) {
  void* symbol = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info;
  if (symbol == NULL || dladdr(symbol, &info) == 0 || info.dli_fname == NULL) return "unknown";
  return file_name(info.dli_fname);
}

const char* expected_malloc_provider(void) {
  const char* expected = getenv(PRELOAD_TEST_MALLOC_FROM);
  return expected != NULL && expected[0] != '\0' ? expected : "libc.so.6";
}

int malloc_provider_is_expected(void) {
  const char* actual = malloc_provider();
  const char* expected = expected_malloc_provider();
  if (strcmp(actual, expected) == 0) return 1;
  fprintf(stderr, "malloc resolves to %s, expected %s\n", actual, expected);
  return 0;
}

int expecting_hakmem(void) { return strcmp(expected_malloc_provider(), "libc.so.6") != 0; }
