// The workloads every driver contains, in the order --list shows them.
#include <array>

#include "workloads/workload.h"

namespace lab {

extern const WorkloadDef kMixedLifo;

std::span<const WorkloadDef> all_workloads() {
  static const std::array<const WorkloadDef, 1> kAll = {kMixedLifo};
  return kAll;
}

}  // namespace lab
