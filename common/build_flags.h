// The compiler flags this binary was really built with, read back from its
// own ELF section .GCC.command.line (written by -frecord-gcc-switches, set
// in .bazelrc). Results record these instead of what we think we passed.
#pragma once

#include <string>
#include <vector>

namespace lab {

// The distinct flags of every translation unit linked into the running
// executable, in first-seen order; empty if the section is missing.
std::vector<std::string> compile_flags_of_self();

}  // namespace lab
