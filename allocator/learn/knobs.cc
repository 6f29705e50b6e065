// Knob names, bounds from the options table, the default knobs (knobs.h).
#include "allocator/learn/knobs.h"

#include <algorithm>

#include "allocator/learn/signals.h"

namespace hakmem::learn {

const char* knob_name(Knob knob) {
  switch (knob) {
    case Knob::kTinyCache: return "tiny_cache";
    case Knob::kTinyRefill: return "tiny_refill";
    case Knob::kMidCacheKib: return "mid_cache_kib";
    case Knob::kL25CacheKib: return "l25_cache_kib";
    case Knob::kLargeCacheMib: return "large_cache_mib";
    case Knob::kPurgeDelayMs: return "purge_delay_ms";
    case Knob::kSuperSlabKib: return "superslab_kib";
  }
  return "?";
}

namespace {

uint32_t value(Option o) { return static_cast<uint32_t>(option_value(o)); }

}  // namespace

KnobBounds bounds_from_options() {
  KnobBounds b{};
  b.tiny_cache_min = value(Option::kLearnTinyCacheMinBlocks);
  b.tiny_cache_max = std::max(b.tiny_cache_min, value(Option::kLearnTinyCacheMaxBlocks));
  // Every class at its least must fit the budget.
  b.tiny_cache_bytes = std::max(uint64_t{value(Option::kLearnTinyCacheKib)} * 1024, b.tiny_cache_min * kTinyRowBytes);
  b.mid_cache_min_kib = value(Option::kLearnMidCacheMinKib);
  b.mid_cache_max_kib = std::max(b.mid_cache_min_kib, value(Option::kLearnMidCacheMaxKib));
  b.l25_cache_min_kib = value(Option::kLearnL25CacheMinKib);
  b.l25_cache_max_kib = std::max(b.l25_cache_min_kib, value(Option::kLearnL25CacheMaxKib));
  b.large_cache_min_mib = value(Option::kLearnLargeCacheMinMib);
  b.large_cache_max_mib = std::max(b.large_cache_min_mib, value(Option::kLearnLargeCacheMaxMib));
  b.purge_delay_min_ms = value(Option::kLearnPurgeDelayMinMs);
  b.purge_delay_max_ms = std::max(b.purge_delay_min_ms, value(Option::kLearnPurgeDelayMaxMs));
  b.dwell_windows = value(Option::kLearnDwellWindows);
  return b;
}

Knobs default_knobs(const KnobBounds& b, uint32_t cache_blocks, uint32_t refill_blocks) {
  Knobs k;
  // As many blocks per class as asked, as far as the budget goes.
  const auto affordable = static_cast<uint32_t>(std::min<uint64_t>(b.tiny_cache_bytes / kTinyRowBytes, UINT32_MAX));
  const uint32_t cache = std::clamp(std::min(cache_blocks, affordable), b.tiny_cache_min, b.tiny_cache_max);
  k.tiny_cache.fill(cache);
  k.tiny_refill.fill(std::clamp<uint32_t>(refill_blocks, 1, cache));
  k.mid_cache_kib = std::clamp(value(Option::kMidCacheKib), b.mid_cache_min_kib, b.mid_cache_max_kib);
  k.l25_cache_kib = std::clamp(value(Option::kL25ThreadCacheKib), b.l25_cache_min_kib, b.l25_cache_max_kib);
  const auto large_mib = static_cast<uint32_t>(std::min<int64_t>(option_value(Option::kLargeCacheBytes) >> 20, UINT32_MAX));
  k.large_cache_mib = std::clamp(large_mib, b.large_cache_min_mib, b.large_cache_max_mib);
  k.purge_delay_ms = std::clamp(value(Option::kPurgeDelayMs), b.purge_delay_min_ms, b.purge_delay_max_ms);
  k.superslab_kib.fill(value(Option::kSuperSlabKib) == 1024 ? 1024 : 2048);
  return k;
}

uint64_t tiny_cache_bytes(const Knobs& k) {
  uint64_t bytes = 0;
  for (unsigned c = 0; c < kTinyClasses; ++c) bytes += uint64_t{k.tiny_cache[c]} * kClassSize[c];
  return bytes;
}

bool within(const Knobs& k, const KnobBounds& b) {
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    if (k.tiny_cache[c] < b.tiny_cache_min || k.tiny_cache[c] > b.tiny_cache_max) return false;
    if (k.tiny_refill[c] < 1 || k.tiny_refill[c] > k.tiny_cache[c]) return false;
  }
  if (tiny_cache_bytes(k) > b.tiny_cache_bytes) return false;
  const auto in = [](uint32_t v, uint32_t lo, uint32_t hi) { return v >= lo && v <= hi; };
  if (!in(k.mid_cache_kib, b.mid_cache_min_kib, b.mid_cache_max_kib)) return false;
  if (!in(k.l25_cache_kib, b.l25_cache_min_kib, b.l25_cache_max_kib)) return false;
  if (!in(k.large_cache_mib, b.large_cache_min_mib, b.large_cache_max_mib)) return false;
  if (!in(k.purge_delay_ms, b.purge_delay_min_ms, b.purge_delay_max_ms)) return false;
  for (uint32_t kib : k.superslab_kib) {
    if (kib != 1024 && kib != 2048) return false;
  }
  return true;
}

bool Window::quiet() const {
  for (const ClassSignals& s : tiny) {
    if (s.refills != 0 || s.spills != 0) return false;
  }
  return mid.refills == 0 && mid.spills == 0 && l25.refills == 0 && l25.spills == 0 && large_hits == 0 &&
         large_misses == 0;
}

}  // namespace hakmem::learn
