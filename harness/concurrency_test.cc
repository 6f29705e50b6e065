// The cross-thread workloads (producer_consumer: every free is remote;
// larson: threads keep exiting while others hold their blocks) on every
// multi-thread hakmem variant. Built with --config=tsan this is the
// ThreadSanitizer run: any report makes the driver exit non-zero (66).
#include <gtest/gtest.h>

#include "harness/drivers.h"
#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;

class ConcurrencyTest : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ConcurrencyTest, RunsCleanAcrossThreads) {
  const auto& [workload, variant] = GetParam();
  std::vector<std::string> args = {"--workload=" + workload, "--threads=2", "--ops=200000"};
  if (workload == "larson") args.insert(args.end(), {"--slots=1000", "--round-ops=10000"});
  const ProcessResult r = run_runfile("workloads/driver_" + variant, args, 600, {"TSAN_OPTIONS=halt_on_error=1"});
  EXPECT_TRUE(r.ok()) << r.describe_failure() << "\n" << r.stderr_tail;
  EXPECT_EQ(r.stderr_tail.find("ThreadSanitizer"), std::string::npos) << r.stderr_tail;
}

std::vector<std::string> multi_thread_variants() {
  std::vector<std::string> names;
  for (const AllocatorInfo& a : known_allocators())
    if (a.kind == "hakmem" && a.name != kBoundAllocator) names.push_back(a.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(CrossThread, ConcurrencyTest,
                         testing::Combine(testing::Values("producer_consumer", "larson"),
                                          testing::ValuesIn(multi_thread_variants())),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

}  // namespace
}  // namespace lab
