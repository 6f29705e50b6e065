// The learner's knobs: what a controller may set, within which bounds, and
// the record of each change it makes (issue 13).
//
// A knob is a value a slow path reads when it next runs (a refill, a spill,
// a purge pass), never the fast path. The bounds of every knob are rows of
// the options table (config/options.h, HAKMEM_LEARN_*), read once into a
// KnobBounds; a controller only ever returns values within them.
#pragma once

#include <array>
#include <cstdint>

#include "allocator/config/options.h"
#include "allocator/config/size_classes.h"

namespace hakmem::learn {

// The SuperSlab size is chosen per group of 4 consecutive slab classes.
inline constexpr unsigned kClassesPerGroup = 4;
inline constexpr unsigned kSuperSlabGroups = kSlabClasses / kClassesPerGroup;

// The bytes of one block of every tiny class: a budget of n rows holds n
// blocks per class.
inline constexpr uint64_t kTinyRowBytes = [] {
  uint64_t sum = 0;
  for (unsigned c = 0; c < kTinyClasses; ++c) sum += kClassSize[c];
  return sum;
}();

enum class Knob : uint8_t {
  kTinyCache,      // per tiny class: blocks its thread cache may hold
  kTinyRefill,     // per tiny class: blocks a refill takes from the heap
  kMidCacheKib,    // the mid cache's budget per thread
  kL25CacheKib,    // the L25 thread cache's budget per thread
  kLargeCacheMib,  // freed large mappings kept
  kPurgeDelayMs,   // how long free memory stays resident
  kSuperSlabKib,   // per class group: the size of new SuperSlabs, 1024 or 2048
};
const char* knob_name(Knob knob);

// Invariants: every value lies within its KnobBounds; 1 <= tiny_refill[c]
// <= tiny_cache[c]; sum over c of tiny_cache[c] * kClassSize[c] <=
// tiny_cache_bytes; superslab_kib[g] is 1024 or 2048.
struct Knobs {
  std::array<uint32_t, kTinyClasses> tiny_cache{};
  std::array<uint32_t, kTinyClasses> tiny_refill{};
  uint32_t mid_cache_kib = 0;
  uint32_t l25_cache_kib = 0;
  uint32_t large_cache_mib = 0;
  uint32_t purge_delay_ms = 0;
  std::array<uint32_t, kSuperSlabGroups> superslab_kib{};

  bool operator==(const Knobs&) const = default;
};

struct KnobBounds {
  uint32_t tiny_cache_min, tiny_cache_max;  // blocks
  uint64_t tiny_cache_bytes;                // all tiny classes together (>= tiny_cache_min rows)
  uint32_t mid_cache_min_kib, mid_cache_max_kib;
  uint32_t l25_cache_min_kib, l25_cache_max_kib;
  uint32_t large_cache_min_mib, large_cache_max_mib;
  uint32_t purge_delay_min_ms, purge_delay_max_ms;
  uint32_t dwell_windows;  // hysteresis (HAKMEM_LEARN_DWELL_WINDOWS)
};

// The bounds the options table sets now (a max below its min is raised to it).
KnobBounds bounds_from_options();

// The knobs hakmem runs with when nothing learns: the options' own values
// (HAKMEM_MID_CACHE_KIB, HAKMEM_PURGE_DELAY_MS, ...), clamped into `b`,
// and per tiny class `cache_blocks` and `refill_blocks` (a front end's
// layout: 64 and 64 for a magazine of 64 rounds).
Knobs default_knobs(const KnobBounds& b, uint32_t cache_blocks, uint32_t refill_blocks);

// The bytes all tiny caches of one thread hold at `k`'s capacities (what
// KnobBounds::tiny_cache_bytes bounds).
uint64_t tiny_cache_bytes(const Knobs& k);

// Whether `k` keeps the invariants above within `b`.
bool within(const Knobs& k, const KnobBounds& b);

// One change a controller made: at window end `t_ms`, knob (of class or
// group `index`, or -1 for a knob of the process) from `old_value` to
// `new_value`, because of `signal` (a constant string naming the rule).
struct Decision {
  uint64_t t_ms;
  Knob knob;
  int16_t index;
  uint32_t old_value;
  uint32_t new_value;
  const char* signal;
};

// A fixed-size log of one step's decisions: the learner runs inside the
// allocator, so a step allocates nothing. A step that would make more
// decisions than fit drops the rest and counts them.
struct DecisionLog {
  static constexpr unsigned kCapacity = 64;
  std::array<Decision, kCapacity> entries{};
  unsigned count = 0;
  unsigned dropped = 0;
  void add(const Decision& d) {
    if (count < kCapacity) entries[count++] = d;
    else ++dropped;
  }
};

}  // namespace hakmem::learn
