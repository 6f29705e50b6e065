// Every workload, run for real on every hakmem variant and glibc: the run
// validates its blocks, its operation counts add up, and a corrupted block
// (test-only hook) fails the run with a message naming workload and seed.
#include <gtest/gtest.h>

#include <tuple>

#include "harness/drivers.h"
#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;

const std::vector<std::string> kWorkloads = {"mixed_lifo", "random_free", "producer_consumer", "larson",
                                             "growth",     "mid_churn",   "phase_change"};

std::vector<std::string> tested_allocators() {
  std::vector<std::string> names;
  for (const AllocatorInfo& a : known_allocators())
    if (a.kind == "hakmem" || a.name == "glibc") names.push_back(a.name);
  return names;
}

ProcessResult run_driver(const std::string& binary, std::vector<std::string> args, std::vector<std::string> env = {}) {
  return run_runfile(binary, std::move(args), 300, env);
}

// Small enough for a test, large enough to exercise refills and spills.
std::vector<std::string> tiny(const std::string& workload, int threads) {
  std::vector<std::string> args = {"--workload=" + workload, "--threads=" + std::to_string(threads), "--smoke"};
  if (workload == "random_free") args.push_back("--slots=2000");
  if (workload == "larson") args.insert(args.end(), {"--slots=500", "--round-ops=5000"});
  if (workload == "growth") args.insert(args.end(), {"--high-water-mb=4", "--buffers=4", "--max-buffer-kb=256"});
  // Every size up to 2 MiB, over a smaller working set and fewer steps:
  // 4,000 steps are 8 rises and falls of about 250 steps each.
  if (workload == "mid_churn") args.insert(args.end(), {"--ops=4000", "--high-water-mb=8", "--low-water-mb=1"});
  if (workload == "phase_change")
    args.insert(args.end(), {"--ops=200000", "--ws-mb=2", "--idle-live-kb=64", "--idle-ms=30", "--burst-blocks=256"});
  return args;
}

class WorkloadTest : public testing::TestWithParam<std::tuple<std::string, std::string, int>> {};

TEST_P(WorkloadTest, ValidatesAndCountsAddUp) {
  const auto& [workload, allocator, threads] = GetParam();
  const AllocatorInfo* info = find_allocator(allocator);
  ASSERT_NE(info, nullptr);
  // hakmem runs under its full invariant checks (HAKMEM_DEBUG=2).
  std::vector<std::string> env;
  if (info->kind == "hakmem") env.push_back("HAKMEM_DEBUG=2");
  const ProcessResult r = run_driver(info->driver(), tiny(workload, threads), env);
  // bound serves one thread (producer_consumer always has two: a producer
  // and a consumer; larson starts a new thread every round), never
  // returns memory (growth measures that) and serves blocks up to 32 KiB
  // (mid_churn's start there).
  const bool bound_refuses =
      allocator == kBoundAllocator && (threads > 1 || workload == "producer_consumer" || workload == "larson" ||
                                       workload == "growth" || workload == "mid_churn" || workload == "phase_change");
  if (bound_refuses) {
    EXPECT_EQ(r.exit_code, 4) << r.stderr_tail;
    EXPECT_EQ(r.stderr_tail.rfind("refused: bound ", 0), 0u) << r.stderr_tail;
    return;
  }
  ASSERT_TRUE(r.ok()) << r.describe_failure() << "\n" << r.stderr_tail;
  const Json rec = Json::parse(r.stdout_text);
  const Json& c = rec["counts"];
  const uint64_t allocations = c["allocations"], frees = c["frees"], reallocs = c["reallocs"];
  const uint64_t prepared = c["prepare_allocations"], drained = c["drain_frees"];
  EXPECT_GT(allocations + reallocs, 0u);
  EXPECT_EQ(rec["ops"].get<uint64_t>(), allocations + frees + reallocs) << c.dump();
  EXPECT_EQ(prepared + allocations, frees + drained) << "every block allocated must be freed: " << c.dump();
  EXPECT_EQ(rec["validation"]["blocks_checked"].get<uint64_t>(), frees + drained) << "every freed block checked";
  if (workload == "growth" || workload == "mid_churn") {
    const Json& series = rec["rss_series"];
    ASSERT_GE(series["t_ms"].size(), 1u);
    EXPECT_EQ(series["t_ms"].size(), series["rss_bytes"].size());
    EXPECT_EQ(series["interval_ms"], 10);
    ASSERT_GE(series["phases"].size(), 2u);
    EXPECT_EQ(series["phases"][0]["name"], "rise");
    EXPECT_EQ(series["phases"][1]["name"], "fall");
    EXPECT_GT(reallocs, 0u) << workload << " reallocates blocks";
  } else if (workload == "phase_change") {
    std::vector<std::string> phases;
    for (const Json& p : rec["rss_series"]["phases"]) phases.push_back(p["name"]);
    EXPECT_EQ(phases, (std::vector<std::string>{"burst", "working_set", "idle", "idle_quiet", "handoff", "burst"}));
    const Json& marks = rec["rss_series"]["phases"];
    EXPECT_GE(marks[4]["t_ms"].get<double>() - marks[3]["t_ms"].get<double>(), 30) << "the idle phase's pause";
  } else {
    EXPECT_FALSE(rec.contains("rss_series")) << "only growth, mid_churn and phase_change sample RSS by default";
  }
  if (workload == "mid_churn") {
    EXPECT_GT(prepared, 0u) << "set-up fills the working set to its low water";
    EXPECT_EQ(rec["rss_series"]["phases"].size(), 8u) << "four rises and four falls";
    EXPECT_GT(frees, 0u);
  }
  if (workload == "producer_consumer") {
    EXPECT_EQ(rec["workers"], 2 * threads);
  }
}

std::vector<std::tuple<std::string, std::string, int>> all_cases() {
  std::vector<std::tuple<std::string, std::string, int>> cases;
  for (const std::string& w : kWorkloads)
    for (const std::string& a : tested_allocators())
      for (int t : {1, 2}) cases.emplace_back(w, a, t);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(All, WorkloadTest, testing::ValuesIn(all_cases()), [](const auto& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_t" + std::to_string(std::get<2>(info.param));
});

// mid_churn: the same seed makes the same requests, another seed others,
// and the working set really climbs to its high water (each block's pages
// are written, so RSS follows the live bytes).
ProcessResult mid_churn_on_glibc(const std::string& seed, const std::string& ops) {
  return run_driver("workloads/driver_glibc", {"--workload=mid_churn", "--ops=" + ops, "--seed=" + seed,
                                               "--high-water-mb=32", "--low-water-mb=4"});
}

TEST(MidChurn, TheSameSeedMakesTheSameRequests) {
  const ProcessResult a = mid_churn_on_glibc("9", "20000"), b = mid_churn_on_glibc("9", "20000"),
                      c = mid_churn_on_glibc("10", "20000");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.stderr_tail << b.stderr_tail << c.stderr_tail;
  const Json counts_a = Json::parse(a.stdout_text)["counts"];
  EXPECT_EQ(counts_a, Json::parse(b.stdout_text)["counts"]);
  EXPECT_NE(counts_a, Json::parse(c.stdout_text)["counts"]) << "another seed, other sizes, other steps";
}

TEST(MidChurn, TheWorkingSetRisesToItsHighWater) {
  const ProcessResult r = mid_churn_on_glibc("42", "20000");
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const Json rec = Json::parse(r.stdout_text);
  EXPECT_GE(rec["peak_rss_bytes"].get<int64_t>(), 24 << 20) << "live bytes reach 32 MiB at each top";
  EXPECT_GE(rec["peak_rss_bytes"].get<int64_t>() - rec["rss_start_bytes"].get<int64_t>(), 16 << 20)
      << "from 4 MiB after the set-up";
}

// phase_change: the same seed makes the same requests, and a live set
// larger than the working set it is left from is a one-line error.
TEST(PhaseChange, TheSameSeedMakesTheSameRequestsAndABadLiveSetIsRefused) {
  const auto run = [](const std::string& seed) {
    return run_driver("workloads/driver_glibc", {"--workload=phase_change", "--threads=2", "--ops=100000",
                                                 "--ws-mb=2", "--idle-ms=0", "--seed=" + seed});
  };
  const ProcessResult a = run("9"), b = run("9"), c = run("10");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.stderr_tail << b.stderr_tail << c.stderr_tail;
  const Json counts_a = Json::parse(a.stdout_text)["counts"];
  EXPECT_EQ(counts_a, Json::parse(b.stdout_text)["counts"]);
  EXPECT_NE(counts_a, Json::parse(c.stdout_text)["counts"]) << "another seed, other sizes";
  const ProcessResult bad =
      run_driver("workloads/driver_glibc", {"--workload=phase_change", "--ws-mb=1", "--idle-live-kb=2048"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.stderr_tail.find("--idle_live_kb (2048) is above --ws_mb (1 MiB)"), std::string::npos)
      << bad.stderr_tail;
}

class CorruptionTest : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(CorruptionTest, ACorruptedBlockFailsTheRunNamingWorkloadAndSeed) {
  const auto& [workload, allocator] = GetParam();
  std::vector<std::string> args = tiny(workload, 1);
  args.push_back("--seed=7");
  args.push_back("--inject-fault=corrupt");
  const ProcessResult r = run_driver("workloads/hooked_driver_" + allocator, args);
  EXPECT_EQ(r.exit_code, 3) << r.describe_failure();
  const std::string expected = "error: " + workload + " on " + allocator + " (seed 7, threads 1): block ";
  EXPECT_EQ(r.stderr_tail.rfind(expected, 0), 0u) << r.stderr_tail;
  EXPECT_NE(r.stderr_tail.find("was corrupted while live"), std::string::npos) << r.stderr_tail;
  // No record: the status line alone, saying what the harness must know.
  const Json line = Json::parse(r.stdout_text);
  EXPECT_EQ(line["status"], "validation_failed") << r.stdout_text;
  EXPECT_EQ("error: " + line["reason"].get<std::string>() + "\n", r.stderr_tail);
}

TEST(Corruption, WithoutTheHookTheSameRunPasses) {
  const ProcessResult r = run_driver("workloads/hooked_driver_glibc", tiny("mixed_lifo", 1));
  EXPECT_TRUE(r.ok()) << r.describe_failure();
}

INSTANTIATE_TEST_SUITE_P(Hooked, CorruptionTest,
                         testing::Combine(testing::ValuesIn(kWorkloads), testing::Values("ultra_simple", "glibc")),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

// Remote frees must neither leak nor pile up: two producers and two
// consumers running ten times longer keep the same footprint, and give it
// back once every block is freed.
//
// "Given back" is read after a settle step, not right after the drain:
// slabs freed within the purge delay (HAKMEM_PURGE_DELAY_MS) are still
// resident at the drain by design, so that reading was the run's whole
// footprint, not what it leaked: 4.5-7.5 MiB above the start, as the
// scheduling of the four threads let more or fewer slabs be in flight,
// and 8.03 MiB once, past the 8 MiB bound it had then. After
// the settle step's second of requests everything freed is past the delay:
// 1.0-1.2 MiB stays (the driver's own blocks, the front-end caches), up to
// 2.6 MiB on hot_mag in 5 of 90 runs under bazel's parallel test runs (not
// a late purge: a 600 ms delay leaves the same 1.1 MiB; not found yet). So
// the bound is 4 MiB: above that residue, and below every footprint the
// drain held (4.5-7.5 MiB), so slabs that remote frees failed to send home
// still fail it, and a leak that grows with the work fails the peak check.
class RemoteFreeTest : public testing::TestWithParam<std::string> {};

TEST_P(RemoteFreeTest, ProducerConsumerRssIsFlatOverTenTimesTheWork) {
  const std::string driver = "workloads/driver_" + GetParam();
  const auto peak = [&](const char* ops) {
    const ProcessResult r = run_driver(driver, {"--workload=producer_consumer", "--producers=2", "--consumers=2",
                                                "--ops=" + std::string(ops), "--settle-ms=1000"});
    EXPECT_TRUE(r.ok()) << r.describe_failure();
    const Json rec = Json::parse(r.stdout_text);
    EXPECT_LT(rec["rss_after_settle_bytes"].get<int64_t>() - rec["rss_start_bytes"].get<int64_t>(), 4 << 20)
        << "memory held a purge delay after every block was freed and every thread exited (" << ops
        << " ops; after the drain: " << rec["rss_after_drain_bytes"].get<int64_t>() - rec["rss_start_bytes"].get<int64_t>()
        << " bytes above the start)";
    return rec["peak_rss_bytes"].get<int64_t>();
  };
  const int64_t short_run = peak("1000000");
  const int64_t long_run = peak("10000000");
  EXPECT_LT(long_run, short_run + short_run / 4 + (2 << 20))
      << "peak RSS grew from " << short_run << " to " << long_run << " bytes with 10x the work";
}

std::vector<std::string> multi_thread_variants() {
  std::vector<std::string> names;
  for (const AllocatorInfo& a : known_allocators())
    if (a.kind == "hakmem" && a.name != kBoundAllocator) names.push_back(a.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Variants, RemoteFreeTest, testing::ValuesIn(multi_thread_variants()),
                         [](const auto& info) { return info.param; });

// Issue 12: after growth's drain, RSS is back near the start once the purge
// delay has passed, as long as the program goes on calling now and then
// (the settle step's requests, every one of them a cache hit): the
// process-wide purge check must still run. Before it, every variant kept
// all it had freed (growth at 16 MiB: about 20 MiB above the start).
class MemoryReturnTest : public testing::TestWithParam<std::string> {};

TEST_P(MemoryReturnTest, GrowthGivesItsMemoryBackDuringTheSettleStep) {
  for (const char* threads : {"--threads=1", "--threads=2"}) {
    const ProcessResult r = run_driver("workloads/driver_" + GetParam(),
                                       {"--workload=growth", "--high-water-mb=16", "--ops=100000", threads});
    ASSERT_TRUE(r.ok()) << r.describe_failure();
    const Json rec = Json::parse(r.stdout_text);
    ASSERT_EQ(rec["settle_ms"], 1000);
    const int64_t peak_above = rec["peak_rss_bytes"].get<int64_t>() - rec["rss_start_bytes"].get<int64_t>();
    const int64_t kept = rec["rss_after_settle_bytes"].get<int64_t>() - rec["rss_start_bytes"].get<int64_t>();
    EXPECT_GT(peak_above, 12 << 20) << threads << ": the working set was resident at its peak";
    EXPECT_LT(kept, 2 << 20) << threads << ": bytes still resident after the settle step, above the start";
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MemoryReturnTest, testing::ValuesIn(multi_thread_variants()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace lab
