// Pins the results file format: key names, types and the aggregation.
#include "harness/results.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

namespace lab {
namespace {

RunRecord record(double ops_per_sec, int64_t peak, int64_t drained) {
  RunRecord r;
  r.ops = 1000;
  r.seconds = 1000 / ops_per_sec;
  r.ops_per_sec = ops_per_sec;
  r.cpu_seconds = 1000 / ops_per_sec;
  r.ops_per_cpu_second = ops_per_sec;
  r.peak_rss_bytes = peak;
  r.rss_end_bytes = peak;
  r.rss_after_drain_bytes = drained;
  r.settle_ms = 1000;
  r.rss_after_settle_bytes = drained / 2;
  r.major_faults = 1;
  r.voluntary_context_switches = 7;
  r.counters = {{"minor_faults", {{"value", 10}}}};
  return r;
}

ResultsFile sample() {
  ResultsFile f;
  f.created_utc = f.updated_utc = "2026-11-25T00:00:00Z";
  f.machine = {{"cpu_model", "test cpu"}, {"cores", 2}};
  f.build = {{"compiler", "gcc"}, {"compilation_mode", "opt"}};
  f.config.allocators = {"ultra_simple", "glibc"};
  f.config.workloads = {"mixed_lifo"};
  f.config.threads = {1};
  f.config.reps = 3;
  f.config.baseline = "glibc";
  f.config.timeout_seconds = 300;
  const Json params = {{"ops", 1000}, {"seed", 42}, {"workers", 1}, {"workload_params", {{"batch", 100}}}};
  Cell a{"ultra_simple", "hakmem", "mixed_lifo", 1, "linked", {}, {}, {}, params, {}, {}};
  Cell b{"glibc", "system", "mixed_lifo", 1, "linked", {}, {}, {}, params, {}, {}};
  Cell bound{"bound", "hakmem", "mixed_lifo", 1, "linked", {}, {}, {}, params, {}, {}};
  const double rates[] = {200, 180, 220};
  for (int rep = 1; rep <= 3; ++rep) {
    a.runs.push_back({rep, 2 * rep - 1, 0.1, record(rates[rep - 1], 4e6, 3e6)});
    b.runs.push_back({rep, 2 * rep, 0.2, record(100, 5e6, 5e6)});
    bound.runs.push_back({rep, 2 * rep + 10, 0.1, record(250, 4e6, 4e6)});
  }
  Cell refused{"bound", "hakmem", "mixed_lifo", 2, "linked", {}, {}, "bound serves one thread only", params, {}, {}};
  f.cells = {a, b, bound, refused};
  f.summarize();
  return f;
}

std::set<std::string> keys(const Json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

// Appends `mine` at half `base`'s speed and 4x its peak RSS, three
// repetitions each (the cells' runs are replaced).
void add_half_speed_pair(ResultsFile* f, Cell mine, Cell base) {
  mine.runs.clear();
  base.runs.clear();
  for (int rep = 1; rep <= 3; ++rep) {
    mine.runs.push_back({rep, 20 + rep, 0.1, record(50, 20e6, 3e6)});
    base.runs.push_back({rep, 30 + rep, 0.1, record(100, 5e6, 5e6)});
  }
  f->cells.push_back(mine);
  f->cells.push_back(base);
}

TEST(Results, AllocatorSummariesAreGeometricMeansOverTheCellsWithABaseline) {
  ResultsFile f = sample();
  const Json params = {{"ops", 1000}};
  Cell a{"ultra_simple", "hakmem", "random_free", 1, "linked", {}, {}, {}, params, {}, {}};
  Cell b{"glibc", "system", "random_free", 1, "linked", {}, {}, {}, params, {}, {}};
  add_half_speed_pair(&f, a, b);
  f.summarize();

  ASSERT_EQ(f.allocator_summaries.size(), 3u) << "one per (allocator, mode), in the order the cells name them";
  const AllocatorSummary& mine = f.allocator_summaries[0];
  EXPECT_EQ(mine.allocator, "ultra_simple");
  EXPECT_EQ(mine.mode, "linked");
  EXPECT_EQ(mine.cells, 2);
  // 2x on mixed_lifo and 0.5x on random_free cancel: the geometric mean is 1.
  EXPECT_NEAR(*mine.geomean_ratio_to_baseline, 1.0, 1e-12);
  // Peak RSS 0.8x and 4x of glibc's.
  EXPECT_NEAR(*mine.geomean_peak_rss_to_baseline, std::sqrt(0.8 * 4.0), 1e-12);
  EXPECT_NEAR(*f.cells[0].summary.peak_rss_to_baseline, 0.8, 1e-12);
  EXPECT_EQ(f.allocator_summaries[1].allocator, "glibc");
  EXPECT_NEAR(*f.allocator_summaries[1].geomean_ratio_to_baseline, 1.0, 1e-12);
  const AllocatorSummary& bound = f.allocator_summaries[2];
  EXPECT_EQ(bound.cells, 1) << "its refused two-thread cell has no ratio and is not averaged";
  EXPECT_NEAR(*bound.geomean_ratio_to_baseline, 2.5, 1e-12);

  const Json j = f.to_json()["summary"]["allocators"][0];
  EXPECT_EQ(j["allocator"], "ultra_simple");
  EXPECT_EQ(j["cells"], 2);
  EXPECT_NEAR(j["geomean_ratio_to_baseline"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(j["geomean_peak_rss_to_baseline"].get<double>(), std::sqrt(3.2), 1e-12);
}

TEST(Results, AnAllocatorWithoutABaselineHasNoMeans) {
  ResultsFile f = sample();
  f.config.baseline = "jemalloc";  // not in the file
  f.summarize();
  for (const AllocatorSummary& a : f.allocator_summaries) {
    EXPECT_EQ(a.cells, 0) << a.allocator;
    EXPECT_FALSE(a.geomean_ratio_to_baseline) << a.allocator;
    EXPECT_TRUE(f.to_json()["summary"]["allocators"][0]["geomean_ratio_to_baseline"].is_null());
  }
}

TEST(Results, RatiosNeverPairCellsOfTwoCpus) {
  ResultsFile f = sample();
  // The baseline ran on another CPU: nothing has a ratio to it.
  f.cells[1].machine = Json{{"cpu_model", "other cpu"}, {"cores", 8}};
  f.summarize();
  const CellSummary& mine = f.cells[0].summary;
  EXPECT_FALSE(mine.ratio_to_baseline);
  EXPECT_FALSE(mine.peak_rss_to_baseline);
  EXPECT_TRUE(mine.ratios_to_baseline_by_rep.empty());
  EXPECT_DOUBLE_EQ(*mine.ratio_to_bound, 0.8) << "bound ran on the file's machine, as ultra_simple did";
  EXPECT_FALSE(f.cells[1].summary.ratio_to_bound) << "no bound on glibc's machine";
  EXPECT_DOUBLE_EQ(*f.cells[1].summary.ratio_to_baseline, 1.0) << "glibc against itself";

  // Another node of the same CPU, with another kernel, THP setting and core
  // count, is the same machine group: ratios as on one machine.
  f.cells[1].machine =
      Json{{"cpu_model", "test cpu"}, {"cores", 4}, {"kernel", "Linux 6.6"}, {"thp_enabled", "always"}};
  f.summarize();
  EXPECT_DOUBLE_EQ(*f.cells[0].summary.ratio_to_baseline, 2.0);
  EXPECT_EQ(f.cells[0].summary.ratios_to_baseline_by_rep, (std::vector<double>{2.0, 1.8, 2.2}));

  // The same model name with another stepping is another CPU.
  f.machine = {{"cpu_model", "test cpu"}, {"cpu_family", "6"}, {"cpu_model_number", "85"}, {"cpu_stepping", "4"}};
  Json other = f.machine;
  other["cpu_stepping"] = "7";
  f.cells[1].machine = other;
  f.summarize();
  EXPECT_FALSE(f.cells[0].summary.ratio_to_baseline);
}

TEST(Results, AllocatorSummariesArePerMachineWhenTheCellsSpanSeveralCpus) {
  ResultsFile f = sample();
  Cell a = f.cells[0], b = f.cells[1];  // ultra_simple and glibc on random_free, on another CPU
  a.workload = b.workload = "random_free";
  a.machine = b.machine = Json{{"cpu_model", "other cpu"}, {"cores", 8}};
  add_half_speed_pair(&f, a, b);
  f.summarize();

  // One per (allocator, mode, machine), in the order the cells name them:
  // 2x on the file's CPU and 0.5x on the other, never their mean of 1.
  struct Expected {
    const char* allocator;
    const char* machine;
    int cells;
    double speed;
  };
  const Expected expected[] = {{"ultra_simple", "test cpu", 1, 2.0}, {"glibc", "test cpu", 1, 1.0},
                               {"bound", "test cpu", 1, 2.5},        {"ultra_simple", "other cpu", 1, 0.5},
                               {"glibc", "other cpu", 1, 1.0}};
  ASSERT_EQ(f.allocator_summaries.size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    const AllocatorSummary& s = f.allocator_summaries[i];
    EXPECT_EQ(s.allocator, expected[i].allocator) << i;
    EXPECT_EQ(s.machine, expected[i].machine) << i;
    EXPECT_EQ(s.cells, expected[i].cells) << i;
    EXPECT_NEAR(*s.geomean_ratio_to_baseline, expected[i].speed, 1e-12) << i;
  }
  EXPECT_NEAR(*f.allocator_summaries[3].geomean_peak_rss_to_baseline, 4.0, 1e-12);

  const Json j = f.to_json()["summary"]["allocators"];
  EXPECT_EQ(keys(j[3]), (std::set<std::string>{"allocator", "mode", "cells", "geomean_ratio_to_baseline",
                                               "geomean_peak_rss_to_baseline", "machine"}));
  EXPECT_EQ(j[3]["machine"], "other cpu");
  std::string error;
  const auto back = ResultsFile::from_json(Json::parse(f.to_json().dump()), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->allocator_summaries, f.allocator_summaries);

  // One CPU (two nodes of it): one summary per (allocator, mode), written
  // without "machine", as before.
  f.cells[4].machine = f.cells[5].machine = Json{{"cpu_model", "test cpu"}, {"kernel", "Linux 6.6"}};
  f.summarize();
  ASSERT_EQ(f.allocator_summaries.size(), 3u);
  EXPECT_EQ(f.allocator_summaries[0].machine, "");
  EXPECT_EQ(keys(f.to_json()["summary"]["allocators"][0]),
            (std::set<std::string>{"allocator", "mode", "cells", "geomean_ratio_to_baseline",
                                   "geomean_peak_rss_to_baseline"}));
}

TEST(Results, TopLevelSchemaIsPinned) {
  const Json j = sample().to_json();
  EXPECT_EQ(keys(j), (std::set<std::string>{"schema_version", "kind", "status", "created_utc", "updated_utc",
                                            "machine", "build", "config", "summary", "cells"}));
  EXPECT_EQ(j["schema_version"], 3);
  EXPECT_EQ(j["kind"], "hakmem-lab/compare");
  EXPECT_EQ(keys(j["config"]), (std::set<std::string>{"allocators", "workloads", "threads", "modes", "reps", "ops", "smoke",
                                                      "baseline", "timeout_seconds", "params"}));
}

TEST(Results, CellSchemaIsPinned) {
  const Json cell = sample().to_json()["cells"][0];
  EXPECT_EQ(keys(cell), (std::set<std::string>{"allocator", "allocator_kind", "workload", "threads", "mode",
                                               "status", "error", "refused", "params", "runs", "failures",
                                               "summary"}));
  EXPECT_EQ(keys(cell["runs"][0]), (std::set<std::string>{"rep", "seq", "wall_seconds", "record"}));
  EXPECT_EQ(keys(cell["summary"]),
            (std::set<std::string>{"reps", "ratio_to_baseline", "ratio_to_bound", "peak_rss_to_baseline", "ratios_to_baseline_by_rep",
                                   "metrics"}));
  EXPECT_EQ(keys(cell["summary"]["metrics"]),
            (std::set<std::string>{"ops_per_sec", "seconds", "cpu_seconds", "ops_per_cpu_second", "cpu_share",
                                   "peak_rss_bytes", "rss_end_bytes", "rss_after_drain_bytes",
                                   "rss_after_settle_bytes", "minor_faults", "major_faults", "voluntary_context_switches",
                                   "syscalls_per_mop", "rss_integral_mib_s", "learner_cpu_share",
                                   "learner_changes", "rss_idle_end_bytes", "frag_mean_ratio", "frag_final_ratio",
                                   "frag_slope_per_min", "malloc_p50_ns", "malloc_p90_ns", "malloc_p99_ns",
                                   "malloc_p99_9_ns", "malloc_p99_99_ns", "malloc_max_ns", "malloc_over_10us",
                                   "free_p50_ns", "free_p90_ns", "free_p99_ns", "free_p99_9_ns", "free_p99_99_ns",
                                   "free_max_ns", "free_over_10us"}));
  EXPECT_EQ(keys(cell["summary"]["metrics"]["ops_per_sec"]),
            (std::set<std::string>{"min", "p25", "median", "p75", "max", "rel_iqr", "n"}));
}

TEST(Results, SummaryIsTheMedianWithItsSpreadAndRatio) {
  const Json cell = sample().to_json()["cells"][0];
  const Json& s = cell["summary"];
  EXPECT_EQ(cell["status"], "complete");
  EXPECT_EQ(s["reps"], 3);
  const Json& rate = s["metrics"]["ops_per_sec"];
  EXPECT_DOUBLE_EQ(rate["median"].get<double>(), 200);
  EXPECT_DOUBLE_EQ(rate["min"].get<double>(), 180);
  EXPECT_DOUBLE_EQ(rate["max"].get<double>(), 220);
  EXPECT_DOUBLE_EQ(rate["p25"].get<double>(), 190);
  EXPECT_DOUBLE_EQ(rate["p75"].get<double>(), 210);
  EXPECT_DOUBLE_EQ(rate["rel_iqr"].get<double>(), 0.1);
  EXPECT_EQ(rate["n"], 3);
  EXPECT_DOUBLE_EQ(s["ratio_to_baseline"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(s["ratio_to_bound"].get<double>(), 0.8);
  EXPECT_EQ(s["ratios_to_baseline_by_rep"], (Json{2.0, 1.8, 2.2}));
  EXPECT_DOUBLE_EQ(s["metrics"]["rss_after_drain_bytes"]["median"].get<double>(), 3e6);
  EXPECT_DOUBLE_EQ(s["metrics"]["rss_after_settle_bytes"]["median"].get<double>(), 1.5e6);
  EXPECT_DOUBLE_EQ(s["metrics"]["minor_faults"]["median"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(s["metrics"]["major_faults"]["median"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(s["metrics"]["voluntary_context_switches"]["median"].get<double>(), 7);
  EXPECT_DOUBLE_EQ(s["metrics"]["cpu_share"]["median"].get<double>(), 1.0);
}

TEST(Results, CellStatusFollowsRunsAndFailures) {
  ResultsFile f = sample();
  f.cells[0].runs.pop_back();
  EXPECT_EQ(f.cells[0].status(3), "partial");
  f.cells[0].failures.push_back({3, "exited with code 3: error: corrupted"});
  EXPECT_EQ(f.cells[0].status(3), "failed");
  const Json cell = f.to_json()["cells"][0];
  EXPECT_EQ(cell["status"], "failed");
  EXPECT_EQ(cell["error"], "exited with code 3: error: corrupted");
}

TEST(Results, ARefusedCellSaysWhyAndIsNotAFailure) {
  const Json cell = sample().to_json()["cells"][3];
  EXPECT_EQ(cell["status"], "refused");
  EXPECT_EQ(cell["refused"], "bound serves one thread only");
  EXPECT_TRUE(cell["error"].is_null());
  EXPECT_TRUE(cell["summary"]["ratio_to_bound"].is_null()) << "no bound cell at 2 threads";
}

TEST(Results, RoundTripsThroughJson) {
  const ResultsFile f = sample();
  std::string error;
  const auto back = ResultsFile::from_json(Json::parse(f.to_json().dump()), &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->to_json(), f.to_json());
  EXPECT_TRUE(back->config == f.config);
}

TEST(Results, RejectsOtherSchemaVersionsAndBrokenFiles) {
  std::string error;
  Json j = sample().to_json();
  j["schema_version"] = 99;
  EXPECT_FALSE(ResultsFile::from_json(j, &error));
  EXPECT_NE(error.find("schema_version 99"), std::string::npos) << error;
  j["schema_version"] = 0;
  EXPECT_FALSE(ResultsFile::from_json(j, &error));

  j = sample().to_json();
  j.erase("cells");
  EXPECT_FALSE(ResultsFile::from_json(j, &error));
  EXPECT_NE(error.find("cells"), std::string::npos) << error;

  j = sample().to_json();
  j["cells"][0]["runs"][0].erase("record");
  EXPECT_FALSE(ResultsFile::from_json(j, &error));
  EXPECT_NE(error.find("record"), std::string::npos) << error;

  const std::string path = testing::TempDir() + "/truncated.json";
  std::ofstream(path) << sample().to_json().dump().substr(0, 100);
  EXPECT_FALSE(load_results(path, &error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
}

TEST(Results, AVersionOneFileLoadsWithItsSummariesRecomputed) {
  // Version 1: summaries in the old shape, records without the fields
  // version 2 added. It loads; its summaries are this version's.
  Json j = sample().to_json();
  j["schema_version"] = 1;
  for (Json& cell : j["cells"]) {
    cell["summary"] = {{"reps", 3}, {"median_ops_per_sec", 1.0}};
    for (Json& run : cell["runs"]) {
      run["record"]["record_version"] = 1;
      run["record"].erase("major_faults");
      run["record"].erase("voluntary_context_switches");
      run["record"].erase("status");
    }
  }
  std::string error;
  const auto f = ResultsFile::from_json(j, &error);
  ASSERT_TRUE(f.has_value()) << error;
  EXPECT_EQ(f->schema_version, kSchemaVersion) << "held in this version's terms once read";
  EXPECT_DOUBLE_EQ(*f->cells[0].summary.median("ops_per_sec"), 200);
  EXPECT_DOUBLE_EQ(*f->cells[0].summary.ratio_to_baseline, 2.0);
  EXPECT_FALSE(f->cells[0].summary.median("major_faults")) << "a version 1 record never measured it";
  EXPECT_EQ(f->cells[0].runs[0].record.record_version, 1);
  EXPECT_EQ(f->to_json()["schema_version"], 3);
}

TEST(Results, AtomicWriteReplacesWholeFiles) {
  const std::string path = testing::TempDir() + "/atomic.json";
  std::string error;
  ASSERT_TRUE(write_atomically(path, "first", &error)) << error;
  ASSERT_TRUE(write_atomically(path, "second", &error)) << error;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "second");
  EXPECT_FALSE(write_atomically("/nonexistent-dir/x.json", "x", &error));
  EXPECT_NE(error.find("/nonexistent-dir/x.json"), std::string::npos) << error;
}

}  // namespace
}  // namespace lab
