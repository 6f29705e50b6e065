// L25Pool: the shared per-class caches in front of the span manager, and
// the thread cache's slow parts (see l25_pool.h).
#include "allocator/pools/l25_pool.h"

#include <algorithm>

#include "allocator/config/options.h"
#include "allocator/config/tunables.h"

namespace hakmem {

constinit L25Pool g_l25_pool{&g_l25_spans};

namespace {

void bump(std::atomic<int64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

void L25ThreadCache::init() {
  budget = tunables::l25_cache_bytes();
}

bool L25ThreadCache::raise_limit(unsigned c, L25Pool& pool) {
  if (limit[c] >= kThreadSlots) return false;
  const uint64_t size = l25_class_size(c);
  // The budget is spent: the other classes' shares give half back, the
  // largest first, until one more block fits. A class that holds the whole
  // budget (the steady state of one size overflowing) fails without a
  // search.
  while (budget - reserved < size) {
    if (reserved == limit[c] * size) return false;
    unsigned largest = c;
    uint64_t most = 0;
    for (unsigned k = 0; k < kClasses; ++k) {
      const uint64_t share = limit[k] * l25_class_size(k);
      if (k != c && share > most) {
        largest = k;
        most = share;
      }
    }
    lower_limit(largest, limit[largest] / 2u, pool);
  }
  const unsigned wanted = limit[c] == 0 ? 2u : std::min(2u * limit[c], kThreadSlots);
  const auto fits = static_cast<unsigned>(std::min<uint64_t>((budget - reserved) / size, wanted - limit[c]));
  limit[c] = static_cast<uint8_t>(limit[c] + fits);
  reserved += fits * size;
  return true;
}

void L25ThreadCache::lower_limit(unsigned c, unsigned new_limit, L25Pool& pool) {
  if (count[c] > new_limit) {
    // The bottom of the stack is the coldest: those go, the rest move down.
    const unsigned excess = count[c] - new_limit;
    for (unsigned i = 0; i < excess; ++i) pool.deallocate(blocks[c][i], c);
    for (unsigned i = excess; i < count[c]; ++i) blocks[c][i - excess] = blocks[c][i];
    count[c] = static_cast<uint8_t>(new_limit);
  }
  reserved -= (limit[c] - new_limit) * l25_class_size(c);
  limit[c] = static_cast<uint8_t>(new_limit);
}

void L25ThreadCache::flush(L25Pool& pool) {
  for (unsigned c = 0; c < kClasses; ++c) lower_limit(c, 0, pool);
}

uint64_t L25ThreadCache::bytes() const {
  uint64_t sum = 0;
  for (unsigned c = 0; c < kClasses; ++c) sum += count[c] * l25_class_size(c);
  return sum;
}

void* L25Pool::allocate(unsigned c, uint32_t pages) {
  SharedBin& bin = bins_[c];
  void* p = nullptr;
  {
    std::lock_guard guard(bin.lock);
    if (bin.count > 0) {
      p = bin.blocks[--bin.count];
      shared_bytes_.fetch_sub(static_cast<int64_t>(l25_class_size(c)), std::memory_order_relaxed);
    }
  }
  if (p != nullptr) {
    bump(shared_hits_);
    L25SpanManager::mark_in_use(p);
    return p;
  }
  bump(span_allocs_);
  return spans_->allocate_pages(pages);
}

void L25Pool::deallocate(void* p, unsigned c) {
  SharedBin& bin = bins_[c];
  const auto size = static_cast<int64_t>(l25_class_size(c));
  const int64_t limit = option_value(Option::kL25SharedCacheKib) * 1024;
  if (l25_span_of(p)->pages == l25_class_pages(c)) {
    std::lock_guard guard(bin.lock);
    if (bin.count < kSharedSlots && shared_bytes_.load(std::memory_order_relaxed) + size <= limit) {
      bin.stamps[bin.count] = open_generation_.load(std::memory_order_relaxed);
      bin.blocks[bin.count++] = p;
      shared_bytes_.fetch_add(size, std::memory_order_relaxed);
      bump(shared_frees_);
      return;
    }
  }
  release(p);
}

void L25Pool::release(void* p) {
  bump(span_frees_);
  spans_->release(&p, 1);
}

void L25Pool::flush_shared() {
  for (unsigned c = 0; c < kL25Classes; ++c) {
    SharedBin& bin = bins_[c];
    void* taken[kSharedSlots];
    uint32_t n;
    {
      std::lock_guard guard(bin.lock);
      n = bin.count;
      for (uint32_t i = 0; i < n; ++i) taken[i] = bin.blocks[i];
      bin.count = 0;
      shared_bytes_.fetch_sub(static_cast<int64_t>(n * l25_class_size(c)), std::memory_order_relaxed);
    }
    // Outside the bin's lock: the span manager's lock is never taken under it.
    spans_->release(taken, n);
  }
}

uint32_t L25Pool::take_expired(unsigned c, void** taken) {
  SharedBin& bin = bins_[c];
  std::lock_guard guard(bin.lock);
  uint32_t n = 0;
  while (n < bin.count && decay_.expired(bin.stamps[n])) ++n;  // the oldest are at the bottom
  if (n == 0) return 0;
  for (uint32_t i = 0; i < n; ++i) taken[i] = bin.blocks[i];
  for (uint32_t i = n; i < bin.count; ++i) {
    bin.blocks[i - n] = bin.blocks[i];
    bin.stamps[i - n] = bin.stamps[i];
  }
  bin.count -= n;
  shared_bytes_.fetch_sub(static_cast<int64_t>(n * l25_class_size(c)), std::memory_order_relaxed);
  return n;
}

void L25Pool::purge_expired(uint64_t now_ms) {
  if (purge_lock_.try_lock()) {
    decay_.advance(now_ms);
    if (shared_bytes_.load(std::memory_order_relaxed) > 0) {
      for (unsigned c = 0; c < kL25Classes; ++c) {
        void* taken[kSharedSlots];
        // Outside the bin's lock, as in flush_shared.
        if (const uint32_t n = take_expired(c, taken); n > 0) spans_->release(taken, n);
      }
    }
    open_generation_.store(decay_.open_generation(), std::memory_order_relaxed);
    purge_lock_.unlock();
  }
  spans_->purge_expired(now_ms);
}

void L25Pool::trim() {
  flush_shared();
  spans_->trim();
}

L25PoolStats L25Pool::stats() const {
  L25PoolStats s;
  s.shared_bytes = shared_bytes_.load(std::memory_order_relaxed);
  s.shared_hits = shared_hits_.load(std::memory_order_relaxed);
  s.span_allocs = span_allocs_.load(std::memory_order_relaxed);
  s.shared_frees = shared_frees_.load(std::memory_order_relaxed);
  s.span_frees = span_frees_.load(std::memory_order_relaxed);
  return s;
}

void L25Pool::lock_for_fork() {
  purge_lock_.lock();
  for (SharedBin& bin : bins_) bin.lock.lock();
  spans_->lock_for_fork();
}

void L25Pool::unlock_after_fork() {
  spans_->unlock_after_fork();
  for (unsigned c = kL25Classes; c-- > 0;) bins_[c].lock.unlock();
  purge_lock_.unlock();
}

void L25Pool::reset_locks_in_child() {
  spans_->reset_lock_in_child();
  for (SharedBin& bin : bins_) bin.lock.reset();
  purge_lock_.reset();
}

}  // namespace hakmem
