// The fork storm with a library preloaded (its first argument), issue 11
// defect 1: fork_storm forks 40 times while a thread churns, each child
// under a deadline of its own, so a hang is counted, not waited for.
#include <gtest/gtest.h>

#include <string>

#include "common/sanitizer.h"
#include "variants/preload/library_arg.h"
#include "variants/preload/spawn.h"

namespace {

using preload_test::library_under_test;

TEST(Fork, NoChildOfAForkStormHangsOrFails) {
  if (lab::kUnderSanitizer) GTEST_SKIP() << "under a sanitizer, its runtime is the malloc: nothing is preloaded";
  const preload_test::Outcome out = preload_test::run(preload_test::runfile("variants/preload/fork_storm"), {},
                                                      preload_test::preload_environment(library_under_test()));
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find("children: 40 exited 0, 0 hung, 0 failed"), std::string::npos) << out.output;
}

}  // namespace
