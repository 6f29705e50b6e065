#include "workloads/support/tsc.h"

#include <time.h>

namespace lab {

TscInstant TscInstant::now() {
  const uint64_t before = tsc_now();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t after = tsc_now();
  return {before + (after - before) / 2, int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec};
}

TscCalibration TscCalibration::between(const TscInstant& start, const TscInstant& end) {
  return {end.ticks - start.ticks, end.mono_ns - start.mono_ns};
}

}  // namespace lab
