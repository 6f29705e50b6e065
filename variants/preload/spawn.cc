// posix_spawn with stdout and stderr on one pipe, read to the end.
#include "variants/preload/spawn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "variants/preload/malloc_provider.h"

extern char** environ;

namespace preload_test {
namespace {

std::string name_of(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

std::string file_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string runfile(const std::string& rootpath) {
  char resolved[PATH_MAX];
  if (realpath(rootpath.c_str(), resolved) == nullptr) return rootpath;
  return resolved;
}

std::vector<std::string> preload_environment(const std::string& library, const std::vector<std::string>& extra) {
  std::vector<std::string> set;
  if (library != "none") {
    const std::string path = runfile(library);
    set.push_back("LD_PRELOAD=" + path);
    set.push_back(std::string(PRELOAD_TEST_MALLOC_FROM) + "=" + file_name(path));
  }
  set.insert(set.end(), extra.begin(), extra.end());
  // This process's environment minus whatever `set` or a test could
  // inherit by accident (a stray preload or hakmem option).
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string name = name_of(*e);
    if (name == "LD_PRELOAD" || name == PRELOAD_TEST_MALLOC_FROM || name.rfind("HAKMEM_", 0) == 0) continue;
    environment.emplace_back(*e);
  }
  environment.insert(environment.end(), set.begin(), set.end());
  return environment;
}

Outcome run(const std::string& program, const std::vector<std::string>& args,
            const std::vector<std::string>& environment) {
  Outcome outcome;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    outcome.output = "pipe failed";
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid;
  const int error = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (error != 0) {
    close(pipe_fds[0]);
    outcome.output = "cannot run " + program + ": " + strerror(error);
    return outcome;
  }
  // A child that hangs (a deadlock is what some of these tests look for)
  // is killed at the deadline, so the test fails with its output instead
  // of waiting for Bazel's timeout.
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kDeadlineSeconds);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
      kill(pid, SIGKILL);
      outcome.output += "\n[killed: still running after " + std::to_string(kDeadlineSeconds) + " s]\n";
      break;
    }
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      outcome.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

}  // namespace preload_test
