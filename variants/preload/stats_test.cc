// HAKMEM_STATS with a library preloaded (its first argument): the summary
// at exit has every documented line and the counts of what the probe did;
// without the option nothing is printed; a bad value gets the options
// table's one-line warning; malloc_stats() prints the same summary.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "common/sanitizer.h"
#include "variants/preload/spawn.h"

namespace {

std::string g_library;

preload_test::Outcome run_probe(const std::vector<std::string>& env, const std::vector<std::string>& args = {}) {
  return preload_test::run(preload_test::runfile("variants/preload/stats_probe"), args,
                           preload_test::preload_environment(g_library, env));
}

long long number_after(const std::string& text, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return -1;
  return std::stoll(match[1]);
}

class Stats : public testing::Test {
 protected:
  void SetUp() override {
    if (lab::kUnderSanitizer) GTEST_SKIP() << "under a sanitizer, its runtime is the malloc: nothing is preloaded";
  }
};

TEST_F(Stats, TheSummaryAtExitHasEveryDocumentedField) {
  const preload_test::Outcome out = run_probe({"HAKMEM_STATS=1"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const std::string& s = out.output;
  EXPECT_TRUE(std::regex_search(s, std::regex("hakmem: stats of (ultra_simple|magazine|hot_mag|[a-z_]+) \\(HAKMEM_STATS\\)")))
      << s;
  EXPECT_NE(s.find("slow paths only"), std::string::npos) << s;
  EXPECT_NE(s.find("fast paths (tiny hits) count nothing"), std::string::npos) << "the output says the fast path is not counted\n" << s;
  // The probe's 5000 blocks of 64 B came in refills of class 3, and its
  // 100 blocks of 3000 B, one by one, from class 25 (3072 B).
  EXPECT_GE(number_after(s, "tiny +3 +64 +[0-9]+ +([0-9]+)"), 5000) << "refilled 64 B blocks\n" << s;
  EXPECT_GE(number_after(s, "mid +25 +3072 +([0-9]+)"), 100) << "3000 B allocations\n" << s;
  EXPECT_GE(number_after(s, "mid +25 +3072 +[0-9]+ +[0-9]+ +[0-9]+ +([0-9]+)"), 100) << "3000 B frees\n" << s;
  EXPECT_GE(number_after(s, "superslabs: ([0-9]+) mapped, [0-9]+ released"), 1) << s;
  EXPECT_GE(number_after(s, "superslabs: [0-9]+ mapped, ([0-9]+) released"), 0) << s;
  EXPECT_GE(number_after(s, "large blocks: ([0-9]+) mapped"), 5) << s;
  EXPECT_GE(number_after(s, "large blocks: [0-9]+ mapped, ([0-9]+) unmapped"), 5) << s;
  EXPECT_GT(number_after(s, "peak RSS: ([0-9]+) KiB \\(VmHWM\\)"), 1024) << "the probe touched 1 MiB blocks\n" << s;
  EXPECT_GE(number_after(s, "system calls: ([0-9]+) mmap"), 6) << s;
  EXPECT_GE(number_after(s, "system calls: [0-9]+ mmap, ([0-9]+) munmap"), 5) << s;
  EXPECT_GE(number_after(s, "munmap, ([0-9]+) madvise"), 0) << s;
}

TEST_F(Stats, NothingIsPrintedWithoutTheOption) {
  for (const char* value : {"", "HAKMEM_STATS=0"}) {
    const preload_test::Outcome out = run_probe(value[0] ? std::vector<std::string>{value} : std::vector<std::string>{});
    EXPECT_EQ(out.exit_code, 0) << out.output;
    EXPECT_EQ(out.output, "") << value;
  }
}

TEST_F(Stats, ABadValueGetsOneLineAndNoSummary) {
  for (const char* bad : {"yes", "2", "-1", ""}) {
    const preload_test::Outcome out = run_probe({std::string("HAKMEM_STATS=") + bad});
    EXPECT_EQ(out.exit_code, 0) << out.output;
    EXPECT_EQ(std::count(out.output.begin(), out.output.end(), '\n'), 1) << "one line for '" << bad << "':\n" << out.output;
    EXPECT_NE(out.output.find("hakmem: warning: HAKMEM_STATS='" + std::string(bad) + "' is not an integer in [0, 1]"),
              std::string::npos)
        << out.output;
  }
}

TEST_F(Stats, MallocStatsPrintsTheSummaryOnDemand) {
  const preload_test::Outcome out = run_probe({}, {"malloc_stats"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const size_t marker = out.output.find("before malloc_stats\n");
  ASSERT_NE(marker, std::string::npos) << out.output;
  const std::string after = out.output.substr(marker);
  EXPECT_NE(after.find("hakmem: stats of "), std::string::npos) << out.output;
  EXPECT_NE(after.find("hakmem: system calls: "), std::string::npos) << out.output;
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    fprintf(stderr, "usage: %s LIBRARY (a libhakmem_<variant>.so to preload)\n", argv[0]);
    return 2;
  }
  g_library = argv[1];
  return RUN_ALL_TESTS();
}
