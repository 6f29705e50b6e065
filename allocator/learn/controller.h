// The controllers: from a window of statistics to new knob values (issue 13).
//
// Both are explicit functions step(window, knobs, state, bounds, log): the
// state they carry between windows is a value the caller owns (AceState,
// RulesState), so a test replays a trace and gets the same knobs every time.
// Every value a step returns lies within the bounds; every change is logged.
//
// ACE (adaptive cache engine), HAKMEM_LEARN=on. Per tiny class:
//   - grow: the class both underflowed and overflowed in a window (it went
//     to the heap for blocks and gave blocks back: its cache is too small
//     for the swing of its working set) -> capacity x2. Past the byte
//     budget of all tiny caches, the idlest classes give capacity back,
//     biggest bytes first, as tcmalloc's per-CPU resizing steals from the
//     classes that missed least; only classes that did not miss for a
//     dwell give (else the class grows as far as the budget goes).
//   - refill: underflows without overflows (a class that only allocates)
//     -> refill batch x2, up to the capacity.
//   - shrink: no underflow and no overflow for twice the dwell (the cache
//     was never short nor full: what it holds is not needed) -> capacity /2,
//     as jemalloc's tcache GC flushes what the low-water mark says went
//     unused; but never below the class's starting capacity (the front
//     end's layout: an idle class holds few bytes, and shrinking it below
//     its layout made phase_change's second burst refill at every few
//     blocks).
// The budgets of the mid and L25 thread caches and of the large cache grow
// and shrink on the same two signals (the thread caches' no lower than
// they started); the purge delay doubles when purged
// pages come back soon (refaults: purging cost a page fault and gained
// nothing) and halves when the program is quiet with dirty memory held
// (memory kept that no one is about to use); a class group's SuperSlab
// size is 1 MiB while the group uses few slabs and 2 MiB once it uses many.
//
// Hysteresis, where ACE differs from both: a signal must persist for
// HAKMEM_LEARN_DWELL_WINDOWS consecutive windows before its knob moves;
// while a grow signal holds, the knob then grows every window (a ramp),
// each further shrink waits twice the dwell again, and a knob may move
// back the other way only twice the dwell after its last move. tcmalloc resizes on every pass from the misses of
// that interval, and jemalloc's GC acts on every pass; a workload whose
// phases alternate faster than the dwell makes those follow each phase and
// pay the refill and flush of each move, where ACE holds still. The cost is
// a slower reaction: dwell windows to follow a real phase change.
//
// Rules (HAKMEM_LEARN=rules), the baseline ACE must beat: tcmalloc-style
// miss-driven resizing with no memory of earlier windows. Every window, a
// tiny class that missed (underflow or overflow) grows by a fixed step,
// and while over the budget the class that missed least gives a step
// back; the mid, L25 and large budgets grow by a quarter on misses. The
// purge delay and SuperSlab sizes stay as they are.
#pragma once

#include <array>
#include <cstdint>

#include "allocator/learn/knobs.h"
#include "allocator/learn/signals.h"

namespace hakmem::learn {

// Per knob (and class or group): how many consecutive windows its grow or
// shrink signal has held, how long it has rested since its last move, and
// which way that move went. Invariants: grow_streak == 0 || shrink_streak
// == 0; last_move is -1, 0 or +1.
struct Hysteresis {
  uint32_t grow_streak = 0;
  uint32_t shrink_streak = 0;
  uint32_t rest = UINT32_MAX / 2;  // windows since the last move (a long time at first)
  int8_t last_move = 0;
};

struct AceState {
  bool started = false;
  Knobs start{};  // the knobs of the first step: tiny caches shrink no lower
  std::array<Hysteresis, kTinyClasses> tiny_cache{};
  std::array<Hysteresis, kTinyClasses> tiny_refill{};
  Hysteresis mid, l25, large, purge;
  std::array<Hysteresis, kSuperSlabGroups> superslab{};
};

struct RulesState {
  uint32_t steal_from = 0;  // round-robin start of the search for the class that missed least
};

// One window: the knobs after it (each within b), decisions appended to log.
Knobs ace_step(const Window& w, const Knobs& k, AceState& state, const KnobBounds& b, DecisionLog& log);
Knobs rules_step(const Window& w, const Knobs& k, RulesState& state, const KnobBounds& b, DecisionLog& log);

}  // namespace hakmem::learn
