#include "harness/machine_group.h"

#include <fmt/format.h>

#include <algorithm>

namespace lab {
namespace {

std::string or_unknown(const std::string& s) { return s.empty() ? "?" : s; }

}  // namespace

// machine_info() writes strings (as /proc/cpuinfo has them); a hand-made
// record may hold numbers, which must group like the strings they print as.
std::string machine_text(const Json& machine, const char* key) {
  if (!machine.is_object() || !machine.contains(key)) return "";
  const Json& v = machine[key];
  if (v.is_string()) return v.get<std::string>();
  return v.is_null() ? "" : v.dump();
}

CpuIdentity cpu_identity(const Json& machine) {
  return {machine_text(machine, "cpu_model"), machine_text(machine, "cpu_family"),
          machine_text(machine, "cpu_model_number"), machine_text(machine, "cpu_stepping")};
}

std::string describe_cpu(const CpuIdentity& cpu) {
  if (cpu.family.empty()) return or_unknown(cpu.model) + " (family and model not recorded)";
  return fmt::format("{} (family {}, model {}, stepping {})", or_unknown(cpu.model), cpu.family,
                     or_unknown(cpu.model_number), or_unknown(cpu.stepping));
}

const Json& machine_of(const ResultsFile& file, const Cell& cell) { return cell.machine ? *cell.machine : file.machine; }

std::vector<MachineGroup> machine_groups(const ResultsFile& file) {
  std::vector<MachineGroup> groups;
  for (size_t i = 0; i < file.cells.size(); ++i) {
    const Json& machine = machine_of(file, file.cells[i]);
    const CpuIdentity cpu = cpu_identity(machine);
    auto g = std::find_if(groups.begin(), groups.end(), [&](const MachineGroup& m) { return m.cpu == cpu; });
    if (g == groups.end()) g = groups.insert(groups.end(), MachineGroup{cpu, "", {}, {}});
    g->cells.push_back(i);
    if (std::find(g->machines.begin(), g->machines.end(), machine) == g->machines.end()) g->machines.push_back(machine);
  }
  for (MachineGroup& g : groups) {
    g.label = or_unknown(g.cpu.model);
    // A VM's model name can be as vague as "AMD EPYC" for several
    // generations: then the numbers tell the groups apart.
    const bool shared = std::count_if(groups.begin(), groups.end(),
                                      [&](const MachineGroup& o) { return o.cpu.model == g.cpu.model; }) > 1;
    if (shared) g.label = describe_cpu(g.cpu);
  }
  return groups;
}

}  // namespace lab
