// Instruction counts from valgrind --tool=callgrind: repeatable on a noisy
// machine, unlike time. The driver zeroes the counts when its timed region
// starts and dumps them, named "timed_region", when it ends, so the count
// covers the workload only (all threads), not start-up or the drain.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "workloads/support/record.h"

namespace lab {

struct CallgrindResult {
  uint64_t instructions = 0;  // Ir of the timed region
  uint64_t ops = 0;
  double instructions_per_op = 0;
  RunRecord record;  // the driver's record from that run
};

// Runs `driver_args` (argv[0] = driver) under callgrind. On failure returns
// nullopt and a one-line reason.
std::optional<CallgrindResult> run_callgrind(const std::vector<std::string>& driver_args,
                                             double timeout_seconds, std::string* error,
                                             const volatile int* stop_requested = nullptr,
                                             const std::vector<std::string>& extra_env = {});

// The "totals:" (or "summary:") Ir of a callgrind output file's text.
std::optional<uint64_t> callgrind_total_ir(const std::string& text);

}  // namespace lab
