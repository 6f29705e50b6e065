// Start-up traps: each program in traps/ makes one entry point the first
// allocation call of its process (from .preinit_array, before any
// library's initializer) and of a new thread, with the library given as
// the first argument preloaded ("none": plain glibc, to check the
// programs themselves). Each must exit 0 and print "ok", with the learner
// off (the default) and with its thread started lazily (HAKMEM_LEARN=on),
// since that start happens inside whatever allocation call comes first.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/sanitizer.h"
#include "variants/preload/library_arg.h"
#include "variants/preload/spawn.h"

namespace {

using preload_test::library_under_test;

class Trap : public testing::TestWithParam<const char*> {
 protected:
  void expect_clean_exit(const std::vector<std::string>& extra_environment) {
    if (lab::kUnderSanitizer) GTEST_SKIP() << "under a sanitizer, its runtime is the malloc: nothing is preloaded";
    const std::string program = preload_test::runfile(std::string("variants/preload/traps/") + GetParam());
    const preload_test::Outcome outcome =
        preload_test::run(program, {}, preload_test::preload_environment(library_under_test(), extra_environment));
    EXPECT_EQ(outcome.exit_code, 0) << GetParam() << " with " << library_under_test() << ":\n" << outcome.output;
    EXPECT_NE(outcome.output.find("ok"), std::string::npos) << outcome.output;
  }
};

TEST_P(Trap, ExitsCleanly) { expect_clean_exit({}); }

// A short interval, so that the thread starts within the first few calls.
TEST_P(Trap, ExitsCleanlyWithTheLearnerThread) {
  expect_clean_exit({"HAKMEM_LEARN=on", "HAKMEM_LEARN_INTERVAL_MS=1"});
}

// The learner thread's lazy start can come from inside glibc's exit-handler
// lock (atexit_probe.c): it must finish without taking that lock again.
TEST(LearnerStart, InsideAnAtexitRegistrationDoesNotDeadlock) {
  if (lab::kUnderSanitizer) GTEST_SKIP() << "under a sanitizer, its runtime is the malloc: nothing is preloaded";
  if (library_under_test() == "none") GTEST_SKIP() << "glibc has no learner";
  const preload_test::Outcome outcome =
      preload_test::run(preload_test::runfile("variants/preload/atexit_probe"), {},
                        preload_test::preload_environment(library_under_test(), {"HAKMEM_LEARN=on"}));
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("ok"), std::string::npos) << outcome.output;
}

// One program per trap (traps/<name>.c).
INSTANTIATE_TEST_SUITE_P(FirstCall, Trap,
                         testing::Values("nothing_before_preinit", "free_null", "free_foreign", "realloc_first",
                                         "posix_memalign_first", "memalign_first", "calloc_first",
                                         "usable_size_first", "dlsym_first", "pthread_create_first"),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
