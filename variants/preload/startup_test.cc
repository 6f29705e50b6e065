// Start-up traps: each program in traps/ makes one entry point the first
// allocation call of its process (from .preinit_array, before any
// library's initializer) and of a new thread, with the library given as
// the first argument preloaded ("none": plain glibc, to check the
// programs themselves). Each must exit 0 and print "ok".
#include <gtest/gtest.h>

#include <string>

#include "common/sanitizer.h"
#include "variants/preload/library_arg.h"
#include "variants/preload/spawn.h"

namespace {

using preload_test::library_under_test;

class Trap : public testing::TestWithParam<const char*> {};

TEST_P(Trap, ExitsCleanly) {
  if (lab::kUnderSanitizer) GTEST_SKIP() << "under a sanitizer, its runtime is the malloc: nothing is preloaded";
  const std::string program = preload_test::runfile(std::string("variants/preload/traps/") + GetParam());
  const preload_test::Outcome outcome =
      preload_test::run(program, {}, preload_test::preload_environment(library_under_test()));
  EXPECT_EQ(outcome.exit_code, 0) << GetParam() << " with " << library_under_test() << ":\n" << outcome.output;
  EXPECT_NE(outcome.output.find("ok"), std::string::npos) << outcome.output;
}

// One program per trap (traps/<name>.c).
INSTANTIATE_TEST_SUITE_P(FirstCall, Trap,
                         testing::Values("nothing_before_preinit", "free_null", "free_foreign", "realloc_first",
                                         "posix_memalign_first", "memalign_first", "calloc_first",
                                         "usable_size_first", "dlsym_first", "pthread_create_first"),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
