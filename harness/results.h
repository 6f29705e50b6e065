// The results file: the driver records of a matrix run, grouped into
// cells, each cell's summary over its repetitions, and the context needed
// to trust them later. This file owns the results file's schema (version
// kSchemaVersion); results/SCHEMA.md documents every field, and the record
// inside each run is workloads/support/record.h's RunRecord.
//
// Summaries are computed here once (ResultsFile::summarize, before every
// save and after every load) and stored in the file; the table, the gate
// and the analysis read them and compute no medians of their own.
// Version 1 and 2 files still load (their summaries are recomputed);
// writing one back makes it version 3 (`bazel run //harness:migrate`).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/shard.h"

#include "harness/stats.h"
#include "workloads/support/record.h"

namespace lab {

inline constexpr int kSchemaVersion = 3;
inline constexpr int kOldestReadableSchema = 1;
// The speed-of-light reference variant: every table relates to it.
inline constexpr const char* kBoundAllocator = "bound";
inline constexpr const char* kResultsKind = "hakmem-lab/compare";

using Json = nlohmann::ordered_json;

// How a cell's driver reaches its allocator. "linked": the driver is built
// on it (hakmem's fast path inlined into the workload; the peers through
// their shared libraries). "preload": the one glibc-linked driver under
// LD_PRELOAD of the allocator's library, identical binaries for everyone:
// the mode to quote allocator-against-allocator ratios from.
inline constexpr const char* kLinkedMode = "linked";
inline constexpr const char* kPreloadMode = "preload";

// "workload/allocator/tN" (linked) or "workload/allocator/tN/preload": how
// cells are named in messages, tables and gate baselines.
std::string cell_key(const std::string& workload, const std::string& allocator, int threads,
                     const std::string& mode = kLinkedMode);

// The number at `path` in `j` (e.g. {"counters", "minor_faults", "value"}),
// or nullopt when a key is missing or the value is not a number.
std::optional<double> number_at(const Json& j, std::initializer_list<const char*> path);

struct RunEntry {
  int rep = 0;
  int seq = 0;  // position in the whole run's order, from 1: shows the interleaving
  double wall_seconds = 0;
  RunRecord record;  // the driver's record
};

struct RunFailure {
  int rep = 0;
  std::string reason;
};

// A cell's repetitions summarized: every metric of run_metrics() (a
// Spread over the runs that have it) and the throughput ratios.
struct CellSummary {
  int reps = 0;
  std::map<std::string, Spread> metrics;  // by RunMetric name
  // Median ops/s over the baseline's (or bound's) median, same workload
  // and threads; nullopt when either is missing.
  std::optional<double> ratio_to_baseline;
  std::optional<double> ratio_to_bound;
  // Median peak RSS over the baseline's median peak RSS (below 1 holds
  // less memory); nullopt when either is missing. Since version 3.
  std::optional<double> peak_rss_to_baseline;
  // ops/s over the baseline's in the same repetition, in rep order.
  std::vector<double> ratios_to_baseline_by_rep;

  const Spread* spread(const std::string& metric) const;
  std::optional<double> median(const std::string& metric) const;
};

struct Cell {
  std::string allocator;
  std::string allocator_kind;  // "hakmem" or "system"
  std::string workload;
  int threads = 1;
  std::string mode = kLinkedMode;
  std::vector<RunEntry> runs;
  std::vector<RunFailure> failures;
  std::optional<std::string> refused;  // why the allocator declined this cell
  Json params = Json::object();        // {ops, seed, workers, workload_params} as the driver resolved them
  std::optional<Json> callgrind;
  CellSummary summary;  // ResultsFile::summarize()
  // The options a setting allocator (hot_mag[learn=on]) runs its cells
  // with: {"HAKMEM_LEARN": "on"}; empty otherwise (and not written).
  std::map<std::string, std::string> settings;
  // The machine the cell ran on, when it is not the file's (a merge of
  // shards run on several machines: harness/merge.h); not written otherwise.
  std::optional<Json> machine;

  // "refused" when the allocator declined the cell (bound, multi-threaded);
  // "failed" once any run failed; else "complete" when `reps` runs are in;
  // else "partial".
  std::string status(int reps) const;
  std::string key() const;  // "workload/allocator/tN"
};

struct CompareConfig {
  std::vector<std::string> allocators;
  std::vector<std::string> workloads;  // empty until resolved: every workload
  std::vector<int> threads;
  int reps = 0;  // set by each command (its --reps)
  std::optional<int64_t> ops;  // nullopt: each workload's default
  bool smoke = false;
  std::string baseline;  // the allocator ratios divide by
  // Modes to measure (kLinkedMode, kPreloadMode): hakmem variants in each,
  // a system allocator once (preload when asked for: the same binary as
  // the variants' preload cells). Absent from version 1 files: linked.
  std::vector<std::string> modes = {kLinkedMode};
  double timeout_seconds = 0;  // set by each command (its --timeout)
  std::map<std::string, std::string> params;  // extra --NAME=VALUE for drivers
  // compare --library: allocator -> the preload library it names (another
  // build of a variant, say), run in preload mode only. Written only when
  // non-empty, so files without it read as before.
  std::map<std::string, std::string> libraries;

  Json to_json() const;
  static std::optional<CompareConfig> from_json(const Json& j, std::string* error);
  bool operator==(const CompareConfig&) const = default;
};


// One allocator in one mode across the whole file: geometric means, over
// every (workload, threads) where it and the baseline both have medians, of
// its cells' ratios to the baseline. The single number per allocator that a
// suite of programs or workloads is quoted by (mimalloc-bench's summary
// line); `cells` says how many pairs it spans, so a mean over fewer cells
// (a failed or refused one) is visible as such. Since version 3.
// When the cells span several machine groups (harness/machine_group.h),
// one per (allocator, mode, group): a mean never mixes CPUs.
struct AllocatorSummary {
  std::string allocator;
  std::string mode;
  int cells = 0;
  std::optional<double> geomean_ratio_to_baseline;     // ops/s: above 1 is faster
  std::optional<double> geomean_peak_rss_to_baseline;  // peak RSS: below 1 holds less
  // The machine group's label when the file has several; empty (and not
  // written) otherwise, so one machine's files read as before.
  std::string machine;

  bool operator==(const AllocatorSummary&) const = default;
};

struct ResultsFile {
  int schema_version = kSchemaVersion;
  std::string status = "running";
  std::string created_utc;
  std::string updated_utc;
  Json machine = Json::object();
  Json build = Json::object();
  CompareConfig config;
  // compare --shard=K/N: which part of config's matrix this file holds.
  // Written only when present, so unsharded files read as before.
  std::optional<ShardRecord> shard;
  std::vector<Cell> cells;
  // One per (allocator, mode), or per (allocator, mode, machine group) when
  // the cells span several groups, in the order the cells first name them;
  // computed by summarize().
  std::vector<AllocatorSummary> allocator_summaries;

  // The cell of `allocator` for this workload and thread count: in `mode`,
  // or, when it has no cell in that mode, its cell in the other one (a
  // system allocator is measured once, and bound only linked).
  Cell* find(const std::string& workload, const std::string& allocator, int threads,
             const std::string& mode = kLinkedMode);
  const Cell* find(const std::string& workload, const std::string& allocator, int threads,
                   const std::string& mode = kLinkedMode) const;
  // Recomputes every cell's summary from its runs, then the allocator
  // summaries from the cells'. A cell's references (the baseline, bound)
  // are looked up among the cells of its machine group only: a reference
  // measured on another CPU gives no ratio.
  void summarize();

  Json to_json() const;
  // Parses and validates; on failure returns nullopt and a one-line error.
  static std::optional<ResultsFile> from_json(const Json& j, std::string* error);
};

// Writes `text` to `path` through a temporary file in the same directory
// and rename(2): a reader sees the old file or the new one, never half.
bool write_atomically(const std::string& path, const std::string& text, std::string* error);

// Reads and parses a JSON file. On failure the error is "cannot open
// (<reason>)" or "not valid JSON (<reason>)", for the caller to prefix.
std::optional<Json> read_json_file(const std::string& path, std::string* error);

// Reads and parses a results file; one-line error naming the file.
std::optional<ResultsFile> load_results(const std::string& path, std::string* error);

std::string utc_now();

}  // namespace lab
