// Thread teardown with a library preloaded (its first argument), issue 11
// defect 2: libc's own late frees (the strerror buffer) and a program's
// late mallocs (a key destructor after the allocator's) take no heap that
// is never given back. teardown_probe runs 100 threads one after another;
// the heaps active at the end are this thread's alone, at most three were
// ever made (this thread's, the one the others reuse in turn, the late
// heap), and the slabs in use do not grow with the threads.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/sanitizer.h"
#include "variants/preload/library_arg.h"
#include "variants/preload/spawn.h"

namespace {

using preload_test::library_under_test;

// The integers of the first line containing `label`, in order.
std::vector<long long> numbers_after(const std::string& text, const std::string& label) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t at = line.find(label);
    if (at == std::string::npos) continue;
    std::vector<long long> numbers;
    std::istringstream in(line.substr(at + label.size()));
    for (std::string w; in >> w;) {
      while (!w.empty() && (w.back() == ',' || w.back() == ';')) w.pop_back();
      if (!w.empty() && w.find_first_not_of("0123456789") == std::string::npos) numbers.push_back(std::stoll(w));
    }
    return numbers;
  }
  return {};
}

class Teardown : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (lab::kUnderSanitizer) GTEST_SKIP() << "under a sanitizer, its runtime is the malloc: nothing is preloaded";
  }
};

TEST_P(Teardown, HeapsAndSlabsStayBounded) {
  const preload_test::Outcome out =
      preload_test::run(preload_test::runfile("variants/preload/teardown_probe"), {GetParam()},
                        preload_test::preload_environment(library_under_test()));
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const std::vector<long long> slabs = numbers_after(out.output, "slabs in use:");
  ASSERT_EQ(slabs.size(), 2u) << out.output;
  EXPECT_LE(slabs[1] - slabs[0], 2) << "slabs must not grow with exited threads\n" << out.output;
  const std::vector<long long> heaps = numbers_after(out.output, "hakmem: heaps:");
  ASSERT_EQ(heaps.size(), 2u) << "hakmem: heaps: A active, M made\n" << out.output;
  EXPECT_EQ(heaps[0], 1) << "only the main thread's heap is active\n" << out.output;
  EXPECT_LE(heaps[1], 3) << out.output;
}

INSTANTIATE_TEST_SUITE_P(Probes, Teardown, testing::Values("strerror", "late_malloc"));

}  // namespace
