// LatencyHistogram: a log-linear histogram of durations (in TSC ticks),
// HdrHistogram's idea in a fixed shape: three significant digits, fixed
// memory, and no allocation while recording (the counters are mapped from
// the OS once, outside the allocator under test, and only the pages of
// buckets that are hit are ever touched).
//
// Layout. Values below kExact are counted exactly. Above, every power-of-two
// range [2^k, 2^(k+1)) is cut into kHalf equal sub-buckets, so the bucket a
// value lands in is less than value/kHalf wide (1/1024 < 0.1%: three
// significant digits). Values past kLimit land in the last bucket; max()
// stays exact.
//
// Invariants (i = index_of(v), for v < kLimit):
//   lowest_in(i) <= v <= highest_in(i)
//   highest_in(i) - lowest_in(i) < max(1, lowest_in(i) / kHalf)
//   total() == sum of every bucket's count;  max() == the largest value recorded
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace lab {

class LatencyHistogram {
 public:
  static constexpr unsigned kHalfBits = 10;
  static constexpr uint64_t kHalf = uint64_t{1} << kHalfBits;  // sub-buckets per power of two
  static constexpr uint64_t kExact = 2 * kHalf;                 // [0, kExact) counted one by one
  static constexpr unsigned kTopBit = 40;                       // 2^40 ticks: minutes at any TSC rate
  static constexpr uint64_t kLimit = uint64_t{1} << kTopBit;
  static constexpr size_t kBuckets = kExact + (kTopBit - kHalfBits - 1) * kHalf;

  LatencyHistogram();
  ~LatencyHistogram();
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;
  LatencyHistogram(LatencyHistogram&& other) noexcept;
  LatencyHistogram& operator=(LatencyHistogram&&) = delete;

  // True when the counters could be mapped; record() needs it.
  bool ok() const { return counts_ != nullptr; }

  void record(uint64_t value) {
    ++counts_[index_of(value < kLimit ? value : kLimit - 1)];
    ++total_;
    if (value > max_) max_ = value;
  }

  // Adds every count of `other`: the same as having recorded its values here.
  void merge(const LatencyHistogram& other);

  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }
  // The smallest recorded value v such that at least `percentile`% of the
  // values are <= v, reported as the highest value of its bucket (never
  // above max()). 0 when nothing was recorded.
  uint64_t value_at_percentile(double percentile) const;
  // How many recorded values lie in buckets entirely above `value`.
  uint64_t count_above(uint64_t value) const;

  static size_t index_of(uint64_t value) {
    if (value < kExact) return static_cast<size_t>(value);
    const unsigned k = static_cast<unsigned>(std::bit_width(value)) - 1;  // 2^k <= value < 2^(k+1), k >= 11
    const unsigned shift = k - kHalfBits;
    return static_cast<size_t>(kExact + (k - kHalfBits - 1) * kHalf + ((value >> shift) - kHalf));
  }
  static uint64_t lowest_in(size_t index) {
    if (index < kExact) return index;
    const uint64_t above = index - kExact;
    const unsigned shift = static_cast<unsigned>(above / kHalf) + 1;
    return (kHalf + above % kHalf) << shift;
  }
  static uint64_t highest_in(size_t index) {
    if (index < kExact) return index;
    const unsigned shift = static_cast<unsigned>((index - kExact) / kHalf) + 1;
    return lowest_in(index) + (uint64_t{1} << shift) - 1;
  }

 private:
  uint64_t* counts_ = nullptr;  // kBuckets counters, mapped
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace lab
