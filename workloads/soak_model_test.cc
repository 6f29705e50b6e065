// The soak's schedule through a counting heap: its live-byte count is the
// exact sum of what it holds at every tick, it never grows a vector after
// prepare(), its sizes drift, and it is the same for the same seed.
#include "workloads/soak_model.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

namespace lab {
namespace {

// A heap that knows every block it handed out and not yet got back.
struct CountingHeap {
  std::map<void*, size_t>* held;
  LiveBlock make(size_t size, uint64_t id) const {
    void* p = std::malloc(size);
    (*held)[p] = size;
    return {p, size, id};
  }
  void release(const LiveBlock& b) const {
    auto it = held->find(b.p);
    ASSERT_NE(it, held->end()) << "a block freed twice or never made";
    EXPECT_EQ(it->second, b.size);
    held->erase(it);
    std::free(b.p);
  }
};

uint64_t sum(const std::map<void*, size_t>& held) {
  uint64_t total = 0;
  for (const auto& [p, size] : held) total += size;
  return total;
}

SoakShape small_shape() {
  SoakShape s;
  s.ticks = 400;
  s.requests_per_tick = 20;
  s.objects_per_request = 4;
  s.in_flight = 8;
  s.population = 300;
  s.turnovers = 3;
  s.burst_every = 50;
  s.burst_hold = 10;
  s.burst_bytes = 256 << 10;
  return s;
}

TEST(SoakModel, LiveBytesAreExactlyWhatItHoldsAtEveryTick) {
  std::map<void*, size_t> held;
  SoakWorker<CountingHeap> w(small_shape(), 42, 1, CountingHeap{&held});
  w.prepare();
  EXPECT_EQ(w.live_bytes(), sum(held));
  EXPECT_EQ(w.held_blocks(), held.size());
  bool saw_burst = false;
  for (uint64_t t = 0; t < small_shape().ticks; ++t) {
    const uint64_t before = w.live_bytes();
    w.tick(t);
    ASSERT_EQ(w.live_bytes(), sum(held)) << "tick " << t;
    ASSERT_EQ(w.held_blocks(), held.size()) << "tick " << t;
    saw_burst |= w.live_bytes() > before + (128 << 10);
  }
  EXPECT_TRUE(saw_burst) << "a burst adds its bytes at once";
  w.drain();
  EXPECT_EQ(w.live_bytes(), 0u);
  EXPECT_TRUE(held.empty());
  EXPECT_EQ(w.allocations(), w.frees());
}

TEST(SoakModel, ThePopulationTurnsOverAsOftenAsAsked) {
  std::map<void*, size_t> held;
  const SoakShape shape = small_shape();
  SoakWorker<CountingHeap> w(shape, 7, 1, CountingHeap{&held});
  w.prepare();
  const uint64_t prepared = w.allocations();
  for (uint64_t t = 0; t < shape.ticks; ++t) w.tick(t);
  // Allocations in the run: every request object, every replacement, every burst block.
  const uint64_t requests = shape.ticks * shape.requests_per_tick * shape.objects_per_request;
  const uint64_t replaced = uint64_t{shape.population} * shape.turnovers;
  EXPECT_GE(w.allocations() - prepared, requests + replaced);
  EXPECT_LE(w.allocations() - prepared, requests + replaced + (shape.ticks / shape.burst_every + 1) * 1024);
  w.drain();
}

TEST(SoakModel, SizesDriftOverTheRun) {
  std::map<void*, size_t> held;
  SoakShape shape = small_shape();
  shape.burst_every = 0;  // the requests alone, whose band follows c(x) at once
  shape.population = 1;
  shape.turnovers = 0;
  SoakWorker<CountingHeap> w(shape, 3, 1, CountingHeap{&held});
  w.prepare();
  uint64_t t = 0;
  // Mean size held after the first ticks (c = 5), at c's first peak
  // (x = 1/3, c = 10) and at its trough (x = 2/3, c = 5).
  const auto mean_at = [&](uint64_t until) {
    for (; t < until; ++t) w.tick(t);
    return static_cast<double>(sum(held)) / static_cast<double>(held.size());
  };
  const double early = mean_at(2), peak = mean_at(shape.ticks / 3), trough = mean_at(2 * shape.ticks / 3);
  EXPECT_GT(peak, 8 * early);
  EXPECT_LT(trough, peak / 8);
  w.drain();
}

TEST(SoakModel, TheSameSeedGivesTheSameRequests) {
  for (const uint64_t seed : {1, 2}) {
    std::map<void*, size_t> a_held, b_held;
    SoakWorker<CountingHeap> a(small_shape(), seed, 1, CountingHeap{&a_held});
    SoakWorker<CountingHeap> b(small_shape(), seed, 1, CountingHeap{&b_held});
    a.prepare();
    b.prepare();
    for (uint64_t t = 0; t < 100; ++t) {
      a.tick(t);
      b.tick(t);
      ASSERT_EQ(a.live_bytes(), b.live_bytes()) << "seed " << seed << " tick " << t;
    }
    a.drain();
    b.drain();
  }
}

}  // namespace
}  // namespace lab
