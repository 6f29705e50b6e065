// Every driver, run for real: the record's fields and types, that each peer
// really is the allocator in use, validation under hakmem's invariant
// checks, and one-line errors for bad flags.
#include <gtest/gtest.h>

#include <tuple>

#include "common/process.h"
#include "common/sanitizer.h"
#include "harness/drivers.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;

class DriverTest : public testing::TestWithParam<AllocatorInfo> {
 protected:
  void SetUp() override {
    if (kUnderSanitizer && GetParam().kind == "system")
      GTEST_SKIP() << "under a sanitizer the peer drivers run the sanitizer's malloc, not the peer";
  }
  // bound, the speed-of-light reference, serves one thread only.
  std::string threads(int wanted) const {
    return "--threads=" + std::to_string(GetParam().name == kBoundAllocator ? 1 : wanted);
  }
  ProcessResult run(std::vector<std::string> args, std::vector<std::string> env = {}) const {
    return run_runfile(GetParam().driver(), std::move(args), 120, env);
  }
};

TEST_P(DriverTest, SmokeRunPrintsACompleteRecord) {
  const ProcessResult r = run({"--workload=mixed_lifo", "--smoke", threads(2)});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const Json rec = Json::parse(r.stdout_text);
  EXPECT_EQ(rec["record_version"], 2);
  EXPECT_EQ(rec["status"], "ok");
  // The record type reads everything the driver wrote and writes it back unchanged.
  EXPECT_EQ(Json(rec.get<RunRecord>()), rec);
  for (const char* key : {"major_faults", "voluntary_context_switches"}) {
    ASSERT_TRUE(rec[key].is_number_integer()) << key;
    EXPECT_GE(rec[key].get<int64_t>(), 0) << key;
  }
  EXPECT_EQ(rec["allocator"], GetParam().name);
  EXPECT_EQ(rec["allocator_kind"], GetParam().kind);
  EXPECT_EQ(rec["workload"], "mixed_lifo");
  EXPECT_EQ(rec["threads"], GetParam().name == kBoundAllocator ? 1 : 2);
  EXPECT_GT(rec["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(rec["validation"]["blocks_checked"].get<uint64_t>() * 2, rec["ops"].get<uint64_t>())
      << "mixed_lifo frees (and checks) every block it allocates";
  for (const char* key : {"seconds", "ops_per_sec", "cpu_seconds", "ops_per_cpu_second"}) {
    ASSERT_TRUE(rec[key].is_number()) << key;
    EXPECT_GT(rec[key].get<double>(), 0) << key;
  }
  for (const char* key : {"peak_rss_bytes", "rss_start_bytes", "rss_end_bytes", "rss_after_drain_bytes"}) {
    ASSERT_TRUE(rec[key].is_number_integer()) << key;
    EXPECT_GT(rec[key].get<int64_t>(), 0) << key;
  }
  EXPECT_EQ(rec["settle_ms"], 0) << "mixed_lifo does not measure memory return: no settle step by default";
  EXPECT_TRUE(rec["rss_after_settle_bytes"].is_null());
  for (const char* counter : {"instructions", "cycles", "cache_misses", "branch_misses", "page_faults",
                              "minor_faults", "context_switches", "cpu_clock_ns"}) {
    const Json& c = rec["counters"][counter];
    ASSERT_TRUE(c.contains("value")) << counter;
    if (c["value"].is_null()) {
      EXPECT_FALSE(c["reason"].get<std::string>().empty()) << counter << ": null needs a reason";
    } else {
      EXPECT_TRUE(c["value"].is_number()) << counter;
    }
  }
  EXPECT_TRUE(rec["counters"]["page_faults"]["value"].is_number()) << "software counters work without a PMU";
  // System calls: hakmem's own count, or null with the reason.
  const Json& calls = rec["syscalls"];
  if (GetParam().kind == "hakmem") {
    for (const char* kind : {"mmap", "munmap", "madvise", "mremap"}) {
      ASSERT_TRUE(calls["timed"][kind].is_number_unsigned()) << kind << ": " << calls.dump();
      EXPECT_LE(calls["timed"][kind].get<uint64_t>(), calls["process"][kind].get<uint64_t>()) << kind;
    }
    EXPECT_GE(calls["process"]["mmap"].get<uint64_t>(), 1u) << "the blocks came from somewhere: " << calls.dump();
    EXPECT_FALSE(calls.contains("reason"));
  } else {
    EXPECT_EQ(calls, Json::parse(R"({"timed": null, "process": null, "reason": "not counted: not hakmem"})"));
  }
  EXPECT_FALSE(rec["thp"]["enabled"].get<std::string>().empty());
  ASSERT_TRUE(rec["cpus"].is_array());
  EXPECT_EQ(rec["cpus"].get<std::vector<int>>(), allowed_cpus()) << "no --cpus: every CPU this process may use";
}

// The settle step: the process stays alive (making small requests) for
// --settle-ms after the drain, then reads RSS; its length is recorded, and
// the RSS series runs on to its end.
TEST_P(DriverTest, TheSettleStepRecordsRssAfterIt) {
  if (GetParam().name == kBoundAllocator) GTEST_SKIP() << "bound refuses a settle step (OnlyBoundRefuses... below)";
  const ProcessResult r =
      run({"--workload=mixed_lifo", "--smoke", "--settle-ms=60", "--rss-sample-ms=10", threads(2)});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const Json rec = Json::parse(r.stdout_text);
  EXPECT_EQ(rec["settle_ms"], 60);
  ASSERT_TRUE(rec["rss_after_settle_bytes"].is_number_integer()) << rec["rss_after_settle_bytes"];
  EXPECT_GT(rec["rss_after_settle_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(Json(rec.get<RunRecord>()), rec);
  const Json& series = rec["rss_series"];
  EXPECT_GE(series["settle_end_ms"].get<double>() - series["drain_end_ms"].get<double>(), 60.0)
      << "the step lasts as long as asked";
  EXPECT_GE(series["t_ms"].back().get<double>(), series["settle_end_ms"].get<double>() - 20)
      << "RSS is sampled through the step";
}

// Workloads that measure memory return settle 1 s unless told otherwise;
// the rest do not settle (the default comparison stays as long).
TEST_P(DriverTest, OnlyMemoryReturnWorkloadsSettleByDefault) {
  const auto settle_of = [&](const char* workload, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {std::string("--workload=") + workload, "--dry-run"};
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = run(args);
    EXPECT_TRUE(r.ok()) << r.describe_failure();
    return Json::parse(r.stdout_text)["settle_ms"];
  };
  if (GetParam().name != kBoundAllocator) {  // bound refuses both (it never returns memory)
    EXPECT_EQ(settle_of("growth"), 1000);
    EXPECT_EQ(settle_of("mid_churn"), 1000);
    EXPECT_EQ(settle_of("growth", {"--settle-ms=0"}), 0);
  }
  EXPECT_EQ(settle_of("mixed_lifo"), 0);
  if (GetParam().name != kBoundAllocator) EXPECT_EQ(settle_of("random_free", {"--settle-ms=200"}), 200);
}

TEST_P(DriverTest, CpusFlagKeepsEveryThreadOnTheFirstCpus) {
  if (GetParam().name == kBoundAllocator) GTEST_SKIP() << "bound refuses producer_consumer";
  const ProcessResult r = run({"--workload=producer_consumer", "--smoke", "--cpus=1", "--threads=2"});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const Json rec = Json::parse(r.stdout_text);
  EXPECT_EQ(rec["cpus"].get<std::vector<int>>(), std::vector<int>{allowed_cpus().front()});
  EXPECT_EQ(rec["validation"]["blocks_checked"].get<uint64_t>() * 2, rec["ops"].get<uint64_t>());
}

TEST_P(DriverTest, ThePeerReallyIsTheAllocatorInUse) {
  const ProcessResult r = run({"--workload=mixed_lifo", "--smoke"});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const std::string provider = Json::parse(r.stdout_text)["malloc_provider"];
  const std::string& name = GetParam().name;
  const std::string expected = GetParam().kind == "hakmem" ? "hakmem:" + name
                               : name == "glibc"            ? "libc.so"
                               : name == "tcmalloc"         ? "libtcmalloc"
                                                            : "lib" + name;
  EXPECT_NE(provider.find(expected), std::string::npos) << name << " driver's malloc comes from " << provider;
}

TEST_P(DriverTest, SameSeedSameWork) {
  const ProcessResult a = run({"--workload=mixed_lifo", "--smoke", "--seed=9"});
  const ProcessResult b = run({"--workload=mixed_lifo", "--smoke", "--seed=9"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Json::parse(a.stdout_text)["ops"], Json::parse(b.stdout_text)["ops"]);
}

TEST_P(DriverTest, HakmemPassesUnderFullInvariantChecks) {
  if (GetParam().kind != "hakmem") GTEST_SKIP() << "HAKMEM_DEBUG applies to hakmem variants";
  const ProcessResult r = run({"--workload=mixed_lifo", "--ops=400000", threads(2)}, {"HAKMEM_DEBUG=2"});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
}

// One call in N of each kind is timed, in the timed region only, and the
// percentiles come out ordered, calibrated and backed by a curve.
TEST_P(DriverTest, OneCallInNIsTimedIntoOrderedPercentiles) {
  const ProcessResult r = run({"--workload=mixed_lifo", "--ops=400000", "--latency-sample=12", threads(2)});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const Json rec = Json::parse(r.stdout_text);
  ASSERT_TRUE(rec.contains("latency")) << r.stdout_text.substr(0, 400);
  const RunRecord record = rec.get<RunRecord>();
  ASSERT_TRUE(record.latency);
  const RunLatency& l = *record.latency;
  EXPECT_EQ(l.method, "rdtscp; lfence");
  EXPECT_EQ(l.sample_every, 16u) << "12 rounded up to a power of two";
  EXPECT_GT(l.tsc_ticks_per_ns, 0.1);
  EXPECT_NEAR(static_cast<double>(l.calibration_ns), record.seconds * 1e9, record.seconds * 1e9 * 0.05 + 1e5)
      << "calibrated over the timed region";
  EXPECT_GT(l.timer_floor_ns, 0);
  for (const auto& [name, op, calls] : {std::tuple{"malloc", l.malloc, record.counts.allocations},
                                       std::tuple{"free", l.free, record.counts.frees}}) {
    // One call in each window of 16 steps: calls / 16, to within a call per
    // worker and batch edge (the untimed set-up and drain are not sampled).
    EXPECT_NEAR(static_cast<double>(op.samples), static_cast<double>(calls) / 16, static_cast<double>(calls) / 400)
        << name;
    EXPECT_GT(op.p50_ns, 0) << name;
    EXPECT_LE(op.p50_ns, op.p90_ns) << name;
    EXPECT_LE(op.p90_ns, op.p99_ns) << name;
    EXPECT_LE(op.p99_ns, op.p99_9_ns) << name;
    EXPECT_LE(op.p99_9_ns, op.p99_99_ns) << name;
    EXPECT_LE(op.p99_99_ns, op.max_ns) << name;
    EXPECT_LE(op.over_10us, op.samples) << name;
    ASSERT_GE(op.curve.size(), 2u) << name;
    EXPECT_EQ(op.curve.front()[0], 0) << name;
    EXPECT_EQ(op.curve.back()[0], 100) << name;
    EXPECT_EQ(op.curve.back()[1], op.max_ns) << name;
    for (size_t i = 1; i < op.curve.size(); ++i) {
      EXPECT_GT(op.curve[i][0], op.curve[i - 1][0]) << name;
      EXPECT_GE(op.curve[i][1], op.curve[i - 1][1]) << name;
    }
  }
}

// soak under --smoke: a second of its schedule, paced, with the bytes it
// holds beside every RSS sample, and every block freed by the drain.
TEST_P(DriverTest, TheSoakSamplesLiveBytesBesideRss) {
  if (GetParam().name == kBoundAllocator) GTEST_SKIP() << "bound serves one size range and one thread";
  const ProcessResult r = run({"--workload=soak", "--smoke", "--rss-sample-ms=20", "--population=500", threads(2)});
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  const RunRecord rec = Json::parse(r.stdout_text).get<RunRecord>();
  EXPECT_GE(rec.seconds, 0.95) << "100 ticks of 10 ms, paced by the clock";
  ASSERT_TRUE(rec.rss_series);
  const Json& series = *rec.rss_series;
  ASSERT_TRUE(series.contains("live_bytes"));
  ASSERT_EQ(series["live_bytes"].size(), series["rss_bytes"].size());
  int positive = 0;
  for (const Json& live : series["live_bytes"]) positive += live.is_number() && live.get<int64_t>() > 0;
  EXPECT_GT(positive, 10);
  EXPECT_EQ(rec.counts.prepare_allocations + rec.counts.allocations, rec.counts.frees + rec.counts.drain_frees)
      << "every block freed";
  EXPECT_EQ(rec.blocks_checked, rec.counts.frees + rec.counts.drain_frees);
  const auto ratio = find_run_metric("frag_final_ratio")->of(rec);
  ASSERT_TRUE(ratio);
  EXPECT_GT(*ratio, 0.5) << "RSS holds at least about what is live";
  EXPECT_TRUE(find_run_metric("frag_slope_per_min")->of(rec));
}

TEST_P(DriverTest, BadFlagsGetOneLineErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "--workload is required"},
      {{"--workload=nope"}, "unknown workload 'nope' (known: mixed_lifo"},
      {{"--workload=mixed_lifo", "--ops=0"}, "--ops must be an integer"},
      {{"--workload=mixed_lifo", "--ops=-5"}, "--ops must be an integer"},
      {{"--workload=mixed_lifo", "--min-size=0"}, "--min_size must be an integer"},
      {{"--workload=mixed_lifo", "--max-size=abc"}, "got 'abc'"},
      {{"--workload=mixed_lifo", "--min-size=900", "--max-size=100"}, "--min_size (900) is above --max_size (100)"},
      {{"--workload=mixed_lifo", "--bogus=1"}, "unknown flag --bogus"},
      {{"--workload=mid_churn", "--low-water-mb=64"}, "--low_water_mb (64) must be below --high_water_mb (64)"},
      {{"--workload=mixed_lifo", "--cpus=-1"}, "--cpus must be an integer"},
      {{"--workload=mixed_lifo", "--cpus=1024"}, "--cpus=1024: cannot run on 1024 CPUs: this process may use"},
      {{"--workload=mixed_lifo", "--latency-sample=0"}, "--latency_sample must be an integer in [1, "},
      {{"--workload=soak", "--ops=5000"}, "--ops does not apply to soak: its length is --minutes"},
      {{"--workload=soak", "--minutes=0"}, "--minutes must be an integer in [1, 1440]"},
      {{"--workload=soak", "--burst-hold-ms=6000"}, "--burst_hold_ms (6000) must be below --burst_every_ms (5000)"},
      {{"--workload=mixed_lifo", "--latency-sample=-3"}, "--latency_sample must be an integer in [1, "},
      {{"--workload=mixed_lifo", "--inject-fault=explode"}, "--inject_fault must be crash, hang or corrupt"},
      {{"--workload=mixed_lifo", "--inject-fault=corrupt"}, "--inject_fault=corrupt needs a test-hooked driver"},
  };
  for (const auto& [args, message] : cases) {
    const ProcessResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_NE(r.stderr_tail.find(message), std::string::npos) << "stderr: " << r.stderr_tail;
    EXPECT_EQ(std::count(r.stderr_tail.begin(), r.stderr_tail.end(), '\n'), 1) << r.stderr_tail;
    // The harness reads the same message from the status line, not stderr.
    const DriverOutcome o = driver_outcome(r);
    EXPECT_EQ(o.kind, DriverOutcome::Kind::kBadFlags) << message;
    EXPECT_NE(o.reason.find(message), std::string::npos) << o.reason;
  }
}

TEST_P(DriverTest, OnlyBoundRefusesRunsOutsideItsLimits) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--threads=2"}, "refused: bound serves one thread only; this run has 2 worker threads"},
      {{"--max-size=40000"}, "refused: bound serves blocks up to 32768 bytes; this run asks for up to 40000"},
      {{"--workload=larson"}, "refused: bound serves one thread only; this workload allocates from a new thread every round"},
      {{"--settle-ms=20"}, "refused: bound never returns memory, and --settle-ms asks what memory it returned"},
  };
  for (auto [args, message] : cases) {
    if (args[0].rfind("--workload", 0) != 0) args.push_back("--workload=mixed_lifo");
    args.push_back("--smoke");
    const ProcessResult r = run(args);
    if (GetParam().name == kBoundAllocator) {
      EXPECT_EQ(r.exit_code, 4) << message;
      EXPECT_EQ(r.stderr_tail, message + "\n");
      const DriverOutcome o = driver_outcome(r);
      EXPECT_EQ(o.kind, DriverOutcome::Kind::kRefused);
      EXPECT_EQ("refused: " + o.reason, message);
    } else {
      EXPECT_TRUE(r.ok()) << r.describe_failure();
    }
  }
}

TEST_P(DriverTest, HelpAndList) {
  const ProcessResult help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.stdout_text.find("--workload=NAME"), std::string::npos);
  EXPECT_NE(help.stdout_text.find("mixed_lifo"), std::string::npos);
  const ProcessResult list = run({"--list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_EQ(list.stdout_text.rfind("mixed_lifo\t", 0), 0u);
}

// The driver protocol (workloads/support/protocol.h): every outcome is
// recognised from the exit code and the status line, never from stderr,
// which these tests blank out before reading the outcome.
ProcessResult without_stderr(ProcessResult r) {
  r.stderr_tail.clear();
  return r;
}

TEST(DriverProtocol, RefusedBadFlagsCorruptedAndCrashedRunsAreToldApart) {
  const DriverOutcome refused = driver_outcome(
      without_stderr(run_runfile("workloads/driver_bound", {"--workload=mixed_lifo", "--smoke", "--threads=2"}, 60)));
  EXPECT_EQ(refused.kind, DriverOutcome::Kind::kRefused);
  EXPECT_EQ(refused.reason, "bound serves one thread only; this run has 2 worker threads");

  const DriverOutcome bad = driver_outcome(
      without_stderr(run_runfile("workloads/driver_glibc", {"--workload=mixed_lifo", "--bogus"}, 60)));
  EXPECT_EQ(bad.kind, DriverOutcome::Kind::kBadFlags);
  EXPECT_EQ(bad.reason, "unknown flag --bogus for workload mixed_lifo");

  const DriverOutcome corrupt = driver_outcome(without_stderr(run_runfile(
      "workloads/hooked_driver_ultra_simple", {"--workload=mixed_lifo", "--smoke", "--inject-fault=corrupt"}, 60)));
  EXPECT_EQ(corrupt.kind, DriverOutcome::Kind::kValidationFailed);
  EXPECT_NE(corrupt.reason.find("was corrupted while live"), std::string::npos) << corrupt.reason;
  EXPECT_EQ(corrupt.reason.rfind("mixed_lifo on ultra_simple (seed 42", 0), 0u) << corrupt.reason;

  const DriverOutcome crash = driver_outcome(without_stderr(
      run_runfile("workloads/driver_glibc", {"--workload=mixed_lifo", "--smoke", "--inject-fault=crash"}, 60)));
  EXPECT_EQ(crash.kind, DriverOutcome::Kind::kFailed);
  EXPECT_EQ(crash.reason, "killed by signal 11 (Segmentation fault)");

  const DriverOutcome ok =
      driver_outcome(without_stderr(run_runfile("workloads/driver_glibc", {"--workload=mixed_lifo", "--smoke"}, 60)));
  ASSERT_EQ(ok.kind, DriverOutcome::Kind::kOk) << ok.reason;
  EXPECT_EQ(ok.line.get<RunRecord>().allocator, "glibc");
}

TEST(DriverProtocol, AStatusLineThatDisagreesWithTheExitCodeIsAFailure) {
  ProcessResult r;
  r.started = true;
  r.exit_code = 0;
  r.stdout_text = status_line(DriverStatus::kRefused, "no") + "\n";
  const DriverOutcome o = driver_outcome(r);
  EXPECT_EQ(o.kind, DriverOutcome::Kind::kFailed);
  EXPECT_EQ(o.reason, "status \"refused\" with exit code 0 (the protocol says 4)");
  r.stdout_text = "half a reco";
  EXPECT_EQ(driver_outcome(r).kind, DriverOutcome::Kind::kFailed);
  EXPECT_NE(driver_outcome(r).reason.find("not JSON"), std::string::npos);
}

// Preload mode: the glibc driver under LD_PRELOAD speaks for the library,
// and refuses to when the library did not take malloc over.
TEST(DriverPreload, TheRecordIsThePreloadedLibrarys) {
  if (kUnderSanitizer) GTEST_SKIP() << "a sanitizer's malloc cannot be preloaded over";
  const std::string jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  const DriverOutcome ok = driver_outcome(run_runfile("workloads/driver_glibc",
                                                      {"--workload=mixed_lifo", "--smoke", "--preloaded=jemalloc"},
                                                      60, {"LD_PRELOAD=" + jemalloc}));
  ASSERT_EQ(ok.kind, DriverOutcome::Kind::kOk) << ok.reason;
  const RunRecord r = ok.line.get<RunRecord>();
  EXPECT_EQ(r.allocator, "jemalloc");
  EXPECT_EQ(r.allocator_kind, "system");
  EXPECT_EQ(r.mode, "preload");
  EXPECT_EQ(r.malloc_provider, jemalloc);

  const DriverOutcome nothing = driver_outcome(
      run_runfile("workloads/driver_glibc", {"--workload=mixed_lifo", "--smoke", "--preloaded=jemalloc"}, 60));
  EXPECT_EQ(nothing.kind, DriverOutcome::Kind::kBadFlags);
  EXPECT_EQ(nothing.reason,
            "--preloaded=jemalloc, but malloc comes from /lib/x86_64-linux-gnu/libc.so.6: nothing was preloaded");

  const DriverOutcome linked = driver_outcome(run_runfile(
      "workloads/driver_ultra_simple", {"--workload=mixed_lifo", "--smoke", "--preloaded=jemalloc"}, 60));
  EXPECT_EQ(linked.kind, DriverOutcome::Kind::kBadFlags);
  EXPECT_NE(linked.reason.find("needs the glibc-linked driver"), std::string::npos) << linked.reason;

  const DriverOutcome plain =
      driver_outcome(run_runfile("workloads/driver_glibc", {"--workload=mixed_lifo", "--smoke"}, 60));
  EXPECT_EQ(plain.line.get<RunRecord>().mode, "linked");
}

// A preloaded hakmem library's system calls reach the record through
// hak_syscall_counts (dlsym): over the timed region, and over the whole
// process, whose own allocations (flags, the record) went to hakmem too.
TEST(DriverPreload, AHakmemLibraryCountsItsSystemCalls) {
  if (kUnderSanitizer) GTEST_SKIP() << "a sanitizer's malloc cannot be preloaded over";
  const std::string library = testing_support::runfile("variants/libhakmem_ultra_simple.so");
  const DriverOutcome ok = driver_outcome(run_runfile(
      "workloads/driver_glibc",
      {"--workload=mid_churn", "--ops=2000", "--high-water-mb=8", "--low-water-mb=1", "--preloaded=ultra_simple"},
      60, {"LD_PRELOAD=" + library}));
  ASSERT_EQ(ok.kind, DriverOutcome::Kind::kOk) << ok.reason;
  const RunRecord r = ok.line.get<RunRecord>();
  EXPECT_EQ(r.allocator_kind, "hakmem");
  ASSERT_TRUE(r.syscalls && r.syscalls->timed && r.syscalls->process) << ok.line.dump();
  EXPECT_EQ(r.syscalls->reason, "");
  EXPECT_LT(r.syscalls->timed->mmap, r.syscalls->process->mmap)
      << "the timed region's calls are a difference, not the process's total";
  EXPECT_LE(r.syscalls->timed->total(), r.syscalls->process->total());
  EXPECT_TRUE(find_run_metric("syscalls_per_mop")->of(r)) << "a summarized metric";

  const DriverOutcome peer = driver_outcome(run_runfile(
      "workloads/driver_glibc", {"--workload=mixed_lifo", "--smoke", "--preloaded=jemalloc"}, 60,
      {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}));
  ASSERT_EQ(peer.kind, DriverOutcome::Kind::kOk) << peer.reason;
  const RunRecord p = peer.line.get<RunRecord>();
  ASSERT_TRUE(p.syscalls);
  EXPECT_FALSE(p.syscalls->timed);
  EXPECT_FALSE(p.syscalls->process);
  EXPECT_EQ(p.syscalls->reason, "not counted: not hakmem");
  EXPECT_FALSE(find_run_metric("syscalls_per_mop")->of(p));
}

INSTANTIATE_TEST_SUITE_P(AllDrivers, DriverTest, testing::ValuesIn(known_allocators()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
