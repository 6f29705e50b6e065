// Test hooks of the program suite (--inject-fault=KIND@NAME): each makes
// one kind of bad input happen for real, so the tests can check that it
// fails its own cells with a one-line reason and every other cell still
// runs. Nothing is faked downstream: the probe really sees a library that
// did not load, the program really exits non-zero or prints other bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "harness/programs_suite.h"

namespace lab {

class ProgramFaults {
 public:
  // Adds "KIND@NAME"; a one-line error for anything else.
  std::optional<std::string> add(const std::string& text);
  // For --help.
  static const char* help();

  // The library to preload for `allocator`: a path that does not exist
  // under missing-library@ALLOCATOR.
  std::string library(const std::string& allocator, const std::string& library) const;
  // The program's executable: a path that does not exist under
  // missing-program@PROGRAM.
  std::string executable(const Program& program) const;
  // exit@ALLOCATOR: the command with its input path pointing at a file
  // that does not exist, so the program exits non-zero.
  std::optional<ProgramCommand> broken_command(const std::string& allocator, const ProgramCommand& command) const;
  // output@ALLOCATOR: that allocator's runs get an input made from another
  // seed (prepared beside the real one), so their output differs.
  bool other_input(const std::string& allocator) const;
  bool any_other_input() const;

 private:
  struct Fault {
    std::string kind, name;
  };
  bool has(const char* kind, const std::string& name) const;
  std::vector<Fault> faults_;
};

}  // namespace lab
