// The timed region of a driver: worker threads start together on a
// barrier, the clock and counters run from the release of the barrier until
// the last worker finishes, then (untimed) each worker frees what it still
// holds on its own thread. RSS is read inside this process before, at the
// end of the timed region, after the drain, and after an optional settle
// period (below).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "workloads/support/latency.h"

namespace lab {

struct MeasureOptions {
  unsigned workers = 1;
  // RSS sampling period in milliseconds; 0 disables the series.
  int64_t rss_sample_ms = 0;
  // Called on the main thread just before the timed region starts and just
  // after it ends, outside the perf counters (the driver reads hakmem's
  // system-call counts there); may be empty.
  std::function<void()> at_start;
  std::function<void()> at_end;
  // Milliseconds the process stays lightly alive after the drain before
  // rss_after_settle is read (0: no settle step; see measure.cc), making
  // one settle_request every kSettleRequestMs meanwhile.
  int64_t settle_ms = 0;
  std::function<void()> settle_request;
  // Per-call latency: each worker's sampler is bound around its run(), and
  // the TSC is calibrated over the timed region. May be null.
  LatencyRun* latency = nullptr;
  // The workload's live bytes, read at every RSS sample; may be empty.
  std::function<std::optional<int64_t>()> live_bytes;
};

// The settle step's pace: one request per this many milliseconds.
inline constexpr int64_t kSettleRequestMs = 10;

struct RssSample {
  int64_t t_ns;  // since the start of the timed region
  int64_t rss_bytes;
  std::optional<int64_t> live_bytes;  // the workload's, when it tracks them
};

struct Measurement {
  int64_t start_steady_ns = 0;  // steady clock just before the timed region: origin of rss_series
  double seconds = 0;
  double cpu_seconds = 0;  // user + system, all threads
  // getrusage over the timed region, all threads.
  int64_t major_faults = 0;
  int64_t voluntary_context_switches = 0;
  std::optional<int64_t> rss_start_bytes;
  std::optional<int64_t> rss_end_bytes;
  std::optional<int64_t> rss_after_drain_bytes;
  std::optional<int64_t> rss_after_settle_bytes;  // only when options.settle_ms > 0
  std::optional<int64_t> peak_rss_bytes;
  bool peak_rss_reset = false;  // true: peak covers only the timed region and drain
  nlohmann::ordered_json counters;
  std::vector<RssSample> rss_series;
  int64_t drain_start_ns = 0;
  int64_t drain_end_ns = 0;
  int64_t settle_end_ns = 0;  // == drain_end_ns without a settle step
};

// On worker thread w: prepare(w) untimed before the start barrier, run(w)
// timed, then drain(w) untimed once every worker has finished running;
// then, with options.settle_ms, the settle step on the calling thread.
Measurement measure(const MeasureOptions& options, const std::function<void(unsigned)>& prepare,
                    const std::function<void(unsigned)>& run, const std::function<void(unsigned)>& drain);

}  // namespace lab
