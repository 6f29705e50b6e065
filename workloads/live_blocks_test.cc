// sampled_steps(): which steps of a counted loop are timed, in either
// direction, and that each timing kind records what it says (live_blocks.h).
#include "workloads/live_blocks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

namespace lab {
namespace {

// Sets the rate to one step in `every` (a power of two; 0: nothing sampled)
// for a test, as LatencyRun does for a run.
class MaskScope {
 public:
  explicit MaskScope(uint64_t every)
      : on_(g_latency_on), log2_(g_latency_log2), threshold_(g_latency_threshold) {
    g_latency_on = every != 0;
    g_latency_log2 = every == 0 ? 0 : static_cast<unsigned>(std::countr_zero(every));
    g_latency_threshold = every == 0 ? 0 : ~uint32_t{0} >> g_latency_log2;
  }
  ~MaskScope() {
    g_latency_on = on_;
    g_latency_log2 = log2_;
    g_latency_threshold = threshold_;
  }

 private:
  bool on_;
  unsigned log2_;
  uint32_t threshold_;
};

bool timed_number(uint64_t x, uint64_t every) {
  if (every == 0) return false;
  const auto log2 = static_cast<unsigned>(std::countr_zero(every));
  return x == timed_step_of_window(x >> log2, log2);
}

struct Visit {
  uint64_t k;
  bool timed;
  bool operator==(const Visit&) const = default;
};

template <bool kReverse>
std::vector<Visit> visits(uint64_t first, uint64_t n) {
  std::vector<Visit> out;
  sampled_steps<kReverse>(first, n, [&](uint64_t k, auto timing) {
    static_assert(timing() != Timing::kById);
    out.push_back({k, timing() == Timing::kAlways});
  });
  return out;
}

// What sampled_steps must do: every step once, in order, timed iff its
// number is its window's timed step.
std::vector<Visit> expected(uint64_t first, uint64_t n, uint64_t every, bool reverse) {
  std::vector<Visit> out;
  for (uint64_t j = 0; j < n; ++j) {
    const uint64_t k = reverse ? n - 1 - j : j;
    out.push_back({k, timed_number(first + k, every)});
  }
  return out;
}

TEST(SampledSteps, TimesExactlyOneStepOfEachWindowInEitherDirection) {
  for (uint64_t every : {0u, 1u, 2u, 4u, 8u, 1024u}) {
    MaskScope mask(every);
    for (uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{3}, uint64_t{7}, uint64_t{1} << 40, (uint64_t{1} << 40) + 1023}) {
      for (uint64_t n : {0u, 1u, 2u, 3u, 7u, 8u, 9u, 16u, 17u, 100u, 1023u, 1024u, 1025u, 3000u}) {
        SCOPED_TRACE(testing::Message() << "every " << every << ", first " << first << ", n " << n);
        const std::vector<Visit> want = expected(first, n, every, false);
        EXPECT_EQ(visits<false>(first, n), want);
        EXPECT_EQ(visits<true>(first, n), expected(first, n, every, true));
        const bool any = std::any_of(want.begin(), want.end(), [](const Visit& v) { return v.timed; });
        EXPECT_EQ(any_timed_step(first, n), any);
      }
    }
  }
}

TEST(SampledSteps, ATimedStepAtEitherEndIsTimed) {
  MaskScope mask(16);
  // The timed steps of windows 1 and 2, as the first and the last step.
  const uint64_t a = timed_step_of_window(1, 4), b = timed_step_of_window(2, 4);
  ASSERT_LT(a, b);
  for (const auto& v : {visits<false>(a, b - a + 1), visits<true>(a, b - a + 1)}) {
    ASSERT_EQ(v.size(), b - a + 1);
    uint64_t timed = 0;
    for (const Visit& x : v) timed += x.timed;
    EXPECT_EQ(timed, 2u);
  }
  EXPECT_TRUE(visits<false>(a, b - a + 1).front().timed);
  EXPECT_TRUE(visits<false>(a, b - a + 1).back().timed);
  EXPECT_TRUE(visits<true>(a, b - a + 1).front().timed);
  EXPECT_TRUE(visits<true>(a, b - a + 1).back().timed);
}

// Neither rule has a period: a slow path every 64th call of an allocator is
// timed about one time in 64, not always or never (the rule "0 mod N" timed
// only every 64th call's slow path at N = 1024).
TEST(SampledSteps, TheTimedStepsHaveNoPeriod) {
  MaskScope mask(1024);
  std::vector<uint64_t> by_residue(64);
  uint64_t timed = 0;
  sampled_steps(0, 1024 * 4096, [&](uint64_t k, auto timing) {  // windows 0 .. 4095, whole
    if constexpr (timing() == Timing::kAlways) {
      ++by_residue[k % 64];
      ++timed;
    }
  });
  EXPECT_EQ(timed, 4096u);
  for (uint64_t count : by_residue) {
    EXPECT_GT(count, 4096u / 64 / 2);
    EXPECT_LT(count, 4096u / 64 * 2);
  }
}

TEST(TimedBlock, TimesOneIdInNAtGapsThatAreNoPeriod) {
  MaskScope mask(1024);
  std::vector<uint64_t> by_residue(64);
  uint64_t timed = 0;
  for (uint64_t id = 1; id <= 1024 * 4096; ++id) {
    if (!timed_block(id)) continue;
    ++timed;
    ++by_residue[id % 64];
  }
  EXPECT_NEAR(static_cast<double>(timed), 4096, 4096 * 0.01);
  for (uint64_t count : by_residue) {
    EXPECT_GT(count, 4096u / 64 / 2);
    EXPECT_LT(count, 4096u / 64 * 2);
  }
}

// The timing kinds against a bound sampler: kNever records nothing, kAlways
// every call, kById the blocks whose ids are 0 mod N.
TEST(Timing, EachKindRecordsTheCallsItNames) {
  MaskScope mask(4);
  LatencySampler sampler;
  ASSERT_TRUE(sampler.malloc_ticks.ok() && sampler.free_ticks.ok());
  uint64_t by_id = 0;
  {
    LatencyBinding bound(&sampler);
    for (uint64_t id = 0; id < 16; ++id) release_block<Timing::kNever>(new_block<Timing::kNever>(32, 7, id), 7);
    EXPECT_EQ(sampler.malloc_ticks.total(), 0u);
    EXPECT_EQ(sampler.free_ticks.total(), 0u);
    for (uint64_t id = 1; id <= 64; ++id) {
      by_id += timed_block(id);
      release_block<Timing::kById>(new_block<Timing::kById>(32, 7, id), 7);
    }
    ASSERT_GT(by_id, 0u);
    EXPECT_EQ(sampler.malloc_ticks.total(), by_id);
    EXPECT_EQ(sampler.free_ticks.total(), by_id);
    for (uint64_t id = 1; id < 4; ++id) release_block<Timing::kAlways>(new_block<Timing::kAlways>(32, 7, id), 7);
    EXPECT_EQ(sampler.malloc_ticks.total(), by_id + 3);
    EXPECT_EQ(sampler.free_ticks.total(), by_id + 3);
  }
  // Unbound (outside the timed region), a timed call is made and not recorded.
  release_block<Timing::kAlways>(new_block<Timing::kAlways>(32, 7, 0), 7);
  EXPECT_EQ(sampler.malloc_ticks.total(), by_id + 3);
}

}  // namespace
}  // namespace lab
