// Runs a function in a forked child process under a deadline and reports
// how it ended and what it printed. For tests whose subject may hang (a
// fork storm, a deadlock) or must run in a process of its own (a lowered
// RLIMIT_AS, a filled address space): a hang becomes a failure with a
// reason instead of a stalled test run.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace lab {

struct ChildOutcome {
  enum class End {
    kExited,     // returned from the body or called exit: exit_code is valid
    kSignalled,  // ended by a signal (abort, a crash): signal is valid
    kTimedOut,   // still running at the deadline: killed with its process group
    kNotStarted, // pipe or fork failed: output says why
  };
  End end = End::kNotStarted;
  int exit_code = -1;
  int signal = 0;
  std::string output;  // the child's stdout and stderr, interleaved as written

  bool exited_with(int code) const { return end == End::kExited && exit_code == code; }
  // One line: "exit 3", "signal 6 (Aborted)", "killed at the 5000 ms
  // deadline", "not started: fork: ...".
  std::string describe() const;
};

// Forks; the child runs `body` with stdout and stderr sent to a pipe, in a
// process group of its own, and exits with what body returns. The parent
// collects the output until the child ends or `deadline` passes, then kills
// the child's whole process group (grandchildren too) and reaps the child.
// Fork copies only the calling thread: body must not need locks that other
// threads of the parent may hold (as with a gtest death test).
ChildOutcome run_in_child(const std::function<int()>& body, std::chrono::milliseconds deadline);

}  // namespace lab
