// The program suite: unmodified programs from Debian packages (installed by
// tools/lab), each with an input generated at run time from a seed, each
// spending a real share of its time in malloc, and each printing or writing
// the same bytes in every run, so a run under another allocator can be
// checked byte for byte. This file owns which programs there are, their
// commands and input sizes; running them is programs_run.h's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lab {

// Input sizes: smoke for CI (a fraction of a second per run), small for a
// quick look, full for numbers to quote.
enum class SuiteSize { kSmoke, kSmall, kFull };
std::optional<SuiteSize> parse_suite_size(const std::string& text);
const char* suite_size_name(SuiteSize size);

// One run of a program, resolved: what to execute and what it writes.
struct ProgramCommand {
  std::vector<std::string> argv;     // argv[0]: the program's absolute path
  std::vector<std::string> env;      // "NAME=value" for the run (the allocator's LD_PRELOAD is added to these)
  std::vector<std::string> outputs;  // files it writes: removed before each run, in the checksum after
  std::string input;                 // the path in argv it reads its work from
};

// Where a program's inputs are written, and from what.
struct InputPlace {
  std::string dir;          // an empty directory of its own
  std::string scripts_dir;  // harness/program_scripts/ (the interpreters' scripts)
  SuiteSize size = SuiteSize::kSmall;
  uint64_t seed = 0;
};

struct Program {
  const char* name;
  const char* executable;  // absolute path, checked before anything runs
  const char* package;     // the Debian package tools/lab installs for it
  int threads;             // threads it runs its work on
  const char* what;        // one line for --help
  // Writes its inputs into place.dir and returns its command, or nullopt
  // with a one-line reason.
  std::optional<ProgramCommand> (*prepare)(const InputPlace& place, std::string* error);
};

const std::vector<Program>& program_suite();
const Program* find_program(const std::string& name);
std::string program_names();

// The Debian package that owns the program's executable (symlinks
// followed) and its version, e.g. "python3.11-minimal 3.11.2-1+b1", for
// the record; "unknown (why)" when dpkg cannot say.
std::string installed_package(const Program& program);

}  // namespace lab
