// Per-operation latency sampling: which operations are timed, where their
// times go, and what the record says about them (issue 14).
//
// Every workload's blocks are made and freed by new_block / release_block
// (workloads/live_blocks.h), and every block has an id unique in the run.
// A block's malloc and free are timed when its id is 0 modulo N (N a power
// of two): one call in N of each kind, the same blocks under every
// allocator. Ids advance by one per block made, so the
// timed calls fall at every position of a workload's batches in turn
// (mixed_lifo's 100 against N = 1024). The timed call runs between two TSC reads
// (workloads/support/tsc.h) into the thread's LatencySampler. Only the
// timed region records: measure() binds each worker's sampler around
// run(); a selected call on an unbound thread is simply made.
//
// Cost of a call not timed: a test of the id the block operation holds
// anyway against a global, and a branch. (A thread-local countdown, the
// first design, cost mixed_lifo 6.5 instructions an operation under
// hot_mag, +14%: its read-modify-write on every call held a register for
// the TLS offset, and GCC spilled loop state around the allocation.)
#pragma once

#include <cstdint>
#include <vector>

#include "workloads/support/latency_histogram.h"
#include "workloads/support/record.h"
#include "workloads/support/tsc.h"

namespace lab {

// One worker's samples. Invariant: malloc.total() and free.total() count
// the calls it timed; none is timed outside a binding.
struct LatencySampler {
  LatencyHistogram malloc_ticks;
  LatencyHistogram free_ticks;
};

// N - 1 for --latency-sample=N (N a power of two), set once before the
// workers start; all ones (no id matches) until then.
inline constinit uint64_t g_latency_mask = ~uint64_t{0};

// The malloc and the free of the same blocks are timed: one test of the id
// (a load, a test and a branch) serves both. (A second phase for frees cost
// a 64-bit constant and an add on every free.)
[[gnu::always_inline]] inline bool timed_block(uint64_t id) { return (id & g_latency_mask) == 0; }

// The calling thread's sampler (initial-exec: the drivers are executables,
// so no __tls_get_addr call is made for it); null outside the timed region.
inline thread_local constinit LatencySampler* t_latency_sampler [[gnu::tls_model("initial-exec")]] = nullptr;

// Binds `sampler` to the calling thread for its lifetime (nullptr: nothing
// is recorded). A thread the worker starts and joins at once (larson's
// lineage) binds its worker's sampler: only one of them runs at a time.
class LatencyBinding {
 public:
  explicit LatencyBinding(LatencySampler* sampler) { t_latency_sampler = sampler; }
  ~LatencyBinding() { t_latency_sampler = nullptr; }
  LatencyBinding(const LatencyBinding&) = delete;
  LatencyBinding& operator=(const LatencyBinding&) = delete;
};

// The run's samples: one sampler per worker, and the TSC's rate over the
// timed region. Built before the workers start.
class LatencyRun {
 public:
  // Sets g_latency_mask for one call in `every`, rounded up to a power of two.
  LatencyRun(unsigned workers, uint32_t every);
  // False when a histogram's counters could not be mapped.
  bool ok() const;
  LatencySampler* worker(unsigned w) { return &samplers_[w]; }
  void start() { start_ = TscInstant::now(); }
  void stop() { stop_ = TscInstant::now(); }
  // The merged histograms, summarized for the record.
  RunLatency summary() const;

 private:
  std::vector<LatencySampler> samplers_;
  uint32_t every_;
  TscInstant start_, stop_;
  uint64_t floor_ticks_ = 0;  // the median empty bracket: what a timed call costs at least
};

// Summarizes one operation's histogram (ticks) with `calibration`.
LatencyOp latency_op(const LatencyHistogram& h, const TscCalibration& calibration);

}  // namespace lab
