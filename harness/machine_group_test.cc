// Machine groups (harness/machine_group.h): what makes two machines one
// group, and how a group is labelled.
#include "harness/machine_group.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

Json cpu(const char* model, const char* family, const char* number, const char* stepping) {
  return {{"cpu_model", model}, {"cpu_family", family}, {"cpu_model_number", number}, {"cpu_stepping", stepping},
          {"cores", 2}, {"kernel", "Linux 6.1"}, {"thp_enabled", "madvise"}, {"thp_defrag", "madvise"}};
}

// A file whose cells ran on `machines`, one cell each.
ResultsFile on(const std::vector<Json>& machines) {
  ResultsFile f;
  f.machine = machines.front();
  for (const Json& m : machines) {
    Cell c;
    c.allocator = "glibc";
    c.workload = "w" + std::to_string(f.cells.size());
    c.machine = m;
    f.cells.push_back(c);
  }
  return f;
}

TEST(MachineGroups, OneCpuIsOneGroupWhateverItsKernelThpOrCores) {
  Json node2 = cpu("EPYC", "25", "1", "1");
  node2["kernel"] = "Linux 6.6";
  node2["thp_enabled"] = "always";
  node2["cores"] = 64;
  const auto groups = machine_groups(on({cpu("EPYC", "25", "1", "1"), node2, cpu("EPYC", "25", "1", "1")}));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].label, "EPYC");
  EXPECT_EQ(groups[0].cells, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(groups[0].machines.size(), 2u) << "the distinct records, for the table's heading";

  ResultsFile file_machine = on({cpu("EPYC", "25", "1", "1")});
  file_machine.cells[0].machine.reset();
  EXPECT_EQ(machine_of(file_machine, file_machine.cells[0]), file_machine.machine) << "a cell without its own";
  EXPECT_TRUE(machine_groups(ResultsFile{}).empty());
}

TEST(MachineGroups, ANameSharedByTwoCpusIsLabelledWithFamilyModelAndStepping) {
  const auto groups = machine_groups(
      on({cpu("AMD EPYC", "23", "49", "0"), cpu("Xeon", "6", "85", "4"), cpu("AMD EPYC", "25", "1", "1")}));
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].label, "AMD EPYC (family 23, model 49, stepping 0)");
  EXPECT_EQ(groups[1].label, "Xeon") << "a name of its own needs nothing more";
  EXPECT_EQ(groups[2].label, "AMD EPYC (family 25, model 1, stepping 1)");
  EXPECT_EQ(groups[2].cells, std::vector<size_t>{2});

  // A version 1 record has the name only; a number groups as the text it prints as.
  Json numbers = cpu("Xeon", "6", "85", "4");
  numbers["cpu_family"] = 6;
  const auto mixed = machine_groups(on({Json{{"cpu_model", "Xeon"}}, numbers, cpu("Xeon", "6", "85", "4")}));
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_EQ(mixed[0].label, "Xeon (family and model not recorded)");
  EXPECT_EQ(mixed[1].label, "Xeon (family 6, model 85, stepping 4)");
  EXPECT_EQ(mixed[1].cells, (std::vector<size_t>{1, 2}));
}

}  // namespace
}  // namespace lab
