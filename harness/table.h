// The console view of a results file: one table per (workload, threads),
// one row per allocator. A consumer of the records, like the JSON writer.
#pragma once

#include <string>

#include "harness/results.h"

namespace lab {

std::string render_table(const ResultsFile& results);

// "12.3 MiB"; "-" for nullopt.
std::string format_bytes(std::optional<double> bytes);

}  // namespace lab
