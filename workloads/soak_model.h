// The soak workload's service, apart from the allocator and the clock: what
// one worker allocates and frees at each tick of its life, and the exact
// bytes it holds. workloads/soak.cc runs it through the allocator under
// test, paced against the clock; soak_model_test.cc runs it through a
// counting malloc and checks the bookkeeping.
//
// A service's life compressed: the long-lived population (connections,
// cache entries) turns over --turnovers times in the run, as it would over
// hours; short-lived request objects live while their request is one of
// the last --in-flight; every --burst-every ticks a burst (a large response,
// a cache refill) is held for --burst-hold ticks. All three kinds draw
// their sizes log-uniformly from bands that drift with the run's progress
// x: the centre is 2^c(x) with c(x) = 5 + 5 (1 - cos(3 pi x)) / 2, so the
// sizes rise, fall and rise again, and freed holes stop fitting new sizes.
//   requests    [2^(c-1), 2^(c+1)]   16 B .. 2 KiB
//   population  [2^(c+1), 2^(c+4)]   64 B .. 16 KiB
//   bursts      [2^(c+3), 2^(c+7)]   256 B .. 128 KiB
// Deterministic for a seed and a worker: the schedule never reads a clock.
//
// Invariants, after every call:
//   live_bytes() == sum of size over every block held (requests, population, burst)
//   allocations() - frees() == number of blocks held
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "workloads/support/blocks.h"
#include "workloads/support/rng.h"

namespace lab {

struct SoakShape {
  uint64_t ticks = 6000;  // the run's length in ticks
  uint32_t requests_per_tick = 200;
  uint32_t objects_per_request = 8;
  uint32_t in_flight = 64;     // requests held at once
  uint32_t population = 8000;  // long-lived objects
  uint32_t turnovers = 4;      // times the population is replaced in the run
  uint32_t burst_every = 500;  // ticks from one burst to the next
  uint32_t burst_hold = 50;    // ticks a burst is held
  uint64_t burst_bytes = 8 << 20;
};

// Blocks provides LiveBlock make(size_t size, uint64_t id) and
// void release(const LiveBlock&).
template <class Blocks>
class SoakWorker {
 public:
  SoakWorker(const SoakShape& shape, uint64_t seed, uint64_t first_id, Blocks blocks)
      : shape_(shape), rng_(seed), next_id_(first_id), blocks_(blocks) {}

  // Untimed: room for every block ever held at once, and the population as
  // it is at x = 0. No later call grows a vector.
  void prepare() {
    requests_.assign(uint64_t{shape_.in_flight} * shape_.objects_per_request, LiveBlock{});
    request_used_.assign(shape_.in_flight, 0);
    burst_.reserve(shape_.burst_bytes / 256 + 1);
    population_.resize(shape_.population);
    for (LiveBlock& b : population_) b = make(size_in(0, 1, 4));
  }

  void tick(uint64_t t) {
    const double x = static_cast<double>(t) / static_cast<double>(std::max<uint64_t>(shape_.ticks, 1));
    for (uint32_t r = 0; r < shape_.requests_per_tick; ++r) {
      const uint64_t slot = next_request_++ % shape_.in_flight;
      LiveBlock* objects = &requests_[slot * shape_.objects_per_request];
      for (uint32_t i = 0; i < request_used_[slot]; ++i) release(objects[i]);
      for (uint32_t i = 0; i < shape_.objects_per_request; ++i) objects[i] = make(size_in(x, -1, 1));
      request_used_[slot] = shape_.objects_per_request;
    }
    const uint64_t replaced = uint64_t{shape_.population} * shape_.turnovers;
    const uint64_t due = (t + 1) * replaced / shape_.ticks - t * replaced / shape_.ticks;
    for (uint64_t i = 0; i < due && !population_.empty(); ++i) {
      LiveBlock& b = population_[rng_.below(population_.size())];
      release(b);
      b = make(size_in(x, 1, 4));
    }
    if (!burst_.empty() && t >= burst_until_) release_burst();
    if (shape_.burst_every != 0 && t % shape_.burst_every == shape_.burst_every / 2 && burst_.empty()) {
      for (uint64_t bytes = 0; bytes < shape_.burst_bytes && burst_.size() < burst_.capacity();) {
        burst_.push_back(make(size_in(x, 3, 7)));
        bytes += burst_.back().size;
      }
      burst_until_ = t + shape_.burst_hold;
    }
  }

  // Untimed: frees everything still held.
  void drain() {
    for (uint64_t slot = 0; slot < shape_.in_flight; ++slot) {
      for (uint32_t i = 0; i < request_used_[slot]; ++i) release(requests_[slot * shape_.objects_per_request + i]);
      request_used_[slot] = 0;
    }
    for (const LiveBlock& b : population_) release(b);
    population_.clear();
    release_burst();
  }

  uint64_t live_bytes() const { return live_; }
  uint64_t allocations() const { return allocations_; }
  uint64_t frees() const { return frees_; }
  uint64_t held_blocks() const { return allocations_ - frees_; }

 private:
  // A size drawn log-uniformly from [2^(c+lo), 2^(c+hi)] at progress x.
  size_t size_in(double x, int lo, int hi) {
    const double c = 5 + 5 * (1 - std::cos(3 * std::numbers::pi * x)) / 2;
    const double u = static_cast<double>(rng_.next() >> 11) * 0x1p-53;
    return static_cast<size_t>(std::max(1.0, std::floor(std::exp2(c + lo + u * (hi - lo)))));
  }
  LiveBlock make(size_t size) {
    live_ += size;
    ++allocations_;
    return blocks_.make(size, next_id_++);
  }
  void release(const LiveBlock& b) {
    live_ -= b.size;
    ++frees_;
    blocks_.release(b);
  }
  void release_burst() {
    for (const LiveBlock& b : burst_) release(b);
    burst_.clear();
  }

  SoakShape shape_;
  Rng rng_;
  uint64_t next_id_;
  Blocks blocks_;
  std::vector<LiveBlock> requests_;      // in_flight slots of objects_per_request
  std::vector<uint32_t> request_used_;   // blocks held in each slot
  uint64_t next_request_ = 0;
  std::vector<LiveBlock> population_;
  std::vector<LiveBlock> burst_;
  uint64_t burst_until_ = 0;
  uint64_t live_ = 0;
  uint64_t allocations_ = 0, frees_ = 0;
};

}  // namespace lab
