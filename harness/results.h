// The results file of a compare run: the plain records the runner emits,
// grouped into cells, plus the context needed to trust them later.
//
// Schema (version kSchemaVersion; pinned by results_test.cc):
//   schema_version, kind, status ("running" | "complete" | "interrupted"),
//   created_utc, updated_utc,
//   machine {cpu_model, cores, kernel, memory_bytes, thp_enabled, thp_defrag},
//   build {compiler, compilation_mode, git_commit, git_dirty,
//          driver {compiler, compilation_mode, compile_flags}},
//   config {allocators, workloads, threads, reps, ops, smoke, baseline,
//           timeout_seconds, params},
//   cells [{allocator, allocator_kind, workload, threads, mode, status,
//           error, refused, params {ops, seed, workers, workload_params},
//           runs [{rep, seq, wall_seconds, record}],
//           failures [{rep, reason}],
//           summary {reps, median_ops_per_sec, spread {min, p25, median, p75,
//                    max, rel_iqr, n}, ratio_to_baseline, ratio_to_bound,
//                    median_seconds,
//                    median_cpu_seconds, median_ops_per_cpu_second,
//                    median_peak_rss_bytes, median_rss_end_bytes,
//                    median_rss_after_drain_bytes, median_minor_faults},
//           callgrind? {instructions, ops, instructions_per_op}}]
// `record` is the driver's JSON record, verbatim.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/stats.h"

namespace lab {

inline constexpr int kSchemaVersion = 1;
// The speed-of-light reference variant: every table relates to it.
inline constexpr const char* kBoundAllocator = "bound";
inline constexpr const char* kResultsKind = "hakmem-lab/compare";

using Json = nlohmann::ordered_json;

// "workload/allocator/tN": how cells are named in messages and tables.
std::string cell_key(const std::string& workload, const std::string& allocator, int threads);

// The number at `path` in `j` (e.g. {"counters", "minor_faults", "value"}),
// or nullopt when a key is missing or the value is not a number.
std::optional<double> number_at(const Json& j, std::initializer_list<const char*> path);

struct RunEntry {
  int rep = 0;
  int seq = 0;  // position in the whole run's order, from 1: shows the interleaving
  double wall_seconds = 0;
  Json record;  // the driver's record
};

struct RunFailure {
  int rep = 0;
  std::string reason;
};

struct Cell {
  std::string allocator;
  std::string allocator_kind;  // "hakmem" or "system"
  std::string workload;
  int threads = 1;
  std::string mode = "linked";
  std::vector<RunEntry> runs;
  std::vector<RunFailure> failures;
  std::optional<std::string> refused;  // why the allocator declined this cell
  Json params = Json::object();        // {ops, seed, workers, workload_params} as the driver resolved them
  std::optional<Json> callgrind;

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
  int reps = 5;
  std::optional<int64_t> ops;  // nullopt: each workload's default
  bool smoke = false;
  std::string baseline = "glibc";
  double timeout_seconds = 300;
  std::map<std::string, std::string> params;  // extra --NAME=VALUE for drivers

  Json to_json() const;
  static std::optional<CompareConfig> from_json(const Json& j, std::string* error);
  bool operator==(const CompareConfig&) const = default;
};

struct CellSummary {
  int reps = 0;
  std::optional<Spread> ops_per_sec;
  std::optional<double> median_seconds;
  std::optional<double> median_cpu_seconds;
  std::optional<double> median_ops_per_cpu_second;
  std::optional<double> median_peak_rss_bytes;
  std::optional<double> median_rss_end_bytes;
  std::optional<double> median_rss_after_drain_bytes;
  std::optional<double> median_minor_faults;
};

CellSummary summarize(const Cell& cell);

struct ResultsFile {
  int schema_version = kSchemaVersion;
  std::string status = "running";
  std::string created_utc;
  std::string updated_utc;
  Json machine = Json::object();
  Json build = Json::object();
  CompareConfig config;
  std::vector<Cell> cells;

  Cell* find(const std::string& workload, const std::string& allocator, int threads);
  const Cell* find(const std::string& workload, const std::string& allocator, int threads) const;
  // Median ops/sec of `cell` over the baseline allocator's, same workload
  // and threads; nullopt when either is missing.
  std::optional<double> ratio_to(const Cell& cell, const std::string& reference) const;

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
