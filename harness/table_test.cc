// The console table's number formats, and its grouping by machine.
#include "harness/table.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

const Json kMachineA = {{"cpu_model", "Test CPU 9000"}, {"cores", 2}, {"kernel", "Linux 6.1 a"},
                        {"thp_enabled", "madvise"}, {"thp_defrag", "madvise"}};
const Json kMachineB = {{"cpu_model", "Other CPU 7000"}, {"cores", 8}, {"kernel", "Linux 6.6 b"},
                        {"thp_enabled", "always"}, {"thp_defrag", "never"}};

Cell cell(const std::string& workload, int threads, const std::string& allocator, double ops_per_sec,
          const Json& machine) {
  Cell c;
  c.allocator = allocator;
  c.allocator_kind = allocator == "glibc" ? "system" : "hakmem";
  c.workload = workload;
  c.threads = threads;
  c.machine = machine;
  RunRecord r;
  r.ops = 1000000;
  r.ops_per_sec = ops_per_sec;
  r.ops_per_cpu_second = ops_per_sec;
  r.seconds = r.cpu_seconds = r.ops / ops_per_sec;
  r.peak_rss_bytes = 4 << 20;
  r.rss_after_drain_bytes = 4 << 20;
  c.runs.push_back({1, 1, 1.0, r});
  return c;
}

// two_machines() with every cell on one CPU, as the table showed it before
// machine groups existed.
const char* kOneMachineTable = R"(
mixed_lifo, 1 thread (median of 1 reps; spread = interquartile range / median)
allocator      mode               Mops/s   spread    xglibc  Mops/CPU-s    peak RSS  after drain  status
--------------------------------------------------------------------------------------------------------------
ultra_simple   linked (inline)     200.0     0.0%     2.00x       200.0     4.0 MiB      4.0 MiB  1/1 complete
glibc          linked              100.0     0.0%     1.00x       100.0     4.0 MiB      4.0 MiB  1/1 complete

random_free, 1 thread (median of 1 reps; spread = interquartile range / median)
allocator      mode               Mops/s   spread    xglibc  Mops/CPU-s    peak RSS  after drain  status
--------------------------------------------------------------------------------------------------------------
ultra_simple   linked (inline)      50.0     0.0%     0.50x        50.0     4.0 MiB      4.0 MiB  1/1 complete
glibc          linked              100.0     0.0%     1.00x       100.0     4.0 MiB      4.0 MiB  1/1 complete

random_free, 2 threads (median of 1 reps; spread = interquartile range / median)
allocator      mode               Mops/s   spread    xglibc  Mops/CPU-s    peak RSS  after drain  status
--------------------------------------------------------------------------------------------------------------
ultra_simple   linked (inline)      90.0     0.0%     0.90x        90.0     4.0 MiB      4.0 MiB  1/1 complete
glibc          linked              100.0     0.0%     1.00x       100.0     4.0 MiB      4.0 MiB  1/1 complete
)";

// A merge of shards from two CPUs: mixed_lifo ran on A; random_free on B,
// at two threads on a second node of B with another kernel.
ResultsFile two_machines() {
  ResultsFile f;
  f.machine = kMachineA;
  f.config.reps = 1;
  f.config.baseline = "glibc";
  Json b2 = kMachineB;
  b2["kernel"] = "Linux 6.6 c";
  f.cells = {cell("mixed_lifo", 1, "ultra_simple", 200e6, kMachineA), cell("mixed_lifo", 1, "glibc", 100e6, kMachineA),
             cell("random_free", 1, "ultra_simple", 50e6, kMachineB), cell("random_free", 1, "glibc", 100e6, kMachineB),
             cell("random_free", 2, "ultra_simple", 90e6, b2), cell("random_free", 2, "glibc", 100e6, b2)};
  f.summarize();
  return f;
}

TEST(RenderTable, AHeadingPerMachineOnlyWhenTheCellsComeFromSeveralCpus) {
  const std::string table = render_table(two_machines());
  const std::string a = "\nmachine 1 of 2: Test CPU 9000\n=============================\n"
                        "2 cores; kernel Linux 6.1 a; THP enabled [madvise] defrag [madvise]\n";
  const std::string b = "\nmachine 2 of 2: Other CPU 7000\n==============================\n"
                        "8 cores; kernels Linux 6.6 b and Linux 6.6 c; THP enabled [always] defrag [never]\n";
  ASSERT_EQ(table.find(a), 0u) << table;
  const size_t at_b = table.find(b);
  ASSERT_NE(at_b, std::string::npos) << table;
  const size_t mixed = table.find("mixed_lifo, 1 thread"), random1 = table.find("random_free, 1 thread"),
               random2 = table.find("random_free, 2 threads");
  EXPECT_LT(mixed, at_b) << "each machine's tables under its heading";
  EXPECT_GT(random1, at_b);
  EXPECT_GT(random2, random1);
  EXPECT_NE(table.find("ultra_simple   linked (inline)      50.0     0.0%     0.50x"), std::string::npos) << table;

  // Nodes of one CPU with other kernels and THP are one machine group: the
  // table is the one a single machine's file always had (pinned).
  ResultsFile f = two_machines();
  for (Cell& c : f.cells)
    if (c.workload == "random_free") (*c.machine)["cpu_model"] = "Test CPU 9000";
  f.summarize();
  const std::string one = render_table(f);
  EXPECT_EQ(one.find("machine "), std::string::npos) << one;
  for (Cell& c : f.cells) c.machine.reset();
  f.summarize();
  EXPECT_EQ(render_table(f), one);
  EXPECT_EQ(one, kOneMachineTable);
}

TEST(FormatMops, OneDecimalFromOneMopsUpAndThreeSignificantDigitsBelow) {
  EXPECT_EQ(format_mops(123.44e6), "123.4");
  EXPECT_EQ(format_mops(1e6), "1.0");
  EXPECT_EQ(format_mops(805'080), "0.805");
  EXPECT_EQ(format_mops(52'576), "0.0526");
  EXPECT_EQ(format_mops(std::nullopt), "-");
}

TEST(FormatBytes, MiBWithOneDecimal) {
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024), "1.5 MiB");
  EXPECT_EQ(format_bytes(std::nullopt), "-");
}

}  // namespace
}  // namespace lab
