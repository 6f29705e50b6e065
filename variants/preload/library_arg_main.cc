// main() of the preload tests that take the library under test as their one
// argument (library_arg.h): GoogleTest's flags first, then LIBRARY.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "variants/preload/library_arg.h"

namespace preload_test {
namespace {
std::string g_library;
} // namespace

const std::string &library_under_test() { return g_library; }

} // namespace preload_test

int main(int argc, char **argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    fprintf(stderr,
            "usage: %s LIBRARY (a libhakmem_<variant>.so, or none for plain "
            "glibc where a suite allows)\n",
            argv[0]);
    return 2;
  }
  preload_test::g_library = argv[1];
  return RUN_ALL_TESTS();
}
