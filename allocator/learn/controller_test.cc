// The controllers on synthetic windows: the knobs a known input gives,
// bounds under random input, no oscillation under an alternating signal,
// the byte budget, and the baseline's contrast (learn/controller.h).
#include "allocator/learn/controller.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "allocator/config/scoped_option.h"
#include "allocator/learn/knobs.h"
#include "allocator/learn/signals.h"

namespace hakmem::learn {
namespace {

constexpr unsigned kClass = 5;  // 96-byte blocks

Window thrash(unsigned c, uint64_t t_ms) {
  Window w;
  w.t_ms = t_ms;
  w.length_ms = 100;
  w.tiny[c] = {.refills = 10, .spills = 10, .turns = 10};
  return w;
}

Window quiet(uint64_t t_ms) {
  Window w;
  w.t_ms = t_ms;
  w.length_ms = 100;
  return w;
}

// A window in which class kClass makes no slow call but the program does
// (one refill of another class): for ACE, an idle class; a window with no
// slow call at all (quiet) is no signal for any cache.
constexpr unsigned kOther = 12;
Window busy_elsewhere(uint64_t t_ms) {
  Window w = quiet(t_ms);
  w.tiny[kOther].refills = 1;
  return w;
}

class ControllerTest : public testing::Test {
 protected:
  KnobBounds b = bounds_from_options();
  Knobs k = default_knobs(b, 64, 32);
  AceState ace;
  RulesState rules;
  DecisionLog log;
};

TEST_F(ControllerTest, BoundsAndDefaultsComeFromTheOptionsTable) {
  const ScopedOption dwell("HAKMEM_LEARN_DWELL_WINDOWS", "5");
  const ScopedOption lo("HAKMEM_LEARN_PURGE_DELAY_MIN_MS", "100");
  const ScopedOption hi("HAKMEM_LEARN_PURGE_DELAY_MAX_MS", "50");  // below the min: raised to it
  const ScopedOption delay("HAKMEM_PURGE_DELAY_MS", "250");
  const KnobBounds bb = bounds_from_options();
  EXPECT_EQ(bb.dwell_windows, 5u);
  EXPECT_EQ(bb.purge_delay_min_ms, 100u);
  EXPECT_EQ(bb.purge_delay_max_ms, 100u);
  const Knobs kk = default_knobs(bb, 64, 32);
  EXPECT_EQ(kk.purge_delay_ms, 100u) << "the option's 250, clamped into the bounds";
  EXPECT_TRUE(within(kk, bb));
}

TEST_F(ControllerTest, DefaultsFitTheByteBudget) {
  const ScopedOption kib("HAKMEM_LEARN_TINY_CACHE_KIB", "64");
  const KnobBounds bb = bounds_from_options();
  const Knobs kk = default_knobs(bb, 256, 256);
  EXPECT_TRUE(within(kk, bb));
  EXPECT_LT(kk.tiny_cache[0], 256u) << "256 blocks of every class do not fit 64 KiB";
}

TEST_F(ControllerTest, AThrashingClassGrowsOnceItsSignalHasHeldForTheDwell) {
  ASSERT_EQ(b.dwell_windows, 3u);
  const uint32_t before = k.tiny_cache[kClass];
  for (uint64_t i = 1; i < b.dwell_windows; ++i) {
    k = ace_step(thrash(kClass, i * 100), k, ace, b, log);
    EXPECT_EQ(k.tiny_cache[kClass], before) << "window " << i << ": the signal has not held long enough";
  }
  k = ace_step(thrash(kClass, b.dwell_windows * 100), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], 2 * before);
  ASSERT_EQ(log.count, 1u);
  EXPECT_EQ(log.entries[0].knob, Knob::kTinyCache);
  EXPECT_EQ(log.entries[0].index, static_cast<int16_t>(kClass));
  EXPECT_EQ(log.entries[0].old_value, before);
  EXPECT_EQ(log.entries[0].new_value, 2 * before);
  EXPECT_EQ(log.entries[0].t_ms, b.dwell_windows * 100);
  EXPECT_STREQ(log.entries[0].signal, "underflows and overflows");
  // While the signal holds, it grows again at every window (the ramp).
  k = ace_step(thrash(kClass, 1000), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], std::min(4 * before, b.tiny_cache_max));
}

// An idle class that grew shrinks by half after twice the dwell, and as
// long again before each further halving, down to where it started.
TEST_F(ControllerTest, AnIdleClassShrinksAfterTwiceTheDwellDownToWhereItStarted) {
  const uint32_t start = k.tiny_cache[kClass];
  ace.started = true;
  ace.start = k;
  k.tiny_cache[kClass] = k.tiny_refill[kClass] = 4 * start;
  ASSERT_TRUE(within(k, b));
  for (uint64_t i = 1; i < 2 * b.dwell_windows; ++i) k = ace_step(busy_elsewhere(i), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], 4 * start);
  k = ace_step(busy_elsewhere(99), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], 2 * start);
  EXPECT_LE(k.tiny_refill[kClass], k.tiny_cache[kClass]) << "the refill batch shrinks with it";
  for (uint64_t i = 1; i < 2 * b.dwell_windows; ++i) k = ace_step(busy_elsewhere(100 + i), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], 2 * start) << "each halving waits twice the dwell";
  k = ace_step(busy_elsewhere(200), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], start);
  for (uint64_t i = 1; i < 10 * b.dwell_windows; ++i) k = ace_step(busy_elsewhere(300 + i), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], start) << "never below its start";
  EXPECT_TRUE(within(k, b));
}

// A window with no slow call anywhere (phase_change's idle pause) is no
// signal for a cache: a grown class keeps its size through any number of
// them, and its streak resumes after them; only the purge delay acts on
// such windows.
TEST_F(ControllerTest, QuietWindowsMoveNoCacheKnob) {
  ace.started = true;
  ace.start = k;
  const uint32_t start = k.tiny_cache[kClass];
  k.tiny_cache[kClass] = 4 * start;
  const Knobs before = k;
  for (uint64_t i = 1; i <= 20 * b.dwell_windows; ++i) k = ace_step(quiet(i), k, ace, b, log);
  EXPECT_EQ(k, before);
  EXPECT_EQ(log.count, 0u);
}

TEST_F(ControllerTest, AClassThatOnlyAllocatesGetsBiggerRefills) {
  const uint32_t before = k.tiny_refill[kClass];
  Window w = quiet(0);
  w.tiny[kClass] = {.refills = 8, .spills = 0};
  for (uint64_t i = 1; i <= b.dwell_windows; ++i) k = ace_step(w, k, ace, b, log);
  EXPECT_EQ(k.tiny_refill[kClass], std::min(2 * before, k.tiny_cache[kClass]));
}

// The reason for hysteresis: a class whose signal flips every window (a
// workload whose phases alternate faster than the dwell) keeps its knobs
// under ACE, while the rules baseline follows the flips. (The other
// classes are idle throughout, and shrink under ACE as they should.)
TEST_F(ControllerTest, AnAlternatingSignalMovesNoAceKnobOfItsClassButMovesTheRules) {
  Knobs r = k;
  const uint32_t before = r.tiny_cache[kClass];
  unsigned ace_moves = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const Window w = i % 2 == 0 ? thrash(kClass, i) : busy_elsewhere(i);
    log.count = 0;
    k = ace_step(w, k, ace, b, log);
    for (unsigned d = 0; d < log.count; ++d) {
      const Decision& e = log.entries[d];
      ace_moves += (e.knob == Knob::kTinyCache || e.knob == Knob::kTinyRefill) && e.index == static_cast<int16_t>(kClass);
    }
    r = rules_step(w, r, rules, b, log);
  }
  EXPECT_EQ(ace_moves, 0u);
  EXPECT_GT(r.tiny_cache[kClass], before) << "the rules grow it at every miss";
}

// A signal that holds for a dwell and then reverses for a dwell, over and
// over: ACE may follow it, but never turns a knob round sooner than twice
// the dwell after its last move.
TEST_F(ControllerTest, AceNeverReversesAKnobWithinTwiceTheDwell) {
  uint64_t last_move_window = 0;
  int last_dir = 0;
  for (uint64_t i = 1; i <= 400; ++i) {
    const bool up = (i / b.dwell_windows) % 2 == 0;
    DecisionLog step_log;
    const uint32_t before = k.tiny_cache[kClass];
    k = ace_step(up ? thrash(kClass, i) : busy_elsewhere(i), k, ace, b, step_log);
    const int dir = k.tiny_cache[kClass] > before ? 1 : k.tiny_cache[kClass] < before ? -1 : 0;
    if (dir == 0) continue;
    if (last_dir != 0 && dir != last_dir) EXPECT_GE(i - last_move_window, 2 * b.dwell_windows) << "window " << i;
    last_dir = dir;
    last_move_window = i;
  }
}

TEST_F(ControllerTest, EveryKnobStaysWithinItsBoundsUnderRandomWindows) {
  std::mt19937_64 rng(42);
  Knobs r = k;
  for (int i = 0; i < 5000; ++i) {
    Window w;
    w.t_ms = static_cast<uint64_t>(i);
    w.length_ms = 100;
    for (ClassSignals& s : w.tiny) {
      s = {rng() % 4 == 0 ? rng() % 50 : 0, rng() % 4 == 0 ? rng() % 50 : 0};
      s.turns = std::min(s.refills, s.spills);
    }
    w.mid = {rng() % 5, rng() % 5};
    w.mid.turns = rng() % 2 == 0 ? std::min(w.mid.refills, w.mid.spills) : 0;
    w.l25 = {rng() % 5, rng() % 5};
    w.l25.turns = std::min(w.l25.refills, w.l25.spills);
    w.large_hits = rng() % 3;
    w.large_misses = rng() % 5;
    w.large_evicted = rng() % 2;
    w.pages_purged = rng() % 100;
    w.pages_refaulted = rng() % 100;
    w.dirty_bytes = rng() % (uint64_t{4} << 20);
    for (uint32_t& n : w.slabs_in_use) n = static_cast<uint32_t>(rng() % 40);
    log.count = 0;
    k = ace_step(w, k, ace, b, log);
    ASSERT_TRUE(within(k, b)) << "ACE, window " << i;
    log.count = 0;
    r = rules_step(w, r, rules, b, log);
    ASSERT_TRUE(within(r, b)) << "rules, window " << i;
  }
}

TEST_F(ControllerTest, AGrowingClassTakesCapacityFromTheIdlestPastTheBudget) {
  const ScopedOption kib("HAKMEM_LEARN_TINY_CACHE_KIB", "400");  // 64 blocks of every class, just
  b = bounds_from_options();
  k = default_knobs(b, 64, 32);
  ASSERT_TRUE(within(k, b));
  for (uint64_t i = 1; i <= b.dwell_windows; ++i) k = ace_step(thrash(kClass, i), k, ace, b, log);
  EXPECT_EQ(k.tiny_cache[kClass], 128u);
  EXPECT_TRUE(within(k, b)) << "the others gave room";
  unsigned given = 0;
  for (unsigned i = 0; i < log.count; ++i) {
    const Decision& d = log.entries[i];
    if (std::string(d.signal) != "budget: another class grew") continue;
    ++given;
    EXPECT_NE(d.index, static_cast<int16_t>(kClass));
    EXPECT_EQ(d.new_value, d.old_value / 2);
  }
  EXPECT_GT(given, 0u);
}

// Every class missing at once (random_free: random frees over every class
// keep each cache's count wandering between its bounds): a class that
// grows takes nothing from classes that miss too. It did, and the classes
// it shrank missed more, grew in turn and shrank others (ultra_simple's
// random_free under on: 17% more instructions than off under callgrind,
// and 13% fewer ops per CPU-second at full speed).
TEST_F(ControllerTest, AGrowingClassTakesNoCapacityFromClassesThatMissToo) {
  const ScopedOption kib("HAKMEM_LEARN_TINY_CACHE_KIB", "400");  // 64 blocks of every class, just
  b = bounds_from_options();
  k = default_knobs(b, 64, 32);
  const Knobs start = k;
  for (uint64_t i = 1; i <= 4 * b.dwell_windows; ++i) {
    Window w = quiet(i);
    for (unsigned c = 0; c < kTinyClasses; ++c) w.tiny[c] = {.refills = 1, .spills = 1};
    w.tiny[kClass] = {.refills = 10, .spills = 10, .turns = 10};
    k = ace_step(w, k, ace, b, log);
  }
  for (unsigned i = 0; i < log.count; ++i)
    EXPECT_STRNE(log.entries[i].signal, "budget: another class grew") << "class " << log.entries[i].index;
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    if (c != kClass) EXPECT_EQ(k.tiny_cache[c], start.tiny_cache[c]) << "class " << c;
  }
  EXPECT_GE(k.tiny_cache[kClass], start.tiny_cache[kClass]) << "as far as the budget goes";
  EXPECT_TRUE(within(k, b));
}

// A producer thread that only refills and a consumer that only spills sum
// to as many refills as spills, but neither cache turned: no budget grows.
// The same counts with turns (one thread doing both) grow it.
TEST_F(ControllerTest, AProducerAndItsConsumerDoNotLookLikeOneThrashingCache) {
  const Knobs start = k;
  for (const bool one_thread : {false, true}) {
    AceState fresh;
    Knobs kk = start;
    for (uint64_t i = 1; i <= 4 * b.dwell_windows; ++i) {
      Window w = quiet(i * 100);
      w.mid = {.refills = 50, .spills = 50, .turns = one_thread ? 50u : 0u};
      w.tiny[kClass] = {.refills = 50, .spills = 50, .turns = one_thread ? 50u : 0u};
      kk = ace_step(w, kk, fresh, b, log);
    }
    if (one_thread) {
      EXPECT_GT(kk.mid_cache_kib, start.mid_cache_kib);
      EXPECT_GT(kk.tiny_cache[kClass], start.tiny_cache[kClass]);
    } else {
      EXPECT_EQ(kk.mid_cache_kib, start.mid_cache_kib);
      EXPECT_EQ(kk.tiny_cache[kClass], start.tiny_cache[kClass]);
    }
  }
}

// A budget grown in one phase, then a pause, then a phase whose caches are
// busy but never turn: the budget goes back to where it started one dwell
// into that phase. The pause counts as rest (time since the grow), so the
// drop need not wait twice the dwell after it.
TEST_F(ControllerTest, ABudgetNoCacheTurnsAgainstDropsToItsStartOneDwellAfterAPause) {
  const uint32_t start = k.mid_cache_kib;
  uint64_t t = 0;
  for (uint64_t i = 0; i < b.dwell_windows + 2; ++i) {
    Window w = quiet(++t);
    w.mid = {.refills = 20, .spills = 20, .turns = 20};
    k = ace_step(w, k, ace, b, log);
  }
  const uint32_t grown = k.mid_cache_kib;
  ASSERT_GT(grown, start);
  for (int i = 0; i < 50; ++i) k = ace_step(quiet(++t), k, ace, b, log);
  EXPECT_EQ(k.mid_cache_kib, grown) << "a pause moves no budget";
  for (uint64_t i = 1; i <= b.dwell_windows; ++i) {
    Window w = quiet(++t);
    w.mid = {.refills = 20, .spills = 20, .turns = 0};
    k = ace_step(w, k, ace, b, log);
    if (i < b.dwell_windows) EXPECT_EQ(k.mid_cache_kib, grown) << "window " << i;
  }
  EXPECT_EQ(k.mid_cache_kib, start);
  EXPECT_STREQ(log.entries[log.count - 1].signal, "busy, but no cache turns");
}

TEST_F(ControllerTest, ThePurgeDelayDoublesWhenPurgedPagesComeBackAndHalvesWhenQuietMemoryIsHeld) {
  const uint32_t before = k.purge_delay_ms;
  Window refault = quiet(0);
  refault.pages_purged = 100;
  refault.pages_refaulted = 80;
  for (uint64_t i = 1; i <= b.dwell_windows; ++i) k = ace_step(refault, k, ace, b, log);
  EXPECT_EQ(k.purge_delay_ms, std::min(2 * before, b.purge_delay_max_ms));
  Window holding = quiet(0);
  holding.dirty_bytes = uint64_t{8} << 20;
  for (uint64_t i = 1; i <= 2 * b.dwell_windows; ++i) k = ace_step(holding, k, ace, b, log);
  EXPECT_EQ(k.purge_delay_ms, before) << "back down once the reversal's rest is over";
}

TEST_F(ControllerTest, AClassGroupsSuperSlabSizeFollowsHowManySlabsItUses) {
  Window few = busy_elsewhere(0);
  few.tiny[0] = {.refills = 1, .spills = 0};  // not quiet, one slab in group 0
  few.slabs_in_use[0] = 1;
  few.slabs_in_use[1] = 30;
  for (uint64_t i = 1; i <= 2 * b.dwell_windows; ++i) k = ace_step(few, k, ace, b, log);
  EXPECT_EQ(k.superslab_kib[0], 1024u);
  EXPECT_EQ(k.superslab_kib[1], 2048u);
}

TEST_F(ControllerTest, ALogThatIsFullCountsWhatItDrops) {
  DecisionLog full;
  for (unsigned i = 0; i < DecisionLog::kCapacity + 5; ++i) full.add({i, Knob::kPurgeDelayMs, -1, 1, 2, "test"});
  EXPECT_EQ(full.count, DecisionLog::kCapacity);
  EXPECT_EQ(full.dropped, 5u);
  EXPECT_STREQ(knob_name(Knob::kSuperSlabKib), "superslab_kib");
}

}  // namespace
}  // namespace hakmem::learn
