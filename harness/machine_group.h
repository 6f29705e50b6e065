// Machine groups (issue 15): which cells of a results file may be compared
// with each other. The shards of one matrix can run on different nodes; a
// ratio between two of them would be a ratio between two CPUs, not two
// allocators. Cells measured on one CPU (model name, family, model number,
// stepping) form a group; two nodes with the same CPU and another kernel or
// THP setting are one group. Ratios, the allocator summaries and compare's
// table never mix groups. This file owns the notion; results.cc (summaries),
// table.cc and analysis/lab_results.py (its Python twin) use it.
#pragma once

#include <string>
#include <vector>

#include "harness/results.h"

namespace lab {

// What identifies a CPU in a machine record (harness/machine.h): the
// fields as written ("" when absent; a version 1 file has the model name only).
struct CpuIdentity {
  std::string model;
  std::string family;
  std::string model_number;
  std::string stepping;

  bool operator==(const CpuIdentity&) const = default;
};

CpuIdentity cpu_identity(const Json& machine);

// A machine record's field as text: a string as written, a number as JSON
// prints it (a hand-made record may hold numbers), "" when absent or null.
std::string machine_text(const Json& machine, const char* key);

// "AMD EPYC (family 25, model 1, stepping 1)"; "NAME (family and model not
// recorded)" for a record that has the model name only. The gate names the
// baseline's and the current CPU by it.
std::string describe_cpu(const CpuIdentity& cpu);

// The machine a cell ran on: its own (a merge of shards run on several
// machines), else the file's.
const Json& machine_of(const ResultsFile& file, const Cell& cell);

struct MachineGroup {
  CpuIdentity cpu;
  // The CPU model name; with ", family F, model M, stepping S" in
  // parentheses when another group of the file has the same name.
  std::string label;
  std::vector<Json> machines;  // the distinct machine records of its cells, in the order first seen
  std::vector<size_t> cells;   // indices into the file's cells, in file order
};

// The file's machine groups in the order its cells first name them; one
// group (holding every cell) for a file measured on one machine, and for a
// file with no cells, none.
std::vector<MachineGroup> machine_groups(const ResultsFile& file);

}  // namespace lab
