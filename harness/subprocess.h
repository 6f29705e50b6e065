// Runs a program in a fresh process with a deadline: its own process group
// (so a Ctrl-C aimed at the harness does not kill it mid-run and so a hung
// run can be killed with everything it started), stdout captured whole,
// stderr's last few KiB kept for error messages.
#pragma once

#include <string>
#include <vector>

namespace lab {

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

  bool ok() const { return started && !timed_out && !interrupted && signal == 0 && exit_code == 0; }
  // One line: "exited with code 3: error: ...", "killed by SIGSEGV", ...
  std::string describe_failure() const;
};

// argv[0] is the program path. `extra_env` entries ("NAME=value") are added
// to this process's environment. timeout_seconds <= 0 means no deadline.
// `stop_requested`, when non-null and set, kills the child and returns.
ProcessResult run_process(const std::vector<std::string>& argv, double timeout_seconds,
                          const std::vector<std::string>& extra_env = {},
                          const volatile int* stop_requested = nullptr);

}  // namespace lab
