// Per-operation latency sampling: which operations are timed, where their
// times go, and what the record says about them (issue 14).
//
// Every workload's blocks are made and freed by new_block / release_block
// (workloads/live_blocks.h). One call in N of each kind is timed (N a power
// of two), the same calls under every allocator:
//   - in the workloads' tight counted loops (mixed_lifo's batches,
//     random_free's and larson's replacements, producer_consumer's producer
//     and consumer), one step in each window of N numbered steps, at an
//     offset that varies from window to window (timed_step_of_window()),
//     picked by sampled_steps() once per loop, so the steps in between
//     carry no test at all;
//   - elsewhere (growth, mid_churn, phase_change, soak), the calls on blocks
//     whose id passes timed_block() (a multiply, a compare and a branch).
// Neither rule has a period: an allocator whose slow path comes every 64th
// call is timed there one time in 64, not always or never.
// Where a step number is a block id (mixed_lifo, producer_consumer with one
// consumer), the malloc and the free of the same blocks are timed. The
// timed call runs between two TSC reads (workloads/support/tsc.h) into the
// thread's LatencySampler. Only the timed region records: measure() binds
// each worker's sampler around run(); a timed call on an unbound thread is
// simply made.
//
// Cost, in callgrind instructions an operation against the drivers before
// sampling, hot_mag / glibc: mixed_lifo +1.8% / +0.9%, phase_change +1.8% /
// +0.9%, random_free and larson under +1%. A test on every call, the first
// designs, cost mixed_lifo under hot_mag +11.5% (a thread-local countdown
// +14%): GCC laid the loops out around the branch and spilled loop state.
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

// The rate, from --latency-sample=N (N = 2^g_latency_log2), set once
// before the workers start (LatencyRun); nothing is sampled until then.
inline constinit bool g_latency_on = false;
inline constinit unsigned g_latency_log2 = 0;
inline constinit uint32_t g_latency_threshold = 0;  // 2^32 / N - 1: see timed_block()

// The odd constant (2^64 / golden ratio) that spreads numbers over the
// sampled positions: x * kSampleMix mod 2^64 for x = 0, 1, 2, ... falls
// evenly and never in a period. (Ids 0 mod N, the first rule, were a
// period: growth under hot_mag timed the same refill-heavy mallocs in every
// run, p99 7.8-9.5 us, where every call timed gives 1.3 us.)
inline constexpr uint64_t kSampleMix = 0x9E3779B97F4A7C15ull;

// Block `id`'s malloc and free are timed (kById) when the top log2 N bits of
// its low 32 bits times kSampleMix32 are zero: one block in N, at gaps that
// are no power of two (they take two or three values near N). A 32-bit
// multiply by an immediate, a compare and a branch. (The 64-bit constant
// cost one more instruction a call, its load: phase_change +2.0% against
// the drivers before sampling.)
inline constexpr uint32_t kSampleMix32 = 0x9E3779B9u;  // 2^32 / golden ratio, odd
[[gnu::always_inline]] inline bool timed_block(uint64_t id) {
  return static_cast<uint32_t>(id) * kSampleMix32 <= g_latency_threshold;
}

// The timed step of window w of a counted loop (sampled_steps(), in
// workloads/live_blocks.h): the windows are the steps w * N .. w * N + N - 1,
// and each times one, at an offset the top bits of w * kSampleMix pick.
[[gnu::always_inline]] inline uint64_t timed_step_of_window(uint64_t w, unsigned log2) {
  return (w << log2) + (log2 == 0 ? 0 : (w * kSampleMix) >> (64 - log2));
}

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
  // Sets the rate to one call in `every`, rounded up to a power of two.
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
