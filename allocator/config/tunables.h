// Tunables: the knob values a learner has published, which the slow paths
// read in place of the options table's (issue 13).
//
// The learner (allocator/learner) runs above every pool, and the pools
// read their knobs here, below all of them: a purge pass reads the purge
// delay, a thread's purge check the cache budgets, a refill or spill the
// tiny capacities, an eviction the large cache's bound. Until a value is
// published, or after reset(), each reads as its option (HAKMEM_<NAME>)
// or, for the tiny caches, as the front end's own layout. No fast path
// reads any of it.
//
// A thread's caches pick a change up at its next purge check, by the
// generation: every publish() bumps it, and a thread that sees it moved
// resizes its caches (Allocator::retune).
//
// Invariants: a published value is the learner's, within its KnobBounds
// (learn/knobs.h); kUnset (0 for the tiny values, which are never 0 when
// set) reads as the option or layout; generation counts publishes.
#pragma once

#include <atomic>
#include <cstdint>

#include "allocator/config/options.h"
#include "allocator/config/size_classes.h"

namespace hakmem::tunables {

inline constexpr uint32_t kUnset = UINT32_MAX;

// The published values (the learner writes them with set(), then bumps the
// generation with published()).
struct Published {
  std::atomic<uint32_t> generation{0};
  std::atomic<uint32_t> tiny_cache[kTinyClasses]{};   // blocks (a magazine's rounds); 0: unset
  std::atomic<uint32_t> tiny_refill[kTinyClasses]{};  // blocks; 0: unset
  std::atomic<uint32_t> mid_cache_kib{kUnset};
  std::atomic<uint32_t> l25_cache_kib{kUnset};
  std::atomic<uint32_t> large_cache_mib{kUnset};
  std::atomic<uint32_t> purge_delay_ms{kUnset};
};
extern Published g_published;

inline uint32_t read(const std::atomic<uint32_t>& v) { return v.load(std::memory_order_relaxed); }

inline uint32_t generation() { return g_published.generation.load(std::memory_order_acquire); }

// HAKMEM_PURGE_DELAY_MS, or the learner's.
inline uint64_t purge_delay_ms() {
  const uint32_t v = read(g_published.purge_delay_ms);
  return v != kUnset ? v : static_cast<uint64_t>(option_value(Option::kPurgeDelayMs));
}
// HAKMEM_MID_CACHE_KIB in bytes, or the learner's.
inline uint64_t mid_cache_bytes() {
  const uint32_t v = read(g_published.mid_cache_kib);
  return (v != kUnset ? v : static_cast<uint64_t>(option_value(Option::kMidCacheKib))) * 1024;
}
// HAKMEM_L25_THREAD_CACHE_KIB in bytes, or the learner's.
inline uint64_t l25_cache_bytes() {
  const uint32_t v = read(g_published.l25_cache_kib);
  return (v != kUnset ? v : static_cast<uint64_t>(option_value(Option::kL25ThreadCacheKib))) * 1024;
}
// HAKMEM_LARGE_CACHE_BYTES, or the learner's (set in MiB).
inline int64_t large_cache_bytes() {
  const uint32_t v = read(g_published.large_cache_mib);
  return v != kUnset ? int64_t{v} << 20 : option_value(Option::kLargeCacheBytes);
}
// Tiny class c's cache capacity and refill batch, or `layout`'s (the
// front end's own) while none is published.
inline uint32_t tiny_cache(unsigned c, uint32_t layout) {
  const uint32_t v = read(g_published.tiny_cache[c]);
  return v != 0 ? v : layout;
}
inline uint32_t tiny_refill(unsigned c, uint32_t layout) {
  const uint32_t v = read(g_published.tiny_refill[c]);
  return v != 0 ? v : layout;
}

// What a front end holds per tiny class when nothing is published: its
// cache's capacity and refill batch, in blocks (Policy::kTinyLayout).
struct TinyLayout {
  uint32_t cache_blocks;
  uint32_t refill_blocks;
};

// The learner's side. set() stores one value; published() makes a batch of
// them visible to the threads' next purge checks; reset() makes every
// value read as its option again (a learner that stops, tests).
enum class Tunable : uint8_t { kTinyCache, kTinyRefill, kMidCacheKib, kL25CacheKib, kLargeCacheMib, kPurgeDelayMs };
void set(Tunable t, unsigned index, uint32_t value);
void published();
void reset();

}  // namespace hakmem::tunables
