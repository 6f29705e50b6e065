// ACE and the rules baseline (design in controller.h).
#include "allocator/learn/controller.h"

#include <algorithm>

namespace hakmem::learn {
namespace {

// Signal strengths: a window counts as "thrashing" for a cache when some
// thread's cache turned between underflow and overflow at least this
// often (ClassSignals::turns), so one stray refill at a phase boundary
// moves nothing.
constexpr uint64_t kMinMisses = 2;
// Pages a window must refault before the purge delay is called too short.
constexpr uint64_t kMinRefaults = 16;
// Dirty bytes a quiet program must hold before the delay is called too long.
constexpr uint64_t kQuietDirtyBytes = uint64_t{1} << 20;
// Slabs in use below which a class group is small (1 MiB SuperSlabs), and
// at or above which it is big (2 MiB).
constexpr uint32_t kSmallGroupSlabs = 4;
constexpr uint32_t kBigGroupSlabs = 16;
// The rules baseline's fixed steps.
constexpr uint32_t kRulesTinyStep = 16;

enum Move : int8_t { kShrink = -1, kStay = 0, kGrow = 1 };

// Feeds one window's signals to h; the move hysteresis allows now. Grow
// needs `dwell` windows of its signal, and then, while the signal holds,
// grows again every window (a ramp: a phase that needs a cache 8 times
// larger gets it 3 windows after the dwell, not 3 dwells); shrink needs
// `shrink_dwell` windows, and as many again before each further shrink
// (memory given back slowly costs little; a cache shrunk too far costs a
// refill per miss). A move the other way waits 2 * dwell windows after
// the last move.
Move feed(Hysteresis& h, bool grow, bool shrink, uint32_t dwell, uint32_t shrink_dwell) {
  if (h.rest < UINT32_MAX / 2) ++h.rest;
  h.grow_streak = grow ? h.grow_streak + 1 : 0;
  h.shrink_streak = !grow && shrink ? h.shrink_streak + 1 : 0;
  const bool may_reverse = h.rest >= 2 * dwell;
  if (h.grow_streak >= dwell && (h.last_move != kShrink || may_reverse)) return kGrow;
  if (h.shrink_streak >= shrink_dwell && (h.last_move != kGrow || may_reverse)) return kShrink;
  return kStay;
}

// A window that feeds no signal: only the rest grows.
void rest(Hysteresis& h) {
  if (h.rest < UINT32_MAX / 2) ++h.rest;
}

// After a move: the rest starts again; a shrink's streak too (each shrink
// needs its own shrink_dwell), a grow's is kept (the ramp).
void moved(Hysteresis& h, Move m) {
  h.rest = 0;
  h.last_move = m;
  h.shrink_streak = 0;
}

// Sets *v to `to` and logs it, if that changes it; true if it did.
bool set(uint32_t* v, uint32_t to, const Window& w, Knob knob, int index, const char* signal, DecisionLog& log) {
  if (*v == to) return false;
  log.add({w.t_ms, knob, static_cast<int16_t>(index), *v, to, signal});
  *v = to;
  return true;
}

uint32_t doubled(uint32_t v, uint32_t hi) { return static_cast<uint32_t>(std::min<uint64_t>(uint64_t{v} * 2, hi)); }
uint32_t halved(uint32_t v, uint32_t lo) { return std::max(v / 2, lo); }

// The bytes of all tiny caches if class c held `blocks` instead.
uint64_t bytes_with(const Knobs& k, unsigned c, uint64_t blocks) {
  return tiny_cache_bytes(k) - uint64_t{k.tiny_cache[c]} * kClassSize[c] + blocks * kClassSize[c];
}

// A cache's capacity set to `to` keeps its refill batch within it.
void set_cache(Knobs& k, unsigned c, uint32_t to, const Window& w, const char* signal, DecisionLog& log) {
  set(&k.tiny_cache[c], to, w, Knob::kTinyCache, static_cast<int>(c), signal, log);
  if (k.tiny_refill[c] > to) set(&k.tiny_refill[c], to, w, Knob::kTinyRefill, static_cast<int>(c), signal, log);
}

// Grows class c's cache towards `want` blocks within the byte budget: the
// idlest other classes (longest without a miss, then most bytes) give half
// their capacity back until it fits; what still does not fit is not grown.
// Only a class that has not missed for a dwell gives: as tcmalloc steals
// only from caches that have gone idle. A class that misses too would miss
// more, grow in its turn and take from the next (random_free, where every
// class misses: ultra_simple under on ran 13% fewer ops per CPU-second).
// One quiet window is not enough: a class whose cache wanders between its
// bounds misses every few windows when windows are short.
uint32_t grow_within_budget(Knobs& k, AceState& s, unsigned c, uint32_t want, const KnobBounds& b, const Window& w,
                            DecisionLog& log) {
  for (;;) {
    if (bytes_with(k, c, want) <= b.tiny_cache_bytes) return want;
    int victim = -1;
    for (unsigned v = 0; v < kTinyClasses; ++v) {
      if (v == c || k.tiny_cache[v] <= b.tiny_cache_min || s.tiny_cache[v].shrink_streak < b.dwell_windows) continue;
      if (victim < 0) {
        victim = static_cast<int>(v);
        continue;
      }
      const auto u = static_cast<unsigned>(victim);
      const uint64_t vb = uint64_t{k.tiny_cache[v]} * kClassSize[v], ub = uint64_t{k.tiny_cache[u]} * kClassSize[u];
      if (s.tiny_cache[v].shrink_streak > s.tiny_cache[u].shrink_streak ||
          (s.tiny_cache[v].shrink_streak == s.tiny_cache[u].shrink_streak && vb > ub))
        victim = static_cast<int>(v);
    }
    if (victim < 0) {  // nobody can give: grow as far as the budget goes
      const uint64_t others = bytes_with(k, c, 0);
      const uint64_t fit = others >= b.tiny_cache_bytes ? 0 : (b.tiny_cache_bytes - others) / kClassSize[c];
      return static_cast<uint32_t>(std::clamp<uint64_t>(fit, k.tiny_cache[c], want));
    }
    const auto v = static_cast<unsigned>(victim);
    set_cache(k, v, halved(k.tiny_cache[v], b.tiny_cache_min), w, "budget: another class grew", log);
    moved(s.tiny_cache[v], kShrink);
  }
}

bool thrashing(const ClassSignals& s) { return s.turns >= kMinMisses; }
bool idle(const ClassSignals& s) { return s.refills == 0 && s.spills == 0; }
// Busy, but no thread's cache turned.
bool unturned(const ClassSignals& s) { return s.turns == 0 && s.refills + s.spills >= kMinMisses; }

// A budget knob (mid, L25, large). It grows while its cache thrashes (some
// thread's cache turns between underflow and overflow). It halves after
// twice the dwell without a miss (idle). And it drops to where it started
// after one dwell in which the caches were busy but none turned
// (unturned): then the budget holds blocks that no thread takes back, as a
// consumer's cache filling with a producer's blocks and spilling them in
// halves, walking lists as long as the budget (phase_change's handoff ran
// 30% slower at the working set's 8 MiB mid budget than at the start's
// 1 MiB, the same with fixed knobs).
void budget_knob(uint32_t* v, Hysteresis& h, bool thrash, bool idle, bool unturned, uint32_t lo, uint32_t hi,
                 const KnobBounds& b, Knob knob, const Window& w, DecisionLog& log) {
  switch (feed(h, thrash, unturned || idle, b.dwell_windows, unturned ? b.dwell_windows : 2 * b.dwell_windows)) {
    case kGrow:
      if (set(v, doubled(std::max(*v, 1u), hi), w, knob, -1, "underflows and overflows", log)) moved(h, kGrow);
      break;
    case kShrink:
      if (unturned ? set(v, std::min(*v, lo), w, knob, -1, "busy, but no cache turns", log)
                   : set(v, halved(*v, lo), w, knob, -1, "no miss for twice the dwell", log))
        moved(h, kShrink);
      break;
    case kStay:
      break;
  }
}

// The thread caches' knobs: tiny capacities and refill batches, the mid,
// L25 and large budgets.
void ace_caches(const Window& w, Knobs& k, AceState& s, const KnobBounds& b, DecisionLog& log) {
  const uint32_t dwell = b.dwell_windows;
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    const ClassSignals& sig = w.tiny[c];
    switch (feed(s.tiny_cache[c], thrashing(sig), idle(sig), dwell, 2 * dwell)) {
      case kGrow: {
        const uint32_t to = grow_within_budget(k, s, c, doubled(k.tiny_cache[c], b.tiny_cache_max), b, w, log);
        if (to != k.tiny_cache[c]) {
          set_cache(k, c, to, w, "underflows and overflows", log);
          moved(s.tiny_cache[c], kGrow);
        }
        break;
      }
      case kShrink:
        // Not below where the class started (the front end's layout): an
        // idle class's cache holds few bytes, and a phase that comes back
        // to it would pay a refill per miss until it grew again.
        if (k.tiny_cache[c] > std::max(b.tiny_cache_min, s.start.tiny_cache[c])) {
          set_cache(k, c, halved(k.tiny_cache[c], std::max(b.tiny_cache_min, s.start.tiny_cache[c])), w,
                    "no miss for twice the dwell", log);
          moved(s.tiny_cache[c], kShrink);
        }
        break;
      case kStay:
        break;
    }
    const bool allocating = sig.refills >= kMinMisses && sig.spills == 0;
    if (feed(s.tiny_refill[c], allocating, false, dwell, dwell) == kGrow &&
        set(&k.tiny_refill[c], doubled(k.tiny_refill[c], k.tiny_cache[c]), w, Knob::kTinyRefill, static_cast<int>(c),
            "underflows without overflows", log))
      moved(s.tiny_refill[c], kGrow);
  }
  // The thread caches' budgets shrink no lower than they started, as the
  // tiny caches: shrunk to their least while phase_change's burst ran, the
  // mid budget made its handoff phase 6% slower than with no learner.
  budget_knob(&k.mid_cache_kib, s.mid, thrashing(w.mid), idle(w.mid), unturned(w.mid),
              std::max(b.mid_cache_min_kib, s.start.mid_cache_kib), b.mid_cache_max_kib, b, Knob::kMidCacheKib, w, log);
  budget_knob(&k.l25_cache_kib, s.l25, thrashing(w.l25), idle(w.l25), unturned(w.l25),
              std::max(b.l25_cache_min_kib, s.start.l25_cache_kib), b.l25_cache_max_kib, b, Knob::kL25CacheKib, w, log);
  // The large cache has no threads' caches to turn: misses that evict grow it.
  budget_knob(&k.large_cache_mib, s.large, w.large_misses >= kMinMisses && w.large_evicted != 0,
              w.large_hits == 0 && w.large_misses == 0, /*unturned=*/false, b.large_cache_min_mib,
              b.large_cache_max_mib, b, Knob::kLargeCacheMib, w, log);

}

// The purge delay.
void ace_purge(const Window& w, Knobs& k, AceState& s, const KnobBounds& b, DecisionLog& log) {
  const uint32_t dwell = b.dwell_windows;
  const bool refaulting = w.pages_refaulted >= kMinRefaults && 2 * w.pages_refaulted >= w.pages_purged;
  const bool holding = w.quiet() && w.dirty_bytes >= kQuietDirtyBytes;
  switch (feed(s.purge, refaulting, holding, dwell, dwell)) {
    case kGrow:
      if (set(&k.purge_delay_ms, doubled(std::max(k.purge_delay_ms, 1u), b.purge_delay_max_ms), w, Knob::kPurgeDelayMs,
              -1, "purged pages faulted back", log))
        moved(s.purge, kGrow);
      break;
    case kShrink:
      if (set(&k.purge_delay_ms, halved(k.purge_delay_ms, b.purge_delay_min_ms), w, Knob::kPurgeDelayMs, -1,
              "quiet with dirty memory held", log))
        moved(s.purge, kShrink);
      break;
    case kStay:
      break;
  }

}

// Each class group's SuperSlab size.
void ace_superslabs(const Window& w, Knobs& k, AceState& s, const KnobBounds& b, DecisionLog& log) {
  const uint32_t dwell = b.dwell_windows;
  for (unsigned g = 0; g < kSuperSlabGroups; ++g) {
    const uint32_t slabs = w.slabs_in_use[g];
    switch (feed(s.superslab[g], slabs >= kBigGroupSlabs, slabs < kSmallGroupSlabs, dwell, 2 * dwell)) {
      case kGrow:
        if (set(&k.superslab_kib[g], 2048, w, Knob::kSuperSlabKib, static_cast<int>(g), "many slabs in use", log))
          moved(s.superslab[g], kGrow);
        break;
      case kShrink:
        if (set(&k.superslab_kib[g], 1024, w, Knob::kSuperSlabKib, static_cast<int>(g), "few slabs in use", log))
          moved(s.superslab[g], kShrink);
        break;
      case kStay:
        break;
    }
  }
}

}  // namespace

Knobs ace_step(const Window& w, const Knobs& in, AceState& s, const KnobBounds& b, DecisionLog& log) {
  Knobs k = in;
  if (!s.started) {
    s.started = true;
    s.start = in;
  }
  // A quiet window (no slow call anywhere) says nothing about what a
  // cache or a class group needs, and its threads would not see a change
  // until they call again: their knobs and streaks stay as they are. (Fed
  // quiet windows, ACE shrank the mid and L25 budgets through
  // phase_change's idle pause, and its threads woke to small caches and
  // flushed them at their first purge check.) The purge delay is for
  // exactly such windows.
  if (!w.quiet()) {
    ace_caches(w, k, s, b, log);
    ace_superslabs(w, k, s, b, log);
  } else {
    // Time passes all the same: a knob that moved before a pause may move
    // back as soon as its signal holds after it (the rest is time since
    // the last move, not busy windows since it).
    for (Hysteresis* h : {&s.mid, &s.l25, &s.large}) rest(*h);
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      rest(s.tiny_cache[c]);
      rest(s.tiny_refill[c]);
    }
  }
  ace_purge(w, k, s, b, log);
  return k;
}

Knobs rules_step(const Window& w, const Knobs& in, RulesState& s, const KnobBounds& b, DecisionLog& log) {
  Knobs k = in;
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    const ClassSignals& sig = w.tiny[c];
    if (sig.refills + sig.spills == 0) continue;
    uint32_t want = std::min(k.tiny_cache[c] + kRulesTinyStep, b.tiny_cache_max);
    // Over the budget, the class that missed least (round-robin among
    // equals) gives a step back, until the step fits or none can give.
    while (bytes_with(k, c, want) > b.tiny_cache_bytes) {
      int victim = -1;
      uint64_t fewest = UINT64_MAX;
      for (unsigned i = 0; i < kTinyClasses; ++i) {
        const unsigned v = (s.steal_from + i) % kTinyClasses;
        const uint64_t misses = w.tiny[v].refills + w.tiny[v].spills;
        if (v == c || k.tiny_cache[v] <= b.tiny_cache_min || misses >= fewest) continue;
        fewest = misses;
        victim = static_cast<int>(v);
      }
      if (victim < 0) {
        want = k.tiny_cache[c];
        break;
      }
      const auto v = static_cast<unsigned>(victim);
      s.steal_from = (v + 1) % kTinyClasses;
      set_cache(k, v, std::max(k.tiny_cache[v] - std::min(k.tiny_cache[v], kRulesTinyStep), b.tiny_cache_min), w,
                "budget: another class missed", log);
    }
    set_cache(k, c, want, w, "a miss", log);
  }
  const auto quarter_more = [](uint32_t v, uint32_t hi) {
    return static_cast<uint32_t>(std::min<uint64_t>(uint64_t{v} + std::max<uint64_t>(v / 4, 1), hi));
  };
  if (w.mid.refills + w.mid.spills != 0)
    set(&k.mid_cache_kib, quarter_more(k.mid_cache_kib, b.mid_cache_max_kib), w, Knob::kMidCacheKib, -1, "a miss", log);
  if (w.l25.refills + w.l25.spills != 0)
    set(&k.l25_cache_kib, quarter_more(k.l25_cache_kib, b.l25_cache_max_kib), w, Knob::kL25CacheKib, -1, "a miss", log);
  if (w.large_misses != 0)
    set(&k.large_cache_mib, quarter_more(k.large_cache_mib, b.large_cache_max_mib), w, Knob::kLargeCacheMib, -1,
        "a miss", log);
  return k;
}

}  // namespace hakmem::learn
