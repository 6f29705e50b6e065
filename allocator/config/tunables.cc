// The published tunables (see tunables.h).
#include "allocator/config/tunables.h"

namespace hakmem::tunables {

constinit Published g_published{};

void set(Tunable t, unsigned index, uint32_t value) {
  if ((t == Tunable::kTinyCache || t == Tunable::kTinyRefill) && value == 0) return;  // 0 means unset
  std::atomic<uint32_t>* slot = nullptr;
  switch (t) {
    case Tunable::kTinyCache: slot = index < kTinyClasses ? &g_published.tiny_cache[index] : nullptr; break;
    case Tunable::kTinyRefill: slot = index < kTinyClasses ? &g_published.tiny_refill[index] : nullptr; break;
    case Tunable::kMidCacheKib: slot = &g_published.mid_cache_kib; break;
    case Tunable::kL25CacheKib: slot = &g_published.l25_cache_kib; break;
    case Tunable::kLargeCacheMib: slot = &g_published.large_cache_mib; break;
    case Tunable::kPurgeDelayMs: slot = &g_published.purge_delay_ms; break;
  }
  if (slot != nullptr) slot->store(value, std::memory_order_relaxed);
}

void published() { g_published.generation.fetch_add(1, std::memory_order_release); }

void reset() {
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    g_published.tiny_cache[c].store(0, std::memory_order_relaxed);
    g_published.tiny_refill[c].store(0, std::memory_order_relaxed);
  }
  for (auto* v : {&g_published.mid_cache_kib, &g_published.l25_cache_kib, &g_published.large_cache_mib,
                  &g_published.purge_delay_ms})
    v->store(kUnset, std::memory_order_relaxed);
  published();
}

}  // namespace hakmem::tunables
