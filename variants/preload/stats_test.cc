// HAKMEM_STATS with a library preloaded (its first argument): the summary
// at exit has every documented line and the counts of what the probe did;
// without the option nothing is printed; a bad value gets the options
// table's one-line warning; malloc_stats() prints the same summary.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "common/sanitizer.h"
#include "variants/preload/library_arg.h"
#include "variants/preload/spawn.h"

namespace {

using preload_test::library_under_test;

preload_test::Outcome run_probe(const std::vector<std::string>& env, const std::vector<std::string>& args = {}) {
  return preload_test::run(preload_test::runfile("variants/preload/stats_probe"), args,
                           preload_test::preload_environment(library_under_test(), env));
}

// The whitespace-separated words of the first summary line ("hakmem: "
// dropped) whose words start with `first`, or nothing.
std::vector<std::string> line_words(const std::string& text, const std::vector<std::string>& first) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("hakmem: ", 0) != 0) continue;
    std::istringstream in(line.substr(8));
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.size() >= first.size() && std::equal(first.begin(), first.end(), words.begin())) return words;
  }
  return {};
}

// The integers among those words (commas dropped), in order.
std::vector<long long> line_numbers(const std::string& text, const std::vector<std::string>& first) {
  std::vector<long long> numbers;
  for (std::string w : line_words(text, first)) {
    if (!w.empty() && w.back() == ',') w.pop_back();
    if (!w.empty() && w.find_first_not_of("0123456789") == std::string::npos) numbers.push_back(std::stoll(w));
  }
  return numbers;
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
  EXPECT_EQ(line_words(s, {"stats", "of"}).size(), 4u) << "hakmem: stats of <variant> (HAKMEM_STATS)\n" << s;
  EXPECT_NE(s.find("(HAKMEM_STATS)"), std::string::npos) << s;
  EXPECT_NE(s.find("slow paths only"), std::string::npos) << s;
  EXPECT_NE(s.find("fast paths (tiny hits) count nothing"), std::string::npos) << "the output says the fast path is not counted\n" << s;
  // Rows: kind, class, size, refills, refilled, spilled, freed. The probe's
  // 5000 blocks of 64 B came in refills of class 3, and its 100 blocks of
  // 3000 B in batches of class 25 (3072 B) for the mid cache, which kept
  // them all when they were freed (100 blocks are 300 KiB, within its 1 MiB).
  const std::vector<long long> tiny = line_numbers(s, {"tiny", "3", "64"});
  ASSERT_EQ(tiny.size(), 6u) << s;
  EXPECT_GE(tiny[3], 5000) << "refilled 64 B blocks\n" << s;
  const std::vector<long long> mid = line_numbers(s, {"mid", "25", "3072"});
  ASSERT_EQ(mid.size(), 6u) << s;
  EXPECT_GE(mid[3], 100) << "3000 B blocks refilled\n" << s;
  EXPECT_LE(mid[2] * 10, mid[3]) << "in batches (21 blocks of 3072 B a slab)\n" << s;
  EXPECT_EQ(mid[4] + mid[5], 0) << "the mid cache kept every 3000 B block freed\n" << s;
  const std::vector<long long> superslabs = line_numbers(s, {"superslabs:"});
  ASSERT_EQ(superslabs.size(), 2u) << "superslabs: N mapped, M released\n" << s;
  EXPECT_GE(superslabs[0], 1) << s;
  const std::vector<long long> l25 = line_numbers(s, {"l25", "regions:"});
  ASSERT_GE(l25.size(), 2u) << "l25 regions: N mapped, M unmapped; ...\n" << s;
  EXPECT_GE(l25[0], 1) << "the probe's 1 MiB blocks came from a region\n" << s;
  const std::vector<long long> spans = line_numbers(s, {"l25", "spans:"});
  ASSERT_GE(spans.size(), 2u) << "l25 spans: N carved, M freed; ...\n" << s;
  EXPECT_GE(spans[0], 1) << s;
  // The probe's five 4 MiB blocks, one after another: the first is mapped,
  // the other four reuse its mapping from the large cache.
  const std::vector<long long> large = line_numbers(s, {"large", "blocks:"});
  ASSERT_EQ(large.size(), 4u) << "large blocks: N mapped, M unmapped; R resized in place, F resizes refused\n" << s;
  EXPECT_GE(large[0], 1) << s;
  const std::vector<long long> cache = line_numbers(s, {"large", "cache:"});
  ASSERT_EQ(cache.size(), 8u) << "large cache: B blocks, K KiB (bound L KiB); H hits, M misses, E evicted; "
                                  "P purged and X unmapped after the delay\n"
                               << s;
  EXPECT_GE(cache[3], 4) << "hits\n" << s;
  const std::vector<long long> peak = line_numbers(s, {"peak", "RSS:"});
  ASSERT_EQ(peak.size(), 1u) << "peak RSS: K KiB (VmHWM)\n" << s;
  EXPECT_GT(peak[0], 4096) << "the probe touched 4 MiB blocks\n" << s;
  EXPECT_NE(s.find("KiB (VmHWM)"), std::string::npos) << s;
  const std::vector<long long> calls = line_numbers(s, {"system", "calls:"});
  ASSERT_EQ(calls.size(), 4u) << "system calls: A mmap, B munmap, C madvise, D mremap\n" << s;
  EXPECT_NE(s.find(" mmap, "), std::string::npos) << s;
  EXPECT_NE(s.find(" madvise, "), std::string::npos) << s;
  EXPECT_NE(s.find(" mremap\n"), std::string::npos) << s;
  EXPECT_GE(calls[0], 2) << "mmap: a SuperSlab and a large block at least\n" << s;
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
