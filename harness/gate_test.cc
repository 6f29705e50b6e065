// The gate's comparison: thresholds, the throughput test on synthetic
// samples, what is skipped or not compared, baseline parsing, the table.
#include "harness/gate.h"

#include <gtest/gtest.h>

#include <fstream>

namespace lab {
namespace {

GateMeasure cell(const std::string& allocator, const std::string& workload) {
  GateMeasure m;
  m.allocator = allocator;
  m.workload = workload;
  m.instructions_per_op = 45.0;
  m.minor_faults = 100;
  m.peak_rss_bytes = 4 << 20;
  for (int i = -10; i <= 10; ++i) m.throughput_ratios.push_back(2.0 + 0.01 * i);
  return m;
}

const Json kMachine = {{"cpu_model", "AMD EPYC"}, {"cpu_family", "26"}, {"cpu_model_number", "2"},
                       {"cpu_stepping", "1"}, {"thp_enabled", "madvise"}};
const Json kConfig = {{"reference", "glibc"}, {"workloads", {"mixed_lifo"}}};

GateBaseline baseline_of(std::vector<GateMeasure> cells) {
  return GateBaseline{"2026-11-25T00:00:00Z", kMachine, Json::object(), kConfig, std::move(cells)};
}

const GateRow& find(const std::vector<GateRow>& rows, const std::string& metric) {
  for (const GateRow& r : rows)
    if (r.metric == metric) return r;
  static const GateRow none{"", "none", "", "", "", "", Verdict::kPass, ""};
  ADD_FAILURE() << "no row for " << metric;
  return none;
}

std::vector<GateRow> compare(const GateMeasure& base, const GateMeasure& cur, const Json& machine = kMachine) {
  return compare_with_baseline(baseline_of({base}), {cur}, kConfig, machine, GateThresholds{});
}

TEST(Gate, UnchangedMeasuresPassEveryRow) {
  const auto rows = compare(cell("ultra_simple", "mixed_lifo"), cell("ultra_simple", "mixed_lifo"));
  ASSERT_EQ(rows.size(), 4u);
  for (const GateRow& r : rows) EXPECT_EQ(r.verdict, Verdict::kPass) << r.metric;
  EXPECT_FALSE(has_failures(rows));
}

TEST(Gate, InstructionCountsMayMoveHalfAPercent) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  cur.instructions_per_op = 45.0 * 1.004;
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "instructions/op").verdict, Verdict::kPass);
  cur.instructions_per_op = 45.0 * 1.011;  // one extra instruction per allocation
  const auto rows = compare(cell("ultra_simple", "mixed_lifo"), cur);
  EXPECT_EQ(find(rows, "instructions/op").verdict, Verdict::kRegression);
  EXPECT_EQ(find(rows, "instructions/op").change, "+1.10%");
  EXPECT_TRUE(has_failures(rows));
  cur.instructions_per_op = 45.0 * 0.98;
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "instructions/op").verdict, Verdict::kImproved);
}

TEST(Gate, FaultsAndRssHaveRelativeAndAbsoluteSlack) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  cur.minor_faults = 132;  // limit max(100 * 1.1, 100 + 32) = 132
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "minor faults").verdict, Verdict::kPass);
  cur.minor_faults = 133;
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "minor faults").verdict, Verdict::kRegression);
  cur = cell("ultra_simple", "mixed_lifo");
  cur.peak_rss_bytes = 4.5 * (1 << 20);  // limit max(4.4 MiB, 4.5 MiB)
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "peak RSS").verdict, Verdict::kPass);
  cur.peak_rss_bytes = 5 << 20;
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "peak RSS").verdict, Verdict::kRegression);
}

TEST(Gate, AClearThroughputDropIsARegression) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  for (double& r : cur.throughput_ratios) r *= 0.8;  // 20% slower, no overlap
  const GateRow& row = find(compare(cell("ultra_simple", "mixed_lifo"), cur), "ops/s vs reference");
  EXPECT_EQ(row.verdict, Verdict::kRegression) << row.note;
  EXPECT_EQ(row.change, "-20.00%");
}

TEST(Gate, ADropInsideTheNoiseIsInconclusiveNotAFailure) {
  GateMeasure base = cell("ultra_simple", "mixed_lifo");
  GateMeasure cur = base;
  base.throughput_ratios = {1.0, 2.5, 1.2, 3.0, 0.8, 2.0, 1.6, 2.8, 1.1, 2.2, 1.9};
  cur.throughput_ratios.clear();
  for (double r : base.throughput_ratios) cur.throughput_ratios.push_back(r * 0.85);
  const auto rows = compare(base, cur);
  const GateRow& row = find(rows, "ops/s vs reference");
  EXPECT_EQ(row.verdict, Verdict::kInconclusive) << row.note;
  EXPECT_NE(row.note.find("within the noise"), std::string::npos);
  EXPECT_FALSE(has_failures(rows));
}

TEST(Gate, ASmallSignificantDropBelowTheEffectPasses) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  for (double& r : cur.throughput_ratios) r *= 0.95;  // real, but under the 10% effect
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "ops/s vs reference").verdict, Verdict::kPass);
}

TEST(Gate, ThroughputIsNotJudgedWhenTheRunsDidNotGetTheirCpu) {
  GateMeasure base = cell("ultra_simple", "producer_consumer");
  base.cpu_share = 1.0;
  GateMeasure busy = base;
  busy.cpu_share = 0.04;  // a busy loop on the same CPU
  for (double& r : busy.throughput_ratios) r *= 0.5;
  const auto rows = compare(base, busy);
  const GateRow& row = find(rows, "ops/s vs reference");
  EXPECT_EQ(row.verdict, Verdict::kInconclusive);
  EXPECT_EQ(row.note, "machine busy: the runs had 4% of a CPU (baseline 100%); not judged");
  EXPECT_FALSE(has_failures(rows));

  GateMeasure quiet = busy;
  quiet.cpu_share = 0.95;  // inside the 10% margin: judged
  EXPECT_EQ(find(compare(base, quiet), "ops/s vs reference").verdict, Verdict::kRegression);
  GateMeasure old_baseline = base;
  old_baseline.cpu_share.reset();  // a baseline without the field: judged
  EXPECT_EQ(find(compare(old_baseline, busy), "ops/s vs reference").verdict, Verdict::kRegression);
}

TEST(Gate, MeasuresPairEachRunWithTheReferencesRunOfTheSameRepetition) {
  ResultsFile results;
  const auto run = [](int rep, double ops_per_sec, double cpu_seconds) {
    RunRecord r;
    r.ops_per_sec = ops_per_sec;
    r.seconds = 1.0;
    r.cpu_seconds = cpu_seconds;
    r.peak_rss_bytes = 1 << 20;
    r.counters = {{"minor_faults", {{"value", 100}}}};
    return RunEntry{rep, rep, 1.0, r};
  };
  Cell variant;
  variant.allocator = "ultra_simple";
  variant.workload = "producer_consumer";
  variant.runs = {run(1, 300, 1.0), run(2, 200, 0.5), run(3, 100, 1.0)};
  Cell reference = variant;
  reference.allocator = "glibc";
  reference.runs = {run(3, 100, 1.0), run(1, 100, 0.9), run(2, 50, 1.0)};
  results.cells = {variant, reference};
  results.config.baseline = "glibc";
  results.summarize();
  const std::vector<GateMeasure> measures = gate_measures(results);
  ASSERT_EQ(measures.size(), 1u) << "the reference is the yardstick, not a gated cell";
  EXPECT_EQ(measures[0].throughput_ratios, (std::vector<double>{3.0, 4.0, 1.0}));
  EXPECT_DOUBLE_EQ(*measures[0].cpu_share, 1.0) << "the smaller of the medians: min(1.0, 1.0)";

  results.cells[0].runs[2].record.cpu_seconds = 0.5;  // the variant's median share drops to 0.5
  results.summarize();
  EXPECT_DOUBLE_EQ(*gate_measures(results)[0].cpu_share, 0.5);
  EXPECT_DOUBLE_EQ(*measures[0].minor_faults, 100);
}

TEST(Gate, ThroughputIsNotComparedAcrossCpuModels) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  for (double& r : cur.throughput_ratios) r *= 0.5;
  cur.instructions_per_op = 60;
  Json xeon = kMachine;
  xeon["cpu_model"] = "Intel Xeon";
  const auto rows = compare(cell("ultra_simple", "mixed_lifo"), cur, xeon);
  const GateRow& tp = find(rows, "ops/s vs reference");
  EXPECT_EQ(tp.verdict, Verdict::kSkipped);
  EXPECT_NE(tp.note.find("'AMD EPYC (family 26, model 2, stepping 1)'"), std::string::npos) << tp.note;
  EXPECT_NE(tp.note.find("'Intel Xeon (family 26, model 2, stepping 1)'"), std::string::npos) << tp.note;
  EXPECT_EQ(find(rows, "instructions/op").verdict, Verdict::kRegression) << "instruction counts hold across machines";
}

TEST(Gate, ThroughputIsNotComparedAcrossGenerationsSharingAModelName) {
  // A VM calls several generations "AMD EPYC": the same binaries' ratio to
  // glibc moved by 16% between two of them, so the name alone is not enough.
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  for (double& r : cur.throughput_ratios) r *= 0.84;
  Json older = kMachine;
  older["cpu_family"] = "25";
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur, older), "ops/s vs reference").verdict,
            Verdict::kSkipped);
  // A baseline written before family and model were recorded cannot vouch
  // for this machine either.
  GateBaseline unrecorded = baseline_of({cell("ultra_simple", "mixed_lifo")});
  unrecorded.machine = {{"cpu_model", "AMD EPYC"}, {"thp_enabled", "madvise"}};
  const auto rows = compare_with_baseline(unrecorded, {cur}, kConfig, kMachine, GateThresholds{});
  const GateRow& tp = find(rows, "ops/s vs reference");
  EXPECT_EQ(tp.verdict, Verdict::kSkipped);
  EXPECT_NE(tp.note.find("'AMD EPYC (family and model not recorded)'"), std::string::npos) << tp.note;
  EXPECT_EQ(find(compare(cell("ultra_simple", "mixed_lifo"), cur), "ops/s vs reference").verdict,
            Verdict::kRegression)
      << "the same generation is judged";
}

TEST(Gate, ADropAgainstGlibcAloneIsTheMachineNotTheCode) {
  GateMeasure base = cell("ultra_simple", "mixed_lifo");
  base.second_reference = "bound";
  base.second_ratios = base.throughput_ratios;
  for (double& r : base.second_ratios) r /= 2.4;  // ultra_simple over bound, about 0.83

  // The machine moved: 16% slower than glibc, as fast as ever against bound.
  GateMeasure machine = base;
  for (double& r : machine.throughput_ratios) r *= 0.84;
  const auto machine_rows = compare(base, machine);
  const GateRow& moved = find(machine_rows, "ops/s vs reference");
  EXPECT_EQ(moved.verdict, Verdict::kInconclusive) << moved.note;
  EXPECT_NE(moved.note.find("but against bound +0.00%"), std::string::npos) << moved.note;
  EXPECT_NE(moved.note.find("the machine moved, not this code"), std::string::npos) << moved.note;

  // The code moved: slower against both.
  GateMeasure code = machine;
  for (double& r : code.second_ratios) r *= 0.84;
  const auto code_rows = compare(base, code);
  const GateRow& slower = find(code_rows, "ops/s vs reference");
  EXPECT_EQ(slower.verdict, Verdict::kRegression) << slower.note;
  EXPECT_NE(slower.note.find("against bound too: -16.00%"), std::string::npos) << slower.note;

  // Without a second reference on one side, the reference alone decides...
  GateMeasure alone = machine;
  alone.second_ratios.clear();
  EXPECT_EQ(find(compare(base, alone), "ops/s vs reference").verdict, Verdict::kRegression);

  // ... unless bound itself moved as much on another workload (producer_consumer
  // has no second reference: bound refuses two workers).
  GateMeasure pc_base = cell("ultra_simple", "producer_consumer"), bound_base = cell("bound", "mixed_lifo");
  GateMeasure pc = pc_base, bound_now = bound_base;
  for (double& r : pc.throughput_ratios) r *= 0.84;
  for (double& r : bound_now.throughput_ratios) r *= 0.84;
  const auto drifted = compare_with_baseline(baseline_of({pc_base, bound_base}), {pc, bound_now}, kConfig, kMachine,
                                             GateThresholds{});
  ASSERT_EQ(drifted.size(), 8u);
  const GateRow& pc_row = drifted[3];
  EXPECT_EQ(pc_row.metric, "ops/s vs reference");
  EXPECT_EQ(pc_row.verdict, Verdict::kInconclusive) << pc_row.note;
  EXPECT_NE(pc_row.note.find("bound, which shares no code with it, moved -16.00% against the reference on mixed_lifo"),
            std::string::npos)
      << pc_row.note;
  EXPECT_EQ(drifted[7].verdict, Verdict::kRegression) << "bound's own row is judged: " << drifted[7].note;
  GateMeasure bound_faster = bound_base;  // the machine's other state: everything in-process got faster
  for (double& r : bound_faster.throughput_ratios) r *= 1.22;
  EXPECT_EQ(compare_with_baseline(baseline_of({pc_base, bound_base}), {pc, bound_faster}, kConfig, kMachine,
                                  GateThresholds{})[3]
                .verdict,
            Verdict::kInconclusive);
  EXPECT_EQ(find(compare_with_baseline(baseline_of({pc_base, bound_base}), {pc, bound_base}, kConfig, kMachine,
                                       GateThresholds{}),
                 "ops/s vs reference")
                .verdict,
            Verdict::kRegression)
      << "with bound steady, the drop is the code's";
}

TEST(Gate, EachCellsSecondReferenceSharesNoAllocatorCodeWithIt) {
  ResultsFile results;
  results.config.baseline = "glibc";
  const auto cell_with = [](const std::string& allocator, const std::vector<double>& rates) {
    Cell c;
    c.allocator = allocator;
    c.workload = "mixed_lifo";
    for (size_t i = 0; i < rates.size(); ++i) {
      RunRecord r;
      r.ops_per_sec = rates[i];
      r.seconds = r.cpu_seconds = 1;
      c.runs.push_back({static_cast<int>(i + 1), static_cast<int>(i + 1), 1.0, r});
    }
    return c;
  };
  results.cells = {cell_with("ultra_simple", {300, 400}), cell_with("bound", {400, 500}),
                   cell_with("glibc", {100, 200})};
  results.summarize();
  const std::vector<GateMeasure> m = gate_measures(results);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].second_reference, "bound");
  EXPECT_EQ(m[0].second_ratios, (std::vector<double>{0.75, 0.8}));
  EXPECT_EQ(m[1].second_reference, "ultra_simple");
  EXPECT_EQ(m[1].second_ratios, (std::vector<double>{400.0 / 300, 1.25}));
  results.cells.erase(results.cells.begin() + 1);  // bound refused the workload: no second reference
  EXPECT_TRUE(gate_measures(results)[0].second_ratios.empty());
  // ... unless the peer ran: then it is the second reference, and not under test itself.
  results.cells.push_back(cell_with("mimalloc", {600, 500}));
  results.summarize();
  const std::vector<GateMeasure> with_peer = gate_measures(results);
  ASSERT_EQ(with_peer.size(), 1u);
  EXPECT_EQ(with_peer[0].allocator, "ultra_simple");
  EXPECT_EQ(with_peer[0].second_reference, "mimalloc");
  EXPECT_EQ(with_peer[0].second_ratios, (std::vector<double>{0.5, 0.8}));
}

TEST(Gate, FaultsAndRssAreNotComparedAcrossThpSettings) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  cur.minor_faults = 1000;
  Json always = kMachine;
  always["thp_enabled"] = "always";
  const auto rows = compare(cell("ultra_simple", "mixed_lifo"), cur, always);
  EXPECT_EQ(find(rows, "minor faults").verdict, Verdict::kSkipped);
  EXPECT_EQ(find(rows, "peak RSS").verdict, Verdict::kSkipped);
}

TEST(Gate, CellsOnOneSideOnlyAreReportedButDoNotFail) {
  const auto rows = compare_with_baseline(baseline_of({cell("magazine", "mixed_lifo")}),
                                          {cell("ultra_simple", "mixed_lifo")}, kConfig, kMachine, GateThresholds{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].verdict, Verdict::kNotCompared);
  EXPECT_NE(rows[0].note.find("no baseline for this cell"), std::string::npos);
  EXPECT_EQ(rows[1].cell, "mixed_lifo/magazine/t1");
  EXPECT_NE(rows[1].note.find("in the baseline but not measured now"), std::string::npos);
  EXPECT_FALSE(has_failures(rows));
}

TEST(Gate, AChangedMatrixIsNotCompared) {
  const auto rows = compare_with_baseline(baseline_of({cell("ultra_simple", "mixed_lifo")}),
                                          {cell("ultra_simple", "mixed_lifo")}, {{"reference", "jemalloc"}}, kMachine,
                                          GateThresholds{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].verdict, Verdict::kNotCompared);
}

TEST(Gate, AFailedRunFailsTheGate) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  cur.failure = "killed by signal 11 (Segmentation fault)";
  const auto rows = compare(cell("ultra_simple", "mixed_lifo"), cur);
  EXPECT_EQ(rows[0].verdict, Verdict::kFailed);
  EXPECT_TRUE(has_failures(rows));
}

TEST(Gate, TheTableEndsWithTheFailingRows) {
  GateMeasure cur = cell("ultra_simple", "mixed_lifo");
  cur.instructions_per_op = 50;
  const std::string text = render_gate(compare(cell("ultra_simple", "mixed_lifo"), cur));
  for (const char* column : {"cell", "metric", "baseline", "current", "change", "threshold", "verdict"})
    EXPECT_NE(text.find(column), std::string::npos) << column;
  const size_t summary = text.find("gate: FAIL, 1 failing row:");
  ASSERT_NE(summary, std::string::npos) << text;
  EXPECT_NE(text.find("instructions/op", summary), std::string::npos) << "the failing row is repeated last";
  EXPECT_NE(render_gate(compare(cell("ultra_simple", "mixed_lifo"), cell("ultra_simple", "mixed_lifo")))
                .find("gate: pass (4 rows, no regression)\n"),
            std::string::npos);
  GateMeasure noisy = cell("ultra_simple", "mixed_lifo");
  noisy.cpu_share = 1.0;
  GateMeasure busy = noisy;
  busy.cpu_share = 0.5;
  EXPECT_NE(render_gate(compare(noisy, busy)).find("gate: pass (4 rows, no regression, 1 inconclusive)\n"),
            std::string::npos);
}

class BaselineFileTest : public testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(BaselineFileTest, RoundTrips) {
  const std::string path = write("ok.json", baseline_json(baseline_of({cell("ultra_simple", "mixed_lifo")})).dump());
  std::string error;
  const auto b = load_baseline(path, &error);
  ASSERT_TRUE(b.has_value()) << error;
  ASSERT_EQ(b->cells.size(), 1u);
  EXPECT_EQ(b->cells[0].key(), "mixed_lifo/ultra_simple/t1");
  EXPECT_EQ(b->cells[0].throughput_ratios.size(), 21u);
  EXPECT_FALSE(b->cells[0].cpu_share.has_value());
  GateMeasure shared = cell("ultra_simple", "mixed_lifo");
  shared.cpu_share = 0.998;
  const auto with_share =
      load_baseline(write("share.json", baseline_json(baseline_of({shared})).dump()), &error);
  ASSERT_TRUE(with_share.has_value()) << error;
  EXPECT_EQ(with_share->cells[0].cpu_share, 0.998);
  EXPECT_EQ(b->config, kConfig);
}

TEST_F(BaselineFileTest, BrokenBaselinesGetOneLineErrorsNamingTheFile) {
  Json other_schema = baseline_json(baseline_of({}));
  other_schema["schema_version"] = 99;
  Json wrong_kind = baseline_json(baseline_of({}));
  wrong_kind["kind"] = "hakmem-lab/compare";
  Json no_cells = baseline_json(baseline_of({}));
  no_cells.erase("cells");
  Json bad_cell = baseline_json(baseline_of({cell("ultra_simple", "mixed_lifo")}));
  bad_cell["cells"][0].erase("throughput_ratios");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {testing::TempDir() + "/does-not-exist.json", "cannot open"},
      {write("malformed.json", "{\"schema_version\": 1, \"cells\": ["), "not valid JSON"},
      {write("schema.json", other_schema.dump()), "schema_version 99 is not the supported version 1"},
      {write("kind.json", wrong_kind.dump()), "is this a gate baseline?"},
      {write("nocells.json", no_cells.dump()), "no \"cells\""},
      {write("badcell.json", bad_cell.dump()), "a cell is malformed"},
  };
  for (const auto& [path, message] : cases) {
    std::string error;
    EXPECT_FALSE(load_baseline(path, &error).has_value()) << path;
    EXPECT_EQ(error.rfind("baseline " + path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(message), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
  }
}

}  // namespace
}  // namespace lab
