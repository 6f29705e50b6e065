// The console view of a results file: one table per (workload, threads),
// one row per allocator. A consumer of the records, like the JSON writer.
// When the cells come from more than one machine group (a merge of shards
// run on several CPUs: harness/machine_group.h), each group's tables follow
// a heading naming its CPU, cores, kernels and THP settings.
#pragma once

#include <string>

#include "harness/results.h"

namespace lab {

struct TableOptions {
  // malloc and free p99 / p99.9 columns (the records' sampled latency):
  // compare --latency; the table is wide enough without them.
  bool latency = false;
};

std::string render_table(const ResultsFile& results, const TableOptions& options = {});

// "85/410": a p99 and a p99.9 in ns, "-" when either is missing.
std::string format_tail(std::optional<double> p99_ns, std::optional<double> p99_9_ns);

// A rate in Mops/s: one decimal from 1 Mops/s up ("12.3"), three
// significant digits below ("0.0526"): a workload of 50 k ops/s (mid_churn,
// whose blocks are up to 2 MiB) must not read "0.0". "-" for nullopt.
std::string format_mops(std::optional<double> per_second);

// "12.3 MiB"; "-" for nullopt.
std::string format_bytes(std::optional<double> bytes);

}  // namespace lab
