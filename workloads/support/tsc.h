// The time-stamp counter as a clock for one operation, and its rate,
// measured against CLOCK_MONOTONIC over the run.
//
// Reading: `rdtscp` waits for every earlier instruction to finish before it
// reads the counter, and the `lfence` after it keeps later instructions
// from starting before the read; together they bracket exactly the call
// between two reads (Intel's "How to Benchmark Code Execution Times"
// pattern). The machines the lab runs on have an invariant TSC
// (constant_tsc, nonstop_tsc), the same rate on every core.
#pragma once

#include <x86intrin.h>

#include <cstdint>

namespace lab {

inline constexpr const char* kTscMethod = "rdtscp; lfence";

[[gnu::always_inline]] inline uint64_t tsc_now() {
  unsigned aux;
  const uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

// A TSC reading and CLOCK_MONOTONIC read between two TSC reads, so the
// pair's error is half the bracket.
struct TscInstant {
  uint64_t ticks = 0;
  int64_t mono_ns = 0;
  static TscInstant now();
};

// The TSC's rate between two instants: ticks_per_ns = ticks / ns.
struct TscCalibration {
  uint64_t ticks = 0;
  int64_t ns = 0;
  static TscCalibration between(const TscInstant& start, const TscInstant& end);
  double ticks_per_ns() const { return ns > 0 ? static_cast<double>(ticks) / static_cast<double>(ns) : 0; }
  double to_ns(uint64_t t) const { return ns > 0 ? static_cast<double>(t) / ticks_per_ns() : 0; }
  // Ticks in `ns` nanoseconds (rounded down).
  uint64_t from_ns(double n) const { return static_cast<uint64_t>(n * ticks_per_ns()); }
};

}  // namespace lab
