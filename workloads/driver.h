// The body of every driver's main(): flags, workload selection, the
// measured run and the one-line JSON record on stdout. Compiled once; the
// per-allocator part of a driver is only the workloads and this call.
#pragma once

#include <span>

#include "allocator/api/c_api.h"
#include "workloads/allocator_limits.h"
#include "workloads/workload.h"

namespace lab {

// hakmem's learner report (hak_learn_report, hak_learn_decisions), linked
// in; both nullptr for a peer.
struct LearnAbi {
  void (*report)(hak_learning* out);
  size_t (*decisions)(hak_learn_decision* out, size_t first, size_t max);
};

struct DriverIdentity {
  const char* allocator_kind;  // "hakmem" or "system"
  const char* allocator_name;  // variant name, or glibc / jemalloc / ...
  const char* compilation_mode;
  std::span<const WorkloadDef> workloads;
  AllocatorLimits limits;
  bool test_hooks;  // built with LAB_TEST_HOOKS (--inject-fault=corrupt works)
  // hakmem's hak_syscall_counts when it is linked in, else nullptr (a peer;
  // under LD_PRELOAD the driver looks the function up in the library).
  void (*syscall_counts)(hak_syscalls* out);
  // Likewise for the learner's report.
  LearnAbi learn;
  // The settle step's request, calling this driver's allocator
  // (workloads/settle_request.h).
  void (*settle_request)();
};

int driver_main(int argc, char** argv, const DriverIdentity& identity);

}  // namespace lab
