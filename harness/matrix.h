// Running the cells of a results file: dry runs first (refusals, resolved
// parameters, parameter errors before any timing), then repetitions
// interleaved across cells (rep 1 of every cell, then rep 2, ...), then
// optional callgrind counts. compare and gate both drive their cells
// through here, saving after every run so nothing measured is lost.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/results.h"

namespace lab {

// Arguments for one run of `cell`'s driver, after the driver's path.
// `callgrind` is true for the instruction-count run.
using CellArgs = std::function<std::vector<std::string>(const Cell& cell, bool callgrind)>;

struct MatrixRun {
  ResultsFile* results;
  std::map<std::string, std::string> driver_of;  // allocator -> driver path
  CellArgs args;
  double timeout_seconds = 300;
  int reps = 1;
  // Persists `results` after each run; false when it could not.
  std::function<bool()> save;
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

// Dry-runs every cell not yet failed: records refusals and each cell's
// resolved parameters, and the drivers' build facts in results->build.
// A cell whose driver rejects its parameters (exit 2) is marked failed with
// the driver's one-line message; the distinct messages are returned, so the
// caller can report each once and decide whether the rest may run.
std::vector<std::string> dry_run_cells(MatrixRun& run);

// Runs the missing repetitions, interleaved; stops early when asked
// (stop_requested()). Returns false if a save failed.
bool run_interleaved(MatrixRun& run, Progress& progress);

// One callgrind run for every cell that `wanted` accepts and that has no
// count yet. Returns false if a save failed.
bool count_instructions(MatrixRun& run, Progress& progress, const std::function<bool(const Cell&)>& wanted);

}  // namespace lab
