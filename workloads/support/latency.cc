#include "workloads/support/latency.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace lab {

namespace {

// What two back-to-back TSC reads cost: the median of many empty brackets.
uint64_t empty_bracket_ticks() {
  constexpr int kTries = 1001;
  std::vector<uint64_t> ticks(kTries);
  for (uint64_t& t : ticks) {
    const uint64_t t0 = tsc_now();
    t = tsc_now() - t0;
  }
  std::nth_element(ticks.begin(), ticks.begin() + kTries / 2, ticks.end());
  return ticks[kTries / 2];
}

constexpr double kOver = 10'000;  // ns: the outliers worth tracing to a cause

}  // namespace

LatencyRun::LatencyRun(unsigned workers, uint32_t every)
    : samplers_(workers), every_(static_cast<uint32_t>(std::bit_ceil(uint64_t{every}))) {
  g_latency_log2 = static_cast<unsigned>(std::countr_zero(every_));
  g_latency_threshold = ~uint32_t{0} >> g_latency_log2;
  g_latency_on = true;
  floor_ticks_ = empty_bracket_ticks();
}

bool LatencyRun::ok() const {
  return std::all_of(samplers_.begin(), samplers_.end(),
                     [](const LatencySampler& s) { return s.malloc_ticks.ok() && s.free_ticks.ok(); });
}

LatencyOp latency_op(const LatencyHistogram& h, const TscCalibration& calibration) {
  LatencyOp op;
  op.samples = h.total();
  if (op.samples == 0 || calibration.ns <= 0) return op;
  const auto ns_at = [&](double percentile) { return calibration.to_ns(h.value_at_percentile(percentile)); };
  op.p50_ns = ns_at(50);
  op.p90_ns = ns_at(90);
  op.p99_ns = ns_at(99);
  op.p99_9_ns = ns_at(99.9);
  op.p99_99_ns = ns_at(99.99);
  op.max_ns = calibration.to_ns(h.max());
  op.over_10us = h.count_above(calibration.from_ns(kOver));
  // Five points per decade of the tail, while a point still has a sample
  // beyond it (1 / (1 - p) <= samples), then the maximum.
  for (int j = 0;; ++j) {
    const double tail = std::pow(10.0, -j / 5.0);  // 1 - p
    if (1 / tail > static_cast<double>(op.samples)) break;
    const double percentile = 100 * (1 - tail);
    op.curve.push_back({percentile, ns_at(percentile)});
  }
  op.curve.push_back({100, op.max_ns});
  return op;
}

RunLatency LatencyRun::summary() const {
  LatencyHistogram malloc_ticks, free_ticks;
  for (const LatencySampler& s : samplers_) {
    malloc_ticks.merge(s.malloc_ticks);
    free_ticks.merge(s.free_ticks);
  }
  const TscCalibration calibration = TscCalibration::between(start_, stop_);
  RunLatency l;
  l.method = kTscMethod;
  l.sample_every = every_;
  l.tsc_ticks_per_ns = calibration.ticks_per_ns();
  l.calibration_ns = calibration.ns;
  l.calibration_ticks = calibration.ticks;
  l.timer_floor_ns = calibration.to_ns(floor_ticks_);
  l.malloc = latency_op(malloc_ticks, calibration);
  l.free = latency_op(free_ticks, calibration);
  return l;
}

}  // namespace lab
