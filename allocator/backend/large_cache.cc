// LargeCache: the books of freed large mappings kept for reuse (see large_cache.h).
#include "allocator/backend/large_cache.h"

#include <algorithm>

#include "allocator/config/tunables.h"

namespace hakmem {

int64_t LargeCache::bound() const {
  return bound_ != kBoundFromOptions ? bound_ : tunables::large_cache_bytes();
}

void LargeCache::remove_locked(unsigned i) {
  add_locked(blocks_, -1);
  add_locked(bytes_, -static_cast<int64_t>(slots_[i].size));
  for (unsigned j = i + 1; j < count_; ++j) slots_[j - 1] = slots_[j];
  --count_;
}

bool LargeCache::take(size_t need, CachedMapping* out, CachedMapping* evicted, unsigned* evicted_count) {
  *evicted_count = 0;
  // An empty cache (the first allocations, or a bound of 0) costs no lock.
  // A mapping another thread caches meanwhile is only missed once.
  if (blocks_.load(std::memory_order_relaxed) == 0) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  std::lock_guard lock(mutex_);
  if (decay_.tick(*pal_)) purge_expired_locked(evicted, evicted_count);
  unsigned best = count_;
  for (unsigned i = 0; i < count_; ++i) {
    if (slots_[i].size >= need && (best == count_ || slots_[i].size < slots_[best].size)) best = i;
  }
  if (best == count_) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *out = slots_[best];
  remove_locked(best);
  add_locked(hits_, 1);
  return true;
}

bool LargeCache::put(char* base, size_t bytes, CachedMapping* evicted, unsigned* evicted_count) {
  *evicted_count = 0;
  const int64_t limit = bound();
  const auto size = static_cast<int64_t>(bytes);
  if (size > limit || Decay::immediate()) return false;
  std::lock_guard lock(mutex_);
  while (count_ == kSlots || bytes_.load(std::memory_order_relaxed) + size > limit) {
    evicted[(*evicted_count)++] = slots_[0];
    remove_locked(0);
    add_locked(evicted_, 1);
  }
  slots_[count_++] = {base, bytes, base + bytes, decay_.stamp(), false};
  add_locked(stored_, 1);
  add_locked(blocks_, 1);
  add_locked(bytes_, size);
  if (decay_.tick(*pal_)) purge_expired_locked(evicted, evicted_count);
  return true;
}

void LargeCache::purge_expired(uint64_t now_ms, CachedMapping* evicted, unsigned* evicted_count) {
  *evicted_count = 0;
  std::lock_guard lock(mutex_);
  if (decay_.advance(now_ms)) purge_expired_locked(evicted, evicted_count);
}

void LargeCache::purge_expired_locked(CachedMapping* evicted, unsigned* evicted_count) {
  Decay::Stamp oldest = Decay::kNone;  // of what stays
  for (unsigned i = 0; i < count_;) {
    CachedMapping& m = slots_[i];
    if (!decay_.expired(m.since)) {
      oldest = std::min(oldest, m.since);
      ++i;
    } else if (!m.purged) {
      // Unused for the delay: its pages go back, all but the header's, and
      // it waits another delay before it is unmapped.
      if (m.size > kPageSize) pal_->purge(m.base + kPageSize, m.size - kPageSize);
      m.dirty_end = m.base + kPageSize;
      m.purged = true;
      m.since = decay_.stamp();
      oldest = std::min(oldest, m.since);
      add_locked(purged_, 1);
      ++i;
    } else {
      evicted[(*evicted_count)++] = m;
      remove_locked(i);
      add_locked(expired_, 1);
    }
  }
  decay_.rescanned(oldest);
}

unsigned LargeCache::take_all(CachedMapping* out) {
  std::lock_guard lock(mutex_);
  const unsigned n = count_;
  for (unsigned i = 0; i < n; ++i) out[i] = slots_[i];
  count_ = 0;
  add_locked(blocks_, -static_cast<int64_t>(n));
  bytes_.store(0, std::memory_order_relaxed);
  return n;
}

LargeCacheStats LargeCache::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  return {blocks_.load(r),  bytes_.load(r),  hits_.load(r),   misses_.load(r),
          evicted_.load(r), stored_.load(r), purged_.load(r), expired_.load(r)};
}

}  // namespace hakmem
