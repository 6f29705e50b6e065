// run_preloaded LIBRARY PROGRAM [ARGS...]: replaces itself with PROGRAM,
// LIBRARY preloaded and named as where its malloc must come from
// (malloc_provider.h). A test target whose main this is runs a whole test
// binary (the malloc semantics suite) with a library as its malloc, its
// output and exit status the test's own.
//
// Under a sanitizer it runs nothing: the sanitizer's runtime must come
// first in the process and is the malloc there, so a preloaded one cannot
// be; it says so and passes.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/sanitizer.h"
#include "variants/preload/spawn.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: run_preloaded LIBRARY|none PROGRAM [ARGS...]\n");
    return 2;
  }
  if (lab::kUnderSanitizer) {
    printf("skipped: under a sanitizer, its runtime is the process's malloc and nothing can be preloaded\n");
    return 0;
  }
  const std::string program = preload_test::runfile(argv[2]);
  const std::vector<std::string> environment = preload_test::preload_environment(argv[1]);
  std::vector<char*> envp;
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> args{const_cast<char*>(program.c_str())};
  for (int i = 3; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execve(program.c_str(), args.data(), envp.data());
  fprintf(stderr, "run_preloaded: cannot run %s: %s\n", program.c_str(), strerror(errno));
  return 2;
}
