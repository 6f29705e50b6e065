// The workloads every driver contains, in the order --list shows them.
#include <array>

#include "workloads/workload.h"

namespace lab {

extern const WorkloadDef kMixedLifo;
extern const WorkloadDef kRandomFree;
extern const WorkloadDef kProducerConsumer;
extern const WorkloadDef kLarson;
extern const WorkloadDef kGrowth;
extern const WorkloadDef kMidChurn;
extern const WorkloadDef kPhaseChange;
extern const WorkloadDef kSoak;

std::span<const WorkloadDef> all_workloads() {
  static const std::array<const WorkloadDef, 8> kAll = {kMixedLifo, kRandomFree, kProducerConsumer, kLarson,
                                                        kGrowth,     kMidChurn,   kPhaseChange,      kSoak};
  return kAll;
}

}  // namespace lab
