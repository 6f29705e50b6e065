// Decay on FakePal's clock: never early, late by at most one granule plus
// two gaps between clock readings, the clock read once per N ticks, and the
// pool's oldest stamp gating its purge passes.
#include "allocator/backend/decay.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "allocator/config/options.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

class DecayTest : public testing::Test {
 protected:
  void set_delay(uint64_t ms) {
    setenv("HAKMEM_PURGE_DELAY_MS", std::to_string(ms).c_str(), 1);
    options_reload();
  }
  void SetUp() override { set_delay(100); }
  void TearDown() override {
    unsetenv("HAKMEM_PURGE_DELAY_MS");
    options_reload();
  }
  // delay / (kGenerations - 1), rounded up.
  static uint64_t granule(uint64_t delay) { return (delay + Decay::kGenerations - 2) / (Decay::kGenerations - 1); }
  FakePal pal;
};

TEST_F(DecayTest, AUnitExpiresOneDelayAfterTheReadingThatClosedItsGeneration) {
  Decay decay(1);
  EXPECT_FALSE(decay.tick(pal));  // t = 0: nothing dirty
  const Decay::Stamp s = decay.stamp();
  EXPECT_FALSE(decay.expired(s)) << "its generation is still open";
  pal.advance_ms(granule(100));
  EXPECT_FALSE(decay.tick(pal)) << "the reading closes the generation; the delay starts there";
  pal.advance_ms(99);
  EXPECT_FALSE(decay.tick(pal));
  EXPECT_FALSE(decay.expired(s));
  pal.advance_ms(1);
  EXPECT_TRUE(decay.tick(pal));
  EXPECT_TRUE(decay.expired(s));
}

// The clock was last read long before the unit was freed: its stamp still
// does not make it look old.
TEST_F(DecayTest, AStaleReadingNeverMakesAUnitExpireEarly) {
  Decay decay(1);
  decay.tick(pal);  // reads t = 0
  pal.advance_ms(10'000);
  const Decay::Stamp s = decay.stamp();  // freed at t = 10 s, unknown to the Decay
  decay.tick(pal);                        // reads t = 10 s
  pal.advance_ms(99);
  EXPECT_FALSE(decay.tick(pal));
  EXPECT_FALSE(decay.expired(s));
  pal.advance_ms(1);
  EXPECT_TRUE(decay.tick(pal));
}

TEST_F(DecayTest, TheClockIsReadOncePerNTicks) {
  Decay decay(8);
  decay.stamp();
  pal.advance_ms(1'000);
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(decay.tick(pal)) << i;
  EXPECT_EQ(decay.now_ms(), 0u) << "not read yet";
  decay.tick(pal);  // the eighth: reads and closes the generation
  EXPECT_EQ(decay.now_ms(), 1'000u);
  pal.advance_ms(100);
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(decay.tick(pal)) << i;
  EXPECT_TRUE(decay.tick(pal));
}

TEST_F(DecayTest, PassesRunOnlyWhileTheOldestDirtyUnitHasExpired) {
  Decay decay(1);
  const Decay::Stamp s = decay.stamp();
  pal.advance_ms(granule(100));
  decay.tick(pal);
  pal.advance_ms(100);
  EXPECT_TRUE(decay.tick(pal));
  decay.rescanned(Decay::kNone);  // the pool purged it
  pal.advance_ms(1'000);
  EXPECT_FALSE(decay.tick(pal)) << "nothing dirty: no pass";
  decay.note(s);  // an unmap failed: it is dirty again
  EXPECT_TRUE(decay.tick(pal));
  // A younger unit left after a pass: no pass until it expires.
  decay.rescanned(decay.stamp());
  EXPECT_FALSE(decay.tick(pal));
}

TEST_F(DecayTest, AdvanceTakesALearnersReadingAndIgnoresAnOlderOne) {
  Decay decay(1'000'000);  // ticks never read: only advance() moves time
  const Decay::Stamp s = decay.stamp();
  EXPECT_FALSE(decay.advance(granule(100)));  // closes s's generation
  EXPECT_FALSE(decay.advance(60));
  EXPECT_FALSE(decay.advance(3));  // older than the last reading: time stays at 60
  EXPECT_EQ(decay.now_ms(), 60u);
  EXPECT_TRUE(decay.advance(granule(100) + 100));
  EXPECT_TRUE(decay.expired(s));
}

TEST_F(DecayTest, ZeroDelayIsImmediate) {
  set_delay(0);
  EXPECT_TRUE(Decay::immediate());
  set_delay(1);
  EXPECT_FALSE(Decay::immediate());
}

// Random frees and readings over many delays, for several delays: a unit
// is never expired before its free time plus the delay, and always by its
// free time plus the delay, one granule and two gaps between readings.
TEST_F(DecayTest, NeverEarlyAndLateByAtMostAGranuleAndTwoReadingGaps) {
  for (const uint64_t delay : {1u, 10u, 100u, 3'000u}) {
    set_delay(delay);
    FakePal clock;
    Decay decay(1);
    std::mt19937_64 rng(delay);
    struct Unit {
      Decay::Stamp stamp;
      uint64_t freed_ms;
    };
    std::vector<Unit> units;
    uint64_t last_read = 0, max_gap = 0;
    for (int step = 0; step < 20'000; ++step) {
      clock.advance_ms(rng() % (delay / 4 + 2));
      if (rng() % 3 == 0) units.push_back({decay.stamp(), clock.now_ms()});
      if (rng() % 2 == 0) {
        decay.advance(clock.now_ms());
        max_gap = std::max(max_gap, clock.now_ms() - last_read);
        last_read = clock.now_ms();
        for (const Unit& u : units) {
          const bool expired = decay.expired(u.stamp);
          if (expired) {
            ASSERT_GE(decay.now_ms(), u.freed_ms + delay) << "early; delay " << delay;
          }
          if (decay.now_ms() >= u.freed_ms + delay + granule(delay) + 2 * max_gap) {
            ASSERT_TRUE(expired) << "late; delay " << delay << " freed " << u.freed_ms << " now " << decay.now_ms();
          }
        }
        // Forget units long expired, so the check stays quick.
        std::erase_if(units, [&](const Unit& u) { return u.freed_ms + 4 * delay + 4 * max_gap + 64 < last_read; });
      }
    }
  }
}

}  // namespace
}  // namespace hakmem
