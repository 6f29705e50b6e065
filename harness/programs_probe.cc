// The malloc probe of the program suite: prints the file that defines the
// malloc this process calls. Run with a library in LD_PRELOAD, it shows
// whether ld.so really put that library first: a preload ld.so cannot load
// is only a warning on stderr, and the program would run on glibc's malloc
// without anyone noticing.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

int main() {
  // The library must also serve a call, not just be mapped.
  void* volatile block = malloc(64);
  free(block);
  void* const symbol = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info;
  if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) {
    fprintf(stderr, "cannot tell which file defines malloc\n");
    return 1;
  }
  printf("%s\n", info.dli_fname);
  return 0;
}
