// What a workload is. Each workload is one source file, compiled once per
// allocator into that allocator's driver; it allocates only through
// lab::allocate / lab::deallocate / lab::reallocate (lab/allocator.h), so
// the same code measures hakmem (inlined) and the system peers (malloc).
//
// Counting: one operation is one allocation call, one free call, or one
// realloc call, in every workload, so ops/sec means the same everywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/flags.h"

namespace lab {

// What one worker did, counted in locals and stored once per phase (so
// counting costs nothing inside the timed loops). Invariants every run
// must satisfy (tests check them):
//   ops == allocations + frees + reallocs          (timed operations)
//   prepare_allocations + allocations == frees + drain_frees   (all freed)
//   checked == frees + drain_frees                 (every freed block checked)
struct alignas(64) WorkerCounts {
  uint64_t prepare_allocations = 0;  // untimed set-up (prepare)
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t reallocs = 0;
  uint64_t drain_frees = 0;          // untimed (drain)
  uint64_t checked = 0;
};

// A named moment of the run (e.g. "fall" of growth), in steady-clock ns.
struct PhaseMark {
  std::string name;
  int64_t at_ns;
};

// The phase marks of a run. Worker 0 speaks for the run; room for kMax
// marks is reserved before the timed region and marks past it are dropped,
// so marking never grows the vector through the allocator under test.
// (Names must be short enough for std::string to hold them in place.)
class PhaseLog {
 public:
  static constexpr size_t kMax = 2048;
  void reserve() { marks_.reserve(kMax); }
  void mark(unsigned worker, const char* name) {
    if (worker != 0 || marks_.size() >= marks_.capacity()) return;
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    marks_.push_back({name, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()});
  }
  const std::vector<PhaseMark>& marks() const { return marks_; }

 private:
  std::vector<PhaseMark> marks_;
};

struct WorkloadConfig {
  uint64_t ops;      // total operations, over all workers
  unsigned threads;  // --threads
  uint64_t seed;
  std::map<std::string, int64_t> params;  // the workload's own, resolved
  bool smoke = false;  // --smoke: a workload whose length is not --ops makes its run short
};

class Workload {
 public:
  explicit Workload(unsigned workers) : counts_(workers) {}
  virtual ~Workload() = default;
  // Worker threads to start (usually --threads).
  unsigned workers() const { return static_cast<unsigned>(counts_.size()); }
  // Untimed: set-up of worker w on its own thread, before the start barrier.
  virtual void prepare(unsigned /*worker*/) {}
  // Timed: the work of worker w, on its own thread.
  virtual void run(unsigned worker) = 0;
  // Untimed: free everything worker w still holds, on the same thread.
  virtual void drain(unsigned worker) = 0;
  // The largest single request this run makes.
  virtual size_t max_block_size() const = 0;
  // True when the point of the run is what memory goes back to the OS.
  virtual bool measures_memory_return() const { return false; }
  // True when blocks are allocated from threads other than the workers
  // (larson starts a new thread every round).
  virtual bool allocates_from_new_threads() const { return false; }
  // Moments worth marking on a time series (phases), if any.
  virtual std::vector<PhaseMark> phases() const { return {}; }
  // The bytes the workload holds (the sum of the sizes it asked for), for
  // the RSS series; called from the sampling thread while the workers run,
  // so it reads only atomics. nullopt: the workload does not track them.
  virtual std::optional<int64_t> live_bytes() const { return std::nullopt; }

  WorkerCounts totals() const {
    WorkerCounts t;
    for (const WorkerCounts& c : counts_) {
      t.prepare_allocations += c.prepare_allocations;
      t.allocations += c.allocations;
      t.frees += c.frees;
      t.reallocs += c.reallocs;
      t.drain_frees += c.drain_frees;
      t.checked += c.checked;
    }
    return t;
  }
  // Operations in the timed region: one per allocation, free or realloc.
  uint64_t ops_done() const {
    const WorkerCounts t = totals();
    return t.allocations + t.frees + t.reallocs;
  }

 protected:
  std::vector<WorkerCounts> counts_;  // one per worker, each on its own line
};

struct WorkloadDef {
  const char* name;
  const char* summary;
  uint64_t default_ops;
  int64_t default_rss_sample_ms;  // RSS time series unless --rss-sample-ms says otherwise
  std::vector<IntFlagSpec> params;
  // Returns nullptr and sets *error when the parameters cannot work
  // together (e.g. min size above max size).
  std::unique_ptr<Workload> (*make)(const WorkloadConfig& config, std::string* error);
  // True when the run's length is its own --minutes, not --ops (soak): the
  // driver refuses --ops for it, and compare leaves it out of its default
  // workloads (a cell takes minutes).
  bool length_in_minutes = false;
};

// False (and *error set) unless --min_size <= --max_size.
inline bool size_range_ok(const WorkloadConfig& config, std::string* error) {
  const int64_t lo = config.params.at("min_size"), hi = config.params.at("max_size");
  if (lo <= hi) return true;
  *error = "--min_size (" + std::to_string(lo) + ") is above --max_size (" + std::to_string(hi) + ")";
  return false;
}

// Every workload linked into this driver.
std::span<const WorkloadDef> all_workloads();

}  // namespace lab
