// What a workload is. Each workload is one source file, compiled once per
// allocator into that allocator's driver; it allocates only through
// lab::allocate / lab::deallocate / lab::reallocate (lab/allocator.h), so
// the same code measures hakmem (inlined) and the system peers (malloc).
//
// Counting: one operation is one allocation call, one free call, or one
// realloc call, in every workload, so ops/sec means the same everywhere.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/flags.h"

namespace lab {

struct WorkloadConfig {
  uint64_t ops;      // total operations, over all workers
  unsigned threads;  // --threads
  uint64_t seed;
  std::map<std::string, int64_t> params;  // the workload's own, resolved
};

class Workload {
 public:
  virtual ~Workload() = default;
  // Worker threads to start (usually --threads).
  virtual unsigned workers() const = 0;
  // Timed: the work of worker w, on its own thread.
  virtual void run(unsigned worker) = 0;
  // Untimed: free everything worker w still holds, on the same thread.
  virtual void drain(unsigned worker) = 0;
  // Operations performed (allocations + frees + reallocs).
  virtual uint64_t ops_done() const = 0;
  // Blocks whose stamp was verified before they were freed.
  virtual uint64_t blocks_checked() const = 0;
  // The largest single request this run makes.
  virtual size_t max_block_size() const = 0;
  // True when the point of the run is what memory goes back to the OS.
  virtual bool measures_memory_return() const { return false; }
};

struct WorkloadDef {
  const char* name;
  const char* summary;
  uint64_t default_ops;
  std::vector<IntFlagSpec> params;
  // Returns nullptr and sets *error when the parameters cannot work
  // together (e.g. min size above max size).
  std::unique_ptr<Workload> (*make)(const WorkloadConfig& config, std::string* error);
};

// Every workload linked into this driver.
std::span<const WorkloadDef> all_workloads();

}  // namespace lab
