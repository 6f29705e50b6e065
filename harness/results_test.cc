// Pins the results file format: key names, types and the aggregation.
#include "harness/results.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>

namespace lab {
namespace {

Json record(double ops_per_sec, double peak, double drained) {
  return {{"ops", 1000},
          {"seconds", 1000 / ops_per_sec},
          {"ops_per_sec", ops_per_sec},
          {"cpu_seconds", 1000 / ops_per_sec},
          {"ops_per_cpu_second", ops_per_sec},
          {"peak_rss_bytes", peak},
          {"rss_end_bytes", peak},
          {"rss_after_drain_bytes", drained},
          {"counters", {{"minor_faults", {{"value", 10}}}}}};
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
  const Json params = {{"ops", 1000}, {"seed", 42}, {"workers", 1}, {"workload_params", {{"batch", 100}}}};
  Cell a{"ultra_simple", "hakmem", "mixed_lifo", 1, "linked", {}, {}, {}, params, {}};
  Cell b{"glibc", "system", "mixed_lifo", 1, "linked", {}, {}, {}, params, {}};
  Cell bound{"bound", "hakmem", "mixed_lifo", 1, "linked", {}, {}, {}, params, {}};
  const double rates[] = {200, 180, 220};
  for (int rep = 1; rep <= 3; ++rep) {
    a.runs.push_back({rep, 2 * rep - 1, 0.1, record(rates[rep - 1], 4e6, 3e6)});
    b.runs.push_back({rep, 2 * rep, 0.2, record(100, 5e6, 5e6)});
    bound.runs.push_back({rep, 2 * rep + 10, 0.1, record(250, 4e6, 4e6)});
  }
  Cell refused{"bound", "hakmem", "mixed_lifo", 2, "linked", {}, {}, "bound serves one thread only", params, {}};
  f.cells = {a, b, bound, refused};
  return f;
}

std::set<std::string> keys(const Json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

TEST(Results, TopLevelSchemaIsPinned) {
  const Json j = sample().to_json();
  EXPECT_EQ(keys(j), (std::set<std::string>{"schema_version", "kind", "status", "created_utc", "updated_utc",
                                            "machine", "build", "config", "cells"}));
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["kind"], "hakmem-lab/compare");
  EXPECT_EQ(keys(j["config"]), (std::set<std::string>{"allocators", "workloads", "threads", "reps", "ops", "smoke",
                                                      "baseline", "timeout_seconds", "params"}));
}

TEST(Results, CellSchemaIsPinned) {
  const Json cell = sample().to_json()["cells"][0];
  EXPECT_EQ(keys(cell), (std::set<std::string>{"allocator", "allocator_kind", "workload", "threads", "mode",
                                               "status", "error", "refused", "params", "runs", "failures",
                                               "summary"}));
  EXPECT_EQ(keys(cell["runs"][0]), (std::set<std::string>{"rep", "seq", "wall_seconds", "record"}));
  EXPECT_EQ(keys(cell["summary"]),
            (std::set<std::string>{"reps", "median_ops_per_sec", "spread", "ratio_to_baseline", "ratio_to_bound",
                                   "median_seconds",
                                   "median_cpu_seconds", "median_ops_per_cpu_second", "median_peak_rss_bytes",
                                   "median_rss_end_bytes", "median_rss_after_drain_bytes", "median_minor_faults"}));
  EXPECT_EQ(keys(cell["summary"]["spread"]),
            (std::set<std::string>{"min", "p25", "median", "p75", "max", "rel_iqr", "n"}));
}

TEST(Results, SummaryIsTheMedianWithItsSpreadAndRatio) {
  const Json cell = sample().to_json()["cells"][0];
  const Json& s = cell["summary"];
  EXPECT_EQ(cell["status"], "complete");
  EXPECT_EQ(s["reps"], 3);
  EXPECT_DOUBLE_EQ(s["median_ops_per_sec"].get<double>(), 200);
  EXPECT_DOUBLE_EQ(s["spread"]["min"].get<double>(), 180);
  EXPECT_DOUBLE_EQ(s["spread"]["max"].get<double>(), 220);
  EXPECT_DOUBLE_EQ(s["spread"]["p25"].get<double>(), 190);
  EXPECT_DOUBLE_EQ(s["spread"]["p75"].get<double>(), 210);
  EXPECT_DOUBLE_EQ(s["spread"]["rel_iqr"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(s["ratio_to_baseline"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(s["ratio_to_bound"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(s["median_rss_after_drain_bytes"].get<double>(), 3e6);
  EXPECT_DOUBLE_EQ(s["median_minor_faults"].get<double>(), 10);
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
