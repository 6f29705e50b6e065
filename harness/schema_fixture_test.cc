// The shared schema fixture (results/SCHEMA.md): the C++ reader finds in
// results/schema/fixture.json the values listed in fixture_expected.json,
// which //analysis:schema_fixture_test checks with the Python reader too.
// The C++ side recomputes every summary from the runs on load, so this
// also pins that the summaries stored in the file are the harness's own.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/results.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::runfile;

std::optional<double> number(const Json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}

void expect_near(std::optional<double> actual, const Json& expected, const std::string& what) {
  const std::optional<double> want = number(expected);
  ASSERT_EQ(actual.has_value(), want.has_value()) << what;
  if (want) {
    EXPECT_NEAR(*actual, *want, std::abs(*want) * 1e-12) << what;
  }
}

TEST(SchemaFixture, TheCppReaderFindsTheExpectedValues) {
  std::string error;
  const auto expected = read_json_file(runfile("results/schema/fixture_expected.json"), &error);
  ASSERT_TRUE(expected) << error;
  const auto results = load_results(runfile("results/schema/fixture.json"), &error);
  ASSERT_TRUE(results) << error;
  EXPECT_EQ((*expected)["schema_version"], kSchemaVersion);
  EXPECT_EQ(results->config.baseline, (*expected)["baseline"]);
  ASSERT_EQ(results->cells.size(), (*expected)["cells"].size());
  for (const Json& e : (*expected)["cells"]) {
    const Cell* c = results->find(e["workload"], e["allocator"], e["threads"]);
    ASSERT_NE(c, nullptr) << e.dump();
    const std::string key = c->key();
    const CellSummary& s = c->summary;
    EXPECT_EQ(c->status(results->config.reps), e["status"]) << key;
    EXPECT_EQ(c->refused.value_or(""), e["refused"].is_null() ? "" : e["refused"].get<std::string>()) << key;
    EXPECT_EQ(s.reps, e["reps"].get<int>()) << key;
    expect_near(s.median("ops_per_sec"), e["median_ops_per_sec"], key + " ops/s");
    const Spread* rate = s.spread("ops_per_sec");
    expect_near(rate ? std::optional(rate->rel_iqr) : std::nullopt, e["rel_iqr_ops_per_sec"], key + " rel IQR");
    expect_near(s.ratio_to_baseline, e["ratio_to_baseline"], key + " ratio to baseline");
    expect_near(s.ratio_to_bound, e["ratio_to_bound"], key + " ratio to bound");
    ASSERT_EQ(s.ratios_to_baseline_by_rep.size(), e["ratios_to_baseline_by_rep"].size()) << key;
    for (size_t i = 0; i < s.ratios_to_baseline_by_rep.size(); ++i)
      expect_near(s.ratios_to_baseline_by_rep[i], e["ratios_to_baseline_by_rep"][i], key + " ratio by rep");
    expect_near(s.median("peak_rss_bytes"), e["median_peak_rss_bytes"], key + " peak RSS");
    expect_near(s.median("rss_after_drain_bytes"), e["median_rss_after_drain_bytes"], key + " RSS after drain");
    // The fixture predates the settle step: its summaries lack the metric, read as null.
    expect_near(s.median("rss_after_settle_bytes"), e["median_rss_after_settle_bytes"], key + " RSS after settle");
    expect_near(s.median("minor_faults"), e["median_minor_faults"], key + " minor faults");
    expect_near(s.median("major_faults"), e["median_major_faults"], key + " major faults");
    expect_near(s.median("voluntary_context_switches"), e["median_voluntary_context_switches"],
                key + " voluntary context switches");
    std::optional<double> ir;
    if (c->callgrind && c->callgrind->contains("instructions_per_op"))
      ir = (*c->callgrind)["instructions_per_op"].get<double>();
    expect_near(ir, e["instructions_per_op"], key + " Ir/op");
    expect_near(c->runs.empty() ? std::nullopt : std::optional<double>(static_cast<double>(c->runs[0].record.ops)),
                e["first_run_ops"], key + " first run's ops");
  }
  ASSERT_EQ(results->allocator_summaries.size(), (*expected)["allocators"].size());
  for (size_t i = 0; i < results->allocator_summaries.size(); ++i) {
    const AllocatorSummary& a = results->allocator_summaries[i];
    const Json& e = (*expected)["allocators"][i];
    EXPECT_EQ(a.allocator, e["allocator"]);
    EXPECT_EQ(a.mode, e["mode"]) << a.allocator;
    EXPECT_EQ(a.cells, e["cells"].get<int>()) << a.allocator;
    expect_near(a.geomean_ratio_to_baseline, e["geomean_ratio_to_baseline"], a.allocator + " geomean ratio");
    expect_near(a.geomean_peak_rss_to_baseline, e["geomean_peak_rss_to_baseline"], a.allocator + " geomean peak");
  }
}

}  // namespace
}  // namespace lab
