// The console view of a program-suite results file: one table per program,
// one row per allocator, in seconds rather than compare's Mops/s (one
// operation there is one whole program run). Reads the summaries the
// harness stored, like harness/table.h.
#pragma once

#include <string>

#include "harness/results.h"

namespace lab {

std::string render_program_table(const ResultsFile& results);

}  // namespace lab
