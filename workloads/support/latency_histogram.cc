#include "workloads/support/latency_histogram.h"

#include <sys/mman.h>

#include <cmath>
#include <utility>

namespace lab {

namespace {
constexpr size_t kBytes = LatencyHistogram::kBuckets * sizeof(uint64_t);
}

LatencyHistogram::LatencyHistogram() {
  // Straight from the OS: the workload's plumbing never goes through the
  // allocator under test, and untouched buckets cost no RSS.
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) counts_ = static_cast<uint64_t*>(p);
}

LatencyHistogram::~LatencyHistogram() {
  if (counts_ != nullptr) munmap(counts_, kBytes);
}

LatencyHistogram::LatencyHistogram(LatencyHistogram&& other) noexcept
    : counts_(std::exchange(other.counts_, nullptr)), total_(other.total_), max_(other.max_) {}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.total_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i)
    if (other.counts_[i] != 0) counts_[i] += other.counts_[i];
  total_ += other.total_;
  if (other.max_ > max_) max_ = other.max_;
}

uint64_t LatencyHistogram::value_at_percentile(double percentile) const {
  if (total_ == 0) return 0;
  if (percentile >= 100) return max_;
  // The rank of the value asked for, 1-based: at least 1, at most total.
  const double exact = std::ceil(percentile / 100.0 * static_cast<double>(total_));
  const uint64_t rank = exact < 1 ? 1 : static_cast<uint64_t>(exact);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return highest_in(i) < max_ ? highest_in(i) : max_;
  }
  return max_;
}

uint64_t LatencyHistogram::count_above(uint64_t value) const {
  if (total_ == 0) return 0;
  uint64_t n = 0;
  for (size_t i = value < kLimit ? index_of(value) + 1 : kBuckets; i < kBuckets; ++i) n += counts_[i];
  return n;
}

}  // namespace lab
