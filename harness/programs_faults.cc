#include "harness/programs_faults.h"

#include <algorithm>
#include <filesystem>

namespace lab {
namespace {

constexpr const char* kKinds[] = {"missing-library", "missing-program", "exit", "output"};
constexpr const char* kNowhere = "/nonexistent/hakmem-lab-injected-fault/";

}  // namespace

std::optional<std::string> ProgramFaults::add(const std::string& text) {
  const size_t at = text.find('@');
  const std::string kind = text.substr(0, at);
  if (at == std::string::npos || at + 1 == text.size() ||
      std::find_if(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; }) ==
          std::end(kKinds))
    return "--inject-fault takes missing-library@ALLOCATOR, missing-program@PROGRAM, exit@ALLOCATOR or "
           "output@ALLOCATOR, got '" + text + "'";
  faults_.push_back({kind, text.substr(at + 1)});
  return std::nullopt;
}

const char* ProgramFaults::help() {
  return "test hook: missing-library@ALLOCATOR preloads a path that does not exist; "
         "missing-program@PROGRAM looks for the program where it is not; exit@ALLOCATOR points each program at "
         "an input that does not exist (it exits non-zero); output@ALLOCATOR gives each program an input from "
         "another seed (its output differs from glibc's)";
}

bool ProgramFaults::has(const char* kind, const std::string& name) const {
  return std::any_of(faults_.begin(), faults_.end(), [&](const Fault& f) { return f.kind == kind && f.name == name; });
}

std::string ProgramFaults::library(const std::string& allocator, const std::string& library) const {
  if (!has("missing-library", allocator)) return library;
  return kNowhere + (library.empty() ? "lib" + allocator + ".so" : std::filesystem::path(library).filename().string());
}

std::string ProgramFaults::executable(const Program& program) const {
  if (!has("missing-program", program.name)) return program.executable;
  return kNowhere + std::filesystem::path(program.executable).filename().string();
}

std::optional<ProgramCommand> ProgramFaults::broken_command(const std::string& allocator,
                                                            const ProgramCommand& command) const {
  if (!has("exit", allocator)) return std::nullopt;
  ProgramCommand broken = command;
  const std::string missing = kNowhere + std::filesystem::path(command.input).filename().string();
  for (std::string& arg : broken.argv)
    for (size_t at = arg.find(command.input); at != std::string::npos; at = arg.find(command.input, at))
      arg.replace(at, command.input.size(), missing), at += missing.size();
  broken.input = missing;
  return broken;
}

bool ProgramFaults::other_input(const std::string& allocator) const { return has("output", allocator); }

bool ProgramFaults::any_other_input() const {
  return std::any_of(faults_.begin(), faults_.end(), [](const Fault& f) { return f.kind == "output"; });
}

}  // namespace lab
