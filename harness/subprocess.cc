#include "harness/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace lab {
namespace {

constexpr size_t kStderrTail = 4096;

std::string first_line(const std::string& text) {
  size_t start = text.find_first_not_of("\n");
  if (start == std::string::npos) return "";
  const size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

std::string ProcessResult::describe_failure() const {
  if (!started) return "could not start: " + start_error;
  if (interrupted) return "interrupted";
  if (timed_out) return "timed out after " + std::to_string(static_cast<int>(wall_seconds)) + " s (killed)";
  std::string what;
  if (signal != 0) {
    what = std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
  } else {
    what = "exited with code " + std::to_string(exit_code);
  }
  const std::string line = first_line(stderr_tail);
  return line.empty() ? what : what + ": " + line;
}

namespace {

ChildUsage usage_of(const rusage& ru) {
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  ChildUsage u;
  u.user_seconds = seconds(ru.ru_utime);
  u.system_seconds = seconds(ru.ru_stime);
  u.max_rss_bytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  u.major_faults = ru.ru_majflt;
  u.minor_faults = ru.ru_minflt;
  u.voluntary_context_switches = ru.ru_nvcsw;
  u.involuntary_context_switches = ru.ru_nivcsw;
  return u;
}

// The name of a "NAME=value" entry, with its '='.
std::string env_name(const std::string& entry) { return entry.substr(0, entry.find('=') + 1); }

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, double timeout_seconds,
                          const std::vector<std::string>& extra_env, const volatile int* stop_requested) {
  ProcessResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.start_error = std::string("pipe: ") + strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string name = env_name(*e);
    const bool replaced = std::any_of(extra_env.begin(), extra_env.end(),
                                      [&](const std::string& x) { return env_name(x) == name; });
    if (!replaced) env_strings.emplace_back(*e);
  }
  for (const std::string& e : extra_env) env_strings.push_back(e);
  std::vector<char*> envp, args;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawn_error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.start_error = argv[0] + ": " + strerror(spawn_error);
    return result;
  }
  result.started = true;

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  char buffer[65536];
  while (open_fds > 0) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool stop = stop_requested != nullptr && *stop_requested != 0;
    if (!killed && (stop || (timeout_seconds > 0 && elapsed > timeout_seconds))) {
      kill(-pid, SIGKILL);
      killed = true;
      result.timed_out = !stop;
      result.interrupted = stop;
    }
    const int ready = poll(fds, 2, 100);
    if (ready < 0 && errno != EINTR) break;
    for (pollfd& fd : fds) {
      if (fd.fd < 0 || (fd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = read(fd.fd, buffer, sizeof buffer);
      if (n <= 0) {
        close(fd.fd);
        fd.fd = -1;
        --open_fds;
        continue;
      }
      if (fd.fd == out_pipe[0]) {
        result.stdout_text.append(buffer, static_cast<size_t>(n));
      } else {
        result.stderr_tail.append(buffer, static_cast<size_t>(n));
        if (result.stderr_tail.size() > 2 * kStderrTail)
          result.stderr_tail.erase(0, result.stderr_tail.size() - kStderrTail);
      }
    }
  }
  int status = 0;
  rusage ru{};
  pid_t reaped = -1;
  while ((reaped = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR) {
  }
  if (reaped == pid) result.usage = usage_of(ru);
  // Anything the run left behind in its group goes too.
  kill(-pid, SIGKILL);
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  // A scheduler that cancels a job signals all its processes: a child that
  // died of a signal while a stop was asked for died of the stop, and its
  // run is not a failure (nor is it measured).
  if (result.signal != 0 && stop_requested != nullptr && *stop_requested != 0) result.interrupted = true;
  return result;
}

}  // namespace lab
