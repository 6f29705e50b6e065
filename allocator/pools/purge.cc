// PurgeScheduler: the process-wide purge check (see purge.h).
#include "allocator/pools/purge.h"

#include "allocator/backend/decay.h"

namespace hakmem {

constinit PurgeScheduler g_purge{&g_os_pal, &g_superslabs, &g_l25_pool, &g_large};

std::optional<uint64_t> PurgeScheduler::run_due(uint64_t now) {
  uint64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now < next) return std::nullopt;
  // One thread wins the granule; a loser's pass would find nothing new.
  if (!next_ms_.compare_exchange_strong(next, now + Decay::granule_ms(), std::memory_order_relaxed))
    return std::nullopt;
  passes_.fetch_add(1, std::memory_order_relaxed);
  purge_expired(now);
  return now;
}

void PurgeScheduler::purge_expired(uint64_t now_ms) {
  superslabs_->purge_expired(now_ms);
  l25_->purge_expired(now_ms);
  large_->purge_expired(now_ms);
}

}  // namespace hakmem
