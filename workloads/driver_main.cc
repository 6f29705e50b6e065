// main() of a driver: compiled once per allocator, with that allocator's
// lab/allocator.h, together with every workload source.
#include "lab/allocator.h"
#include "workloads/driver.h"
#include "workloads/settle_request.h"
#include "workloads/support/validate.h"

#ifndef LAB_COMPILATION_MODE
#define LAB_COMPILATION_MODE "unknown"
#endif

int main(int argc, char** argv) {
  return lab::driver_main(argc, argv,
                          {lab::kAllocatorKind, lab::kAllocatorName, LAB_COMPILATION_MODE, lab::all_workloads(),
                           lab::kAllocatorLimits, lab::kTestHooks, lab::kSyscallCounts, {lab::kLearnReport, lab::kLearnDecisions},
                           &lab::settle_request});
}
