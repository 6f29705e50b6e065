// Per-operation latency sampling: which operations are timed, where their
// times go, and what the record says about them (issue 14).
//
// Every workload's blocks are made and freed by new_block / release_block
// (workloads/live_blocks.h). Those count down a thread-local gap and, when
// it reaches zero, time that one call between two TSC reads
// (workloads/support/tsc.h) into the thread's LatencySampler. The gaps are
// drawn uniformly from [1, 2N - 1] (mean N) by a per-worker PRNG, so a
// workload with a period (mixed_lifo's batches) is not sampled at one
// phase of it only. Only the timed region samples: measure() binds each
// worker's sampler around run(), and an unbound thread's countdown is
// parked at its maximum.
//
// Cost when not sampling: one decrement and one branch per call, on a
// thread-local word in the driver's static TLS block.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "workloads/support/latency_histogram.h"
#include "workloads/support/record.h"
#include "workloads/support/rng.h"
#include "workloads/support/tsc.h"

namespace lab {

// One worker's samples. Invariant: malloc.total() and free.total() count
// the calls it timed; none is timed outside a binding.
struct LatencySampler {
  LatencySampler(uint32_t every, uint64_t seed) : every(every), gaps(seed) {}
  uint32_t next_gap() { return static_cast<uint32_t>(1 + gaps.below(2 * uint64_t{every} - 1)); }

  LatencyHistogram malloc_ticks;
  LatencyHistogram free_ticks;
  uint32_t every;
  Rng gaps;
};

// What the block operations read on every call.
struct LatencyTls {
  static constexpr uint32_t kParked = std::numeric_limits<uint32_t>::max();
  uint32_t malloc_left = kParked;
  uint32_t free_left = kParked;
  LatencySampler* sampler = nullptr;
};

// initial-exec: the drivers are executables, so the word sits at a fixed
// offset from %fs and no __tls_get_addr call is ever made for it.
inline thread_local constinit LatencyTls t_latency [[gnu::tls_model("initial-exec")]];

// Binds `sampler` to the calling thread for its lifetime (nullptr: nothing
// is timed). A thread the worker starts and joins at once (larson's
// lineage) binds its worker's sampler: only one of them runs at a time.
class LatencyBinding {
 public:
  explicit LatencyBinding(LatencySampler* sampler) {
    t_latency.sampler = sampler;
    t_latency.malloc_left = sampler != nullptr ? sampler->next_gap() : LatencyTls::kParked;
    t_latency.free_left = sampler != nullptr ? sampler->next_gap() : LatencyTls::kParked;
  }
  ~LatencyBinding() { t_latency = LatencyTls{}; }
  LatencyBinding(const LatencyBinding&) = delete;
  LatencyBinding& operator=(const LatencyBinding&) = delete;
};

// The run's samples: one sampler per worker, and the TSC's rate over the
// timed region. Built before the workers start.
class LatencyRun {
 public:
  LatencyRun(unsigned workers, uint32_t every, uint64_t seed);
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
