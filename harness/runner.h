// The matrix runner under compare, gate and microbench. It owns what the
// three share: the flags every matrix command has (repetitions, timeout,
// output file, resume), the output file (written atomically after every
// run, rescued to /tmp when it cannot be), interleaved repetitions (rep 1
// of every cell, then rep 2, ...: slow drift of a shared machine hits every
// cell alike), progress lines, Ctrl-C between runs, and the driver
// protocol (workloads/support/protocol.h). Each main states only its
// matrix (which cells, with which driver arguments) and its report.
//
// Order of a driver matrix (DriverMatrix::run): dry runs of every cell
// (refusals, resolved parameters and parameter errors, before any timing),
// then the timed repetitions, interleaved, then one callgrind run for each
// cell that wants an instruction count.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/drivers.h"
#include "harness/flag_table.h"
#include "harness/results.h"
#include "harness/subprocess.h"
#include "workloads/support/protocol.h"

namespace lab {

// The flags of every matrix command. Each command writes its own defaults
// where it declares its MatrixFlags; add_matrix_flags() shows them in --help.
struct MatrixFlags {
  MatrixFlags(int default_reps, int64_t default_timeout_seconds)
      : reps(default_reps), timeout_seconds(default_timeout_seconds) {}
  int reps;
  int64_t timeout_seconds;
  std::string out;  // "" until resolve_out(): the default path
  bool resume = false;
};

// How a command's matrix flags read: the range of --reps, what --out holds.
struct MatrixFlagRules {
  explicit MatrixFlagRules(std::string out_help_text) : out_help(std::move(out_help_text)) {}
  std::string out_help;      // what --out holds
  std::string out_default;   // how the default reads in --help; "" = no output file unless given
  int64_t min_reps = 1;
  int64_t max_reps = 1000;
  std::string reps_help = "repetitions per cell; use 5 or more to compare";
  bool resume = false;       // the command can continue an interrupted --out
};

void add_matrix_flags(FlagTable& table, MatrixFlags* flags, const MatrixFlagRules& rules);

// --out as given (relative to where `bazel run` was typed), or
// results/runs/<stem>-<UTC time>.json in the workspace when `stem` is set.
void resolve_out(MatrixFlags* flags, const std::string& stem);

// The output file. save() writes it whole through a temporary file and
// rename(2); finish() saves once more and, if that fails, writes the same
// text to /tmp so nothing measured is lost.
class OutputFile {
 public:
  OutputFile(std::string path, std::function<std::string()> render);
  // Checks the file may be written (creating its directory) and writes the
  // first version. An existing file is an error unless `resuming`; the
  // message suggests --resume when the command is `resumable`. A one-line
  // error, or nullopt.
  std::optional<std::string> create(bool resuming, bool resumable);
  bool save();
  // Saves once more; false (after writing the rescue copy) if that or any
  // earlier save failed.
  bool finish();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::function<std::string()> render_;
  bool failed_ = false;  // some save failed: finish() rescues
};

// One progress line per run on stderr (rewritten in place on a terminal).
class Progress {
 public:
  explicit Progress(int total);
  void report(const std::string& line, double wall_seconds);
  void skip() { ++done_; }
  void finish();

 private:
  int total_;
  int done_ = 0;
  double elapsed_ = 0;
  bool tty_;
};

// What one run of a unit returned: its progress line and wall time.
struct RunReport {
  std::string line;
  double wall_seconds = 0;
  bool interrupted = false;  // Ctrl-C killed it: stop here
};

// Runs `reps` repetitions of every unit, interleaved, skipping what
// done(unit, rep) says is already in, saving after every run; stops early
// on Ctrl-C. A failed save is remembered by `out` (OutputFile::finish).
void interleave(int units, int reps, Progress& progress, const std::function<bool(int unit, int rep)>& done,
                const std::function<RunReport(int unit, int rep)>& run, OutputFile& out);

// How a driver run ended, read through the driver protocol: never from
// stderr text.
struct DriverOutcome {
  enum class Kind { kOk, kBadFlags, kValidationFailed, kRefused, kFailed, kInterrupted };
  Kind kind = Kind::kFailed;
  std::string reason;   // one line, for every kind but kOk
  Json line;            // the status line (the record, for kOk)
  double wall_seconds = 0;
};
DriverOutcome run_driver(const std::vector<std::string>& argv, double timeout_seconds,
                         const std::vector<std::string>& extra_env = {});
// The same, for a process that already ran.
DriverOutcome driver_outcome(const ProcessResult& r);

// Arguments for one run of `cell`'s driver, after the driver's path.
// `callgrind` is true for the instruction-count run.
using CellArgs = std::function<std::vector<std::string>(const Cell& cell, bool callgrind)>;

// How a matrix run ended.
struct MatrixEnd {
  bool interrupted = false;  // Ctrl-C: the results are marked "interrupted"
  bool saved = true;         // every save reached the output file
};

// One run of a cell: the command line and the environment it adds.
struct Invocation {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
};

// Whether allocator `a` is measured in `mode` when `modes` are asked for:
// a system allocator is reached through its shared library in both modes,
// so it is measured once, preloaded when preload is asked for; a
// --library allocator is a library alone, preload only, and so is a
// setting allocator (hot_mag[learn=on]); a hakmem variant in every mode
// asked. (A variant without a library, bound, is dropped
// from preload by the caller, which knows why.) compare's matrix and
// microbench share it.
bool measured_in_mode(const AllocatorInfo& a, const std::string& mode, const std::vector<std::string>& modes);


// A matrix of driver cells in a results file. A linked cell runs its
// allocator's driver; a preload cell runs the glibc driver with LD_PRELOAD
// of the allocator's library and --preloaded=NAME (workloads/driver.cc
// checks the library really took malloc over).
struct DriverMatrix {
  ResultsFile* results = nullptr;
  std::map<std::string, std::string> driver_of;   // allocator -> its linked driver's path
  std::map<std::string, std::string> library_of;  // allocator -> library to preload ("" for glibc)
  std::map<std::string, std::string> no_library;  // allocator -> why it cannot run preloaded
  CellArgs args;
  double timeout_seconds = 300;
  int reps = 1;
  // Which cells get one callgrind run (none when unset).
  std::function<bool(const Cell&)> callgrind;
  // Which cells get timed repetitions (all when unset).
  std::function<bool(const Cell&)> timed;

  // Dry-runs every cell not yet failed: records refusals, each cell's
  // resolved parameters, and the drivers' build facts. A cell whose driver
  // rejects its parameters is marked failed with the driver's reason; the
  // distinct reasons are returned, for the caller to report each once and
  // decide whether the rest may run.
  std::vector<std::string> dry_run();

  // Finds the driver of every allocator in `names`, and with kPreloadMode
  // in `modes` the glibc driver and every library to preload. A name it
  // does not know goes to *unknown with why (its cells fail alone), or is
  // an error when `unknown` is null; a known driver missing from the
  // runfiles is an error; an allocator without a library goes to
  // no_library. Returns the one-line error, or nullopt.
  std::optional<std::string> locate(const char* argv0, const std::vector<std::string>& names,
                                    const std::vector<std::string>& modes,
                                    std::map<std::string, std::string>* unknown);

  // Preload cells of allocators without a library: dropped where the
  // allocator has a linked cell beside them, else refused, with why.
  void refuse_cells_without_library();

  // How `cell` is run: its timed run, or its callgrind run.
  Invocation invocation(const Cell& cell, bool callgrind) const;

  // The timed repetitions, interleaved, then the callgrind runs, with
  // Ctrl-C stopping between runs; saves after every run and finishes
  // `out` with the results' final status.
  MatrixEnd run(OutputFile& out);
};

// The output file of a results file: its JSON, stamped when written.
OutputFile results_output(const std::string& path, ResultsFile* results);

// Says on stderr how many cells of `results` failed and where their
// reasons are (nothing when none did); returns that count. Printed before
// a table, so the two streams never interleave on a terminal.
int report_failed_cells(const ResultsFile& results, int reps, const std::string& out_path);

// A new results file for `config`: machine and build facts, and one cell
// per (workload, threads, allocator), in that order. `failed_names` maps
// an allocator or workload name to why its cells fail without running.
ResultsFile new_results(const CompareConfig& config, const std::string& compilation_mode,
                        const std::map<std::string, std::string>& failed_names = {});

// With --resume, the interrupted results file at --out, which must have
// been run with the same `config`; else new_results(). A one-line error
// when it cannot be resumed.
std::optional<ResultsFile> open_results(const MatrixFlags& flags, const CompareConfig& config,
                                        const std::string& compilation_mode,
                                        const std::map<std::string, std::string>& failed_names, std::string* error);

// Keeps only shard `spec` of a new results file's matrix, and records it
// (results->shard). The unit is a (workload, threads) group with all its
// allocators and modes: a system allocator runs once, preloaded, and is the
// baseline of the linked cells too, so splitting by mode would put a ratio's
// two sides on two machines.
void apply_shard(ResultsFile* results, const ShardSpec& spec);

}  // namespace lab
