// run_in_child(): fork, a pipe for the output, poll until the deadline,
// kill the process group, reap.
#include "common/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lab {
namespace {

using Clock = std::chrono::steady_clock;

// Output beyond this is dropped (a runaway child must not fill memory).
constexpr size_t kMaxOutput = size_t{1} << 20;

int remaining_ms(Clock::time_point end) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Has the child ended (without reaping it, so its pid and process group
// stay reserved while we kill what is left of the group)?
bool has_ended(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

}  // namespace

std::string ChildOutcome::describe() const {
  char line[160];
  switch (end) {
    case End::kExited:
      snprintf(line, sizeof line, "exit %d", exit_code);
      return line;
    case End::kSignalled:
      snprintf(line, sizeof line, "signal %d (%s)", signal, strsignal(signal));
      return line;
    case End::kTimedOut:
      return "killed at the deadline";
    case End::kNotStarted:
      return "not started: " + output;
  }
  return "?";
}

ChildOutcome run_in_child(const std::function<int()>& body, std::chrono::milliseconds deadline) {
  ChildOutcome outcome;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    outcome.output = std::string("pipe: ") + strerror(errno);
    return outcome;
  }
  fflush(nullptr);  // or the child would print the parent's buffered output again
  const pid_t pid = fork();
  if (pid < 0) {
    outcome.output = std::string("fork: ") + strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return outcome;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    const int code = body();
    fflush(nullptr);
    _exit(code);
  }
  setpgid(pid, pid);  // also here: whichever runs first, the group exists before any kill
  close(fds[1]);
  const Clock::time_point end = Clock::now() + deadline;
  bool timed_out = false;
  // Read until every writer has closed the pipe (EOF) or the deadline.
  for (;;) {
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, remaining_ms(end));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = true;
      break;
    }
    char buffer[4096];
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (outcome.output.size() < kMaxOutput) outcome.output.append(buffer, static_cast<size_t>(n));
  }
  // A grandchild holding the pipe open past the child's end is not the
  // child's hang.
  if (timed_out && has_ended(pid)) timed_out = false;
  // EOF came: wait for the child itself to end, until the deadline.
  while (!timed_out && !has_ended(pid)) {
    if (remaining_ms(end) == 0) timed_out = true;
    else usleep(1000);
  }
  // The child is a zombie or still running, so its group id is still ours:
  // kill whatever is left in the group (the child at the deadline, and any
  // grandchildren), then reap the child.
  kill(-pid, SIGKILL);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    outcome.end = ChildOutcome::End::kTimedOut;
  } else if (WIFEXITED(status)) {
    outcome.end = ChildOutcome::End::kExited;
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.end = ChildOutcome::End::kSignalled;
    outcome.signal = WTERMSIG(status);
  }
  return outcome;
}

}  // namespace lab
