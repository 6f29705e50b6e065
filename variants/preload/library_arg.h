// The library a preload test checks: the one argument of every
// <variant>_<suite>_test that takes a libhakmem_<variant>.so (defs.bzl
// passes it as $(rootpath)). library_arg_main.cc is those tests' main().
#pragma once

#include <string>

namespace preload_test {

// argv[1] of the test binary: a library's runfile path, or "none" (plain
// glibc) where the suite allows it.
const std::string &library_under_test();

} // namespace preload_test
