// Runs a program in a fresh process with a deadline: its own process group
// (so a Ctrl-C aimed at the harness does not kill it mid-run and so a hung
// run can be killed with everything it started), stdout captured whole,
// stderr's last few KiB kept for error messages. What the child used
// (CPU time, peak RSS, faults, context switches) comes from wait4(2), which
// counts the child and every descendant it waited for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lab {

// The child's rusage as wait4(2) returned it: its own threads and its
// waited-for descendants (a compiler driver's cc1plus, say).
struct ChildUsage {
  double user_seconds = 0;
  double system_seconds = 0;
  int64_t max_rss_bytes = 0;  // ru_maxrss is in KiB; the largest of the child and its descendants
  int64_t major_faults = 0;
  int64_t minor_faults = 0;
  int64_t voluntary_context_switches = 0;
  int64_t involuntary_context_switches = 0;

  double cpu_seconds() const { return user_seconds + system_seconds; }
};

struct ProcessResult {
  bool started = false;
  std::string start_error;  // when !started
  bool timed_out = false;
  bool interrupted = false;  // killed because the harness was interrupted
  int exit_code = -1;        // when it exited
  int signal = 0;            // when a signal killed it
  double wall_seconds = 0;
  std::string stdout_text;
  std::string stderr_tail;
  std::optional<ChildUsage> usage;  // once the child was reaped

  bool ok() const { return started && !timed_out && !interrupted && signal == 0 && exit_code == 0; }
  // One line: "exited with code 3: error: ...", "killed by SIGSEGV", ...
  std::string describe_failure() const;
};

// argv[0] is the program path. `extra_env` entries ("NAME=value") are added
// to this process's environment, replacing a variable of the same name
// ("LD_PRELOAD=" empties an inherited one). timeout_seconds <= 0 means no deadline.
// `stop_requested`, when non-null and set, kills the child and returns.
ProcessResult run_process(const std::vector<std::string>& argv, double timeout_seconds,
                          const std::vector<std::string>& extra_env = {},
                          const volatile int* stop_requested = nullptr);

}  // namespace lab
