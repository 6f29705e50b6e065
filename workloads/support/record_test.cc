// The run record type: C++ -> JSON -> C++ loses nothing, keys it does not
// know survive, and an older record is written back as it was read.
#include "workloads/support/record.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

using Json = nlohmann::ordered_json;

RunRecord full_record() {
  RunRecord r;
  r.workload = "mixed_lifo";
  r.allocator = "ultra_simple";
  r.allocator_kind = "hakmem";
  r.malloc_provider = "hakmem:ultra_simple (linked, inline)";
  r.threads = 2;
  r.workers = 2;
  r.seed = 42;
  r.cpus = {0, 1};
  r.smoke = true;
  r.params = {{"batch", 100}};
  r.ops = 1000;
  r.seconds = 0.5;
  r.ops_per_sec = 2000;
  r.cpu_seconds = 0.25;
  r.ops_per_cpu_second = 4000;
  r.peak_rss_bytes = 1 << 22;
  r.peak_rss_scope = "timed_region_and_drain";
  r.rss_start_bytes = 1 << 20;
  r.rss_end_bytes = 1 << 21;
  r.rss_after_drain_bytes = 1 << 20;
  r.settle_ms = 1000;
  r.rss_after_settle_bytes = 3 << 18;
  r.major_faults = 3;
  r.voluntary_context_switches = 17;
  r.counters = {{"minor_faults", {{"value", 12}, {"scaled", false}}}, {"cycles", {{"value", nullptr}, {"reason", "no PMU"}}}};
  r.counts = {1, 2, 3, 4, 5};
  r.blocks_checked = 8;
  r.syscalls = RunSyscalls{SyscallTally{2, 3, 4, 1}, SyscallTally{20, 30, 40, 10}, ""};
  r.rss_series = Json{{"interval_ms", 10}, {"t_ms", {0.0, 10.0}}, {"rss_bytes", {1, 2}}};
  RunLearning l;
  l.mode = "on";
  l.interval_ms = 50;
  l.passes = 9;
  l.cpu_seconds = 0.002;
  l.trace = {{-3.5, "purge_delay_ms", -1, 250, 250, "start"}, {104.9, "tiny_cache", 5, 64, 128, "underflows and overflows"}};
  l.phases = Json::array({{{"name", "burst"}, {"t_ms", 0.5}}});
  r.learning = l;
  RunLatency lat;
  lat.method = "rdtscp; lfence";
  lat.sample_every = 1000;
  lat.tsc_ticks_per_ns = 2.5;
  lat.calibration_ns = 500'000'000;
  lat.calibration_ticks = 1'250'000'000;
  lat.timer_floor_ns = 12.5;
  lat.malloc = {1000, 20, 30, 400, 2000, 9000, 15000, 3, {{0, 18}, {36.9, 19}, {100, 15000}}};
  lat.free = {990, 15, 25, 300, 1500, 8000, 12000, 1, {{0, 14}, {100, 12000}}};
  r.latency = lat;
  r.build = {{"compiler", "gcc"}};
  r.thp = {{"enabled", "madvise"}};
  return r;
}

TEST(RunRecord, RoundTripsThroughJson) {
  const Json j = full_record();
  const RunRecord back = j.get<RunRecord>();
  EXPECT_EQ(Json(back), j);
  EXPECT_EQ(back.record_version, kRecordVersion);
  EXPECT_EQ(back.status, "ok");
  EXPECT_EQ(back.cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(back.counts.drain_frees, 5u);
  EXPECT_EQ(back.major_faults, 3);
  EXPECT_EQ(back.voluntary_context_switches, 17);
  EXPECT_EQ(back.counter("minor_faults"), 12);
  EXPECT_FALSE(back.counter("cycles")) << "a counter the machine lacks is null, never 0";
  EXPECT_TRUE(back.absent.empty());
}

TEST(RunRecord, SystemCallsAreCountsOrNullWithAReason) {
  const Json counted = full_record();
  EXPECT_EQ(counted["syscalls"],
            Json::parse(R"({"timed": {"mmap": 2, "munmap": 3, "madvise": 4, "mremap": 1},
                            "process": {"mmap": 20, "munmap": 30, "madvise": 40, "mremap": 10}})"));
  EXPECT_EQ(counted.get<RunRecord>().syscalls->process->madvise, 40u);

  RunRecord peer = full_record();
  peer.syscalls = RunSyscalls{std::nullopt, std::nullopt, "not counted: not hakmem"};
  const Json j = peer;
  EXPECT_EQ(j["syscalls"], Json::parse(R"({"timed": null, "process": null, "reason": "not counted: not hakmem"})"));
  const RunRecord back = j.get<RunRecord>();
  EXPECT_FALSE(back.syscalls->timed) << "not counted is null, never 0";
  EXPECT_EQ(back.syscalls->reason, "not counted: not hakmem");
  EXPECT_EQ(Json(back), j);

  Json older = full_record();
  older.erase("syscalls");
  const RunRecord read = older.get<RunRecord>();
  EXPECT_FALSE(read.syscalls);
  EXPECT_EQ(Json(read), older) << "a record from before the field is written back without it";

  Json wrong = full_record();
  wrong["syscalls"]["timed"] = 7;
  EXPECT_THROW(wrong.get<RunRecord>(), nlohmann::json::exception);
}

TEST(RunRecord, TheSettleStepIsItsLengthAndRssOrNoStepAtAll) {
  const Json settled = full_record();
  EXPECT_EQ(settled["settle_ms"], 1000);
  EXPECT_EQ(settled["rss_after_settle_bytes"], 3 << 18);
  EXPECT_EQ(settled.get<RunRecord>().rss_after_settle_bytes, 3 << 18);

  RunRecord unsettled = full_record();
  unsettled.settle_ms = 0;
  unsettled.rss_after_settle_bytes.reset();
  const Json j = unsettled;
  EXPECT_EQ(j["settle_ms"], 0);
  EXPECT_TRUE(j["rss_after_settle_bytes"].is_null()) << "no settle step: no RSS after it, never a copy of another";
  EXPECT_EQ(Json(j.get<RunRecord>()), j);
  EXPECT_FALSE(find_run_metric("rss_after_settle_bytes")->of(unsettled));

  Json older = full_record();
  older.erase("settle_ms");
  older.erase("rss_after_settle_bytes");
  const RunRecord read = older.get<RunRecord>();
  EXPECT_FALSE(read.settle_ms);
  EXPECT_TRUE(read.absent.empty()) << "a record from before the step is not missing a field";
  EXPECT_EQ(Json(read), older) << "and is written back without it";
}

TEST(RunRecord, KeysItDoesNotKnowAreKeptVerbatim) {
  Json j = full_record();
  j["from_a_newer_driver"] = {{"p99_ns", 120}, {"histogram", {1, 2, 3}}};
  const RunRecord back = j.get<RunRecord>();
  EXPECT_EQ(back.unknown["from_a_newer_driver"], j["from_a_newer_driver"]);
  EXPECT_EQ(Json(back), j);
}

TEST(RunRecord, AVersionOneRecordIsWrittenBackAsItWasRead) {
  Json j = full_record();
  for (const char* key : {"status", "major_faults", "voluntary_context_switches", "cpus", "counts", "record_version"})
    j.erase(key);
  const RunRecord back = j.get<RunRecord>();
  EXPECT_EQ(back.record_version, 1) << "records without record_version predate version 2";
  EXPECT_FALSE(back.major_faults);
  EXPECT_EQ(Json(back), j) << "no defaults appear for fields the record never had";
}

TEST(RunRecord, AProgramRunCarriesItsExitStatusAndOutputChecksum) {
  RunRecord r = full_record();
  r.exit_status = 0;
  r.output_checksum = "fnv1a64:0123456789abcdef";
  const Json j = r;
  EXPECT_EQ(j["exit_status"], 0);
  EXPECT_EQ(j["output_checksum"], "fnv1a64:0123456789abcdef");
  const RunRecord back = j.get<RunRecord>();
  EXPECT_EQ(back.exit_status, 0);
  EXPECT_EQ(back.output_checksum, "fnv1a64:0123456789abcdef");
  EXPECT_EQ(Json(back), j);
}

TEST(RunRecord, ADriverRecordHasNoProgramFields) {
  const Json j = full_record();
  EXPECT_FALSE(j.contains("exit_status"));
  EXPECT_FALSE(j.contains("output_checksum"));
  const RunRecord back = j.get<RunRecord>();
  EXPECT_FALSE(back.exit_status);
  EXPECT_TRUE(back.absent.empty()) << "optional fields are not missing fields";
}

// The learner's trace is a table with its columns named once; a row of
// another shape, or other columns, is an error, and a record without it
// (a peer's) has none.
TEST(RunRecord, TheLearningTraceIsATableOfDecisions) {
  const Json j = full_record();
  EXPECT_EQ(j["learning"]["columns"], (Json{"t_ms", "knob", "index", "old", "new", "signal"}));
  EXPECT_EQ(j["learning"]["trace"][1], (Json{104.9, "tiny_cache", 5, 64, 128, "underflows and overflows"}));
  EXPECT_FALSE(j["learning"].contains("error")) << "written only when frozen could not read its file";
  const RunRecord back = j.get<RunRecord>();
  ASSERT_TRUE(back.learning);
  EXPECT_EQ(back.learning->trace, full_record().learning->trace);
  EXPECT_EQ(back.learning->phases, full_record().learning->phases);
  Json bad = j;
  bad["learning"]["trace"][0] = Json{1.0, "x"};
  EXPECT_THROW(bad.get<RunRecord>(), nlohmann::json::exception);
  bad = j;
  bad["learning"]["columns"] = Json{"t", "knob", "index", "old", "new", "signal"};
  EXPECT_THROW(bad.get<RunRecord>(), nlohmann::json::exception);
  RunRecord peer = full_record();
  peer.learning.reset();
  EXPECT_FALSE(Json(peer).contains("learning"));
}

TEST(RunRecord, LatencyIsPercentilesPerKindOfCallWithItsCalibration) {
  const Json j = full_record();
  EXPECT_EQ(j["latency"]["calibration"]["clock"], "CLOCK_MONOTONIC");
  EXPECT_EQ(j["latency"]["malloc"]["p99_9_ns"], 2000);
  EXPECT_EQ(j["latency"]["free"]["curve"][1], (Json{100, 12000}));
  const RunRecord back = j.get<RunRecord>();
  ASSERT_TRUE(back.latency);
  EXPECT_EQ(*back.latency, *full_record().latency);
  Json bad = j;
  bad["latency"]["malloc"]["curve"][0] = Json{1.0};
  EXPECT_THROW(bad.get<RunRecord>(), nlohmann::json::exception);
  RunRecord program = full_record();
  program.latency.reset();
  EXPECT_FALSE(Json(program).contains("latency")) << "written only when sampled";
  const auto value = [&](const RunRecord& r, const char* name) { return find_run_metric(name)->of(r); };
  EXPECT_EQ(value(back, "malloc_p99_ns"), 400);
  EXPECT_EQ(value(back, "free_p99_99_ns"), 8000);
  EXPECT_EQ(value(back, "free_max_ns"), 12000);
  EXPECT_EQ(value(back, "malloc_over_10us"), 3);
  EXPECT_FALSE(value(program, "malloc_p50_ns")) << "no samples: no value, not 0";
}

TEST(RunRecord, AFieldOfTheWrongTypeIsAnError) {
  Json j = full_record();
  j["ops"] = "many";
  EXPECT_THROW(j.get<RunRecord>(), nlohmann::json::exception);
  EXPECT_THROW(Json::array().get<RunRecord>(), nlohmann::json::exception);
}

TEST(RunMetrics, EachMetricReadsItsField) {
  const RunRecord r = full_record();
  const auto value = [&](const char* name) { return find_run_metric(name)->of(r); };
  EXPECT_EQ(value("ops_per_sec"), 2000);
  EXPECT_EQ(value("cpu_share"), 0.5);
  EXPECT_EQ(value("peak_rss_bytes"), 1 << 22);
  EXPECT_EQ(value("rss_after_settle_bytes"), 3 << 18);
  EXPECT_EQ(value("minor_faults"), 12);
  EXPECT_EQ(value("major_faults"), 3);
  EXPECT_EQ(value("voluntary_context_switches"), 17);
  EXPECT_EQ(value("syscalls_per_mop"), 10 * 1e6 / 1000) << "10 calls in the timed region, 1000 ops";
  EXPECT_EQ(value("learner_cpu_share"), 0.002 / 0.25);
  EXPECT_EQ(value("learner_changes"), 1) << "one decision besides the start entry";
  EXPECT_FALSE(value("rss_idle_end_bytes")) << "no idle_quiet mark";
  RunRecord idle = full_record();
  idle.rss_series = Json{{"t_ms", {0.0, 10.0, 20.0, 30.0, 40.0}},
                         {"rss_bytes", {5 << 20, 9 << 20, 7 << 20, 6 << 20, 9 << 20}},
                         {"phases", {{{"name", "idle"}, {"t_ms", 5.0}}, {{"name", "idle_quiet"}, {"t_ms", 8.0}},
                                     {{"name", "handoff"}, {"t_ms", 35.0}}}}};
  EXPECT_EQ(find_run_metric("rss_idle_end_bytes")->of(idle), (6 << 20) - (1 << 20))
      << "the sample at 30 ms, the last before the handoff, over rss_start_bytes";
  // rss_series: 1 then 2 bytes over 10 ms, 1.5 bytes on average.
  EXPECT_DOUBLE_EQ(*value("rss_integral_mib_s"), 0.010 * 1.5 / (1 << 20));
  EXPECT_EQ(find_run_metric("no_such_metric"), nullptr);
  RunRecord old;
  EXPECT_FALSE(find_run_metric("major_faults")->of(old)) << "a record without the metric has no value, not 0";
  RunRecord peer = full_record();
  peer.syscalls = RunSyscalls{std::nullopt, std::nullopt, "not counted: not hakmem"};
  EXPECT_FALSE(find_run_metric("syscalls_per_mop")->of(peer)) << "not counted: no value, not 0";
}

}  // namespace
}  // namespace lab
