// One program run under one allocator, and the check that the allocator
// really is the malloc the program gets. The program runs unmodified in a
// fresh process (its own process group, a deadline; harness/subprocess.h)
// with the allocator's library in LD_PRELOAD (nothing for glibc); what it
// used comes from wait4's rusage, what it produced is checksummed and held
// against glibc's.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/programs_suite.h"
#include "workloads/support/record.h"

namespace lab {

// An allocator as the suite runs it.
struct PreloadedAllocator {
  std::string name;             // "glibc", "ultra_simple", ...
  std::string kind;             // "hakmem" or "system"
  std::string library;          // what LD_PRELOAD names; "" for glibc
  std::string malloc_provider;  // the file malloc resolved to in the probe
  std::vector<std::string> env;  // HAKMEM_<KEY>=value of an allocator with settings (VARIANT[key=value])
};

// Runs `probe` (a tiny program that prints the file defining its malloc)
// with `library` preloaded and returns that file, canonical. A library
// ld.so could not load is only a warning on stderr and the program runs
// on glibc's malloc; the probe catches it: nullopt, and *why says what
// malloc resolved to and what ld.so said.
std::optional<std::string> probe_malloc_provider(const std::string& probe, const std::string& library,
                                                 std::string* why);

// What every run of a program must reproduce: its reference run's (under
// glibc, before the timed runs).
struct ExpectedOutput {
  int exit_status = 0;
  std::string checksum;
};

// The run's setting, for its record.
struct RunSetting {
  SuiteSize size = SuiteSize::kSmall;
  uint64_t seed = 0;
  std::string package;  // installed_package()
  double timeout_seconds = 600;
};

struct ProgramRun {
  // When it exited as expected and produced the expected bytes.
  std::optional<RunRecord> record;
  std::string failure;  // else one line naming the program and the allocator
  std::optional<int> exit_status;
  std::optional<std::string> checksum;  // of what it produced, when it exited 0
  double wall_seconds = 0;
  bool interrupted = false;  // Ctrl-C: not a failure, not a measurement
};

// Runs `command` once under `allocator`. With `expected` unset (the
// reference run) any exit 0 counts; else the exit status and checksum must
// equal it.
ProgramRun run_program(const Program& program, const ProgramCommand& command, const PreloadedAllocator& allocator,
                       const std::optional<ExpectedOutput>& expected, const RunSetting& setting);

}  // namespace lab
