// LatencyHistogram against exact percentiles of synthetic data, its bucket
// invariants, and merging.
#include "workloads/support/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "workloads/support/rng.h"

namespace lab {
namespace {

constexpr double kPercentiles[] = {0, 1, 25, 50, 90, 99, 99.9, 99.99, 100};

// The exact answer: the smallest value with at least p% of the values at
// or below it.
uint64_t exact_percentile(std::vector<uint64_t> values, double p) {
  std::sort(values.begin(), values.end());
  const double rank = std::max(1.0, std::ceil(p / 100 * static_cast<double>(values.size())));
  return values[static_cast<size_t>(rank) - 1];
}

// Latency-like data: most values near a floor, a long log-uniform tail.
std::vector<uint64_t> synthetic(uint64_t seed, size_t n) {
  Rng rng(seed);
  std::vector<uint64_t> values(n);
  for (uint64_t& v : values) {
    const double u = static_cast<double>(rng.next() >> 11) * 0x1p-53;
    v = rng.below(100) < 95 ? 40 + rng.below(200) : static_cast<uint64_t>(std::exp2(8 + 28 * u));
  }
  return values;
}

TEST(LatencyHistogram, EveryValueLiesInItsBucketAndEveryBucketIsUnderATenthOfAPercentWide) {
  Rng rng(7);
  std::vector<uint64_t> values = {0, 1, 2047, 2048, 2049, 4095, 4096, (uint64_t{1} << 39) + 12345,
                                  LatencyHistogram::kLimit - 1};
  for (int i = 0; i < 100'000; ++i) values.push_back(rng.next() >> (24 + rng.below(40)));
  for (const uint64_t v : values) {
    if (v >= LatencyHistogram::kLimit) continue;
    const size_t i = LatencyHistogram::index_of(v);
    ASSERT_LT(i, LatencyHistogram::kBuckets) << v;
    EXPECT_LE(LatencyHistogram::lowest_in(i), v);
    EXPECT_GE(LatencyHistogram::highest_in(i), v);
    const uint64_t width = LatencyHistogram::highest_in(i) - LatencyHistogram::lowest_in(i);
    EXPECT_LT(width, std::max<uint64_t>(1, LatencyHistogram::lowest_in(i) / LatencyHistogram::kHalf)) << v;
  }
  // Buckets tile the range with neither gap nor overlap.
  for (size_t i = 1; i < LatencyHistogram::kBuckets; ++i)
    ASSERT_EQ(LatencyHistogram::lowest_in(i), LatencyHistogram::highest_in(i - 1) + 1) << i;
  EXPECT_EQ(LatencyHistogram::highest_in(LatencyHistogram::kBuckets - 1), LatencyHistogram::kLimit - 1);
}

TEST(LatencyHistogram, PercentilesAreTheExactOnesToThreeSignificantDigits) {
  for (const uint64_t seed : {1, 2, 3}) {
    const std::vector<uint64_t> values = synthetic(seed, 200'000);
    LatencyHistogram h;
    ASSERT_TRUE(h.ok());
    for (const uint64_t v : values) h.record(v);
    EXPECT_EQ(h.total(), values.size());
    EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
    for (const double p : kPercentiles) {
      const uint64_t exact = exact_percentile(values, p);
      const uint64_t got = h.value_at_percentile(p);
      EXPECT_GE(got, exact) << "p" << p;
      EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 1024) + 1) << "p" << p;
    }
  }
}

TEST(LatencyHistogram, MergingEqualsRecordingEverythingInOne) {
  const std::vector<uint64_t> values = synthetic(11, 90'000);
  LatencyHistogram one, parts[3];
  for (size_t i = 0; i < values.size(); ++i) {
    one.record(values[i]);
    parts[i % 3].record(values[i]);
  }
  LatencyHistogram merged;
  for (const LatencyHistogram& p : parts) merged.merge(p);
  EXPECT_EQ(merged.total(), one.total());
  EXPECT_EQ(merged.max(), one.max());
  for (const double p : kPercentiles) EXPECT_EQ(merged.value_at_percentile(p), one.value_at_percentile(p)) << p;
  for (const uint64_t v : {0ull, 100ull, 30'000ull, 1ull << 30})
    EXPECT_EQ(merged.count_above(v), one.count_above(v)) << v;
}

TEST(LatencyHistogram, CountsAboveAThresholdAndKeepsTheTrueMaximumPastItsRange) {
  LatencyHistogram h;
  EXPECT_EQ(h.value_at_percentile(99), 0u) << "empty";
  for (int i = 0; i < 90; ++i) h.record(100);
  for (int i = 0; i < 9; ++i) h.record(50'000);
  h.record(LatencyHistogram::kLimit * 4);  // beyond the last bucket
  EXPECT_EQ(h.count_above(10'000), 10u);
  EXPECT_EQ(h.count_above(50'000), 1u);
  EXPECT_EQ(h.max(), LatencyHistogram::kLimit * 4);
  EXPECT_EQ(h.value_at_percentile(100), h.max());
  EXPECT_EQ(h.value_at_percentile(90), 100u);
  EXPECT_GE(h.value_at_percentile(99), 50'000u);
  EXPECT_LE(h.value_at_percentile(99), 50'000u + 50'000u / 1024);
}

}  // namespace
}  // namespace lab
