// Runs a program in a fresh process, optionally with a libhakmem_<variant>.so
// preloaded, and collects what it printed and how it ended. For the preload
// tests: every check of a library runs in its own process, since a preloaded
// malloc is the whole process's.
#pragma once

#include <string>
#include <vector>

namespace preload_test {

struct Outcome {
  int exit_code = -1;  // the exit status, or 128 + the signal that ended it
  std::string output;  // stdout and stderr, interleaved as written
};

// The environment for a child that preloads `library` (a path; "none" for
// plain glibc) and expects its malloc from it (malloc_provider.h), on top
// of this process's environment, `extra` (NAME=VALUE) last.
std::vector<std::string> preload_environment(const std::string& library,
                                             const std::vector<std::string>& extra = {});

// Runs `program` with `args` in `environment`, waits for it; one still
// running after kDeadlineSeconds is killed (SIGKILL: exit_code 137).
inline constexpr int kDeadlineSeconds = 60;
Outcome run(const std::string& program, const std::vector<std::string>& args,
            const std::vector<std::string>& environment);

// The absolute path of a runfile given by its path in the workspace (what
// $(rootpath) expands to); tests run in the runfiles tree's workspace root.
std::string runfile(const std::string& rootpath);

}  // namespace preload_test
