// The large cache: freed large mappings kept mapped for the next large
// allocation, so a program that allocates and frees blocks of several MiB
// in a loop makes no system call per pair (issue 12: 5x slower than glibc
// when every free unmapped and every malloc mapped again).
//
// Policy:
//   - Bounded in bytes (HAKMEM_LARGE_CACHE_BYTES, default 128 MiB: see
//     config/options.h) and in count (kSlots). A mapping larger than the
//     bound is never cached.
//   - Reuse is best fit: the smallest cached mapping of at least the bytes
//     asked for. A fit much larger than the request is shrunk by the caller
//     (LargeAllocator, with Pal::remap) rather than left unused.
//   - Eviction is oldest first: a mapping that waited longest is the least
//     likely to be asked for again (a loop reuses what it just freed), and
//     the oldest first is also the order in which time decay would give
//     them back anyway.
//   - Time decay (backend/decay.h, HAKMEM_PURGE_DELAY_MS): a mapping that
//     stays cached past the delay has its pages purged (Pal::purge, all but
//     the header page, which holds its books), and one that stays past the
//     delay again is unmapped. Purge passes run on the cache's own events
//     (puts and takes), the clock read once per kEventsPerClockRead of
//     them. With a delay of 0 nothing is cached: a free unmaps at once.
//   - Eviction, expiry and trim return mappings to the caller, which
//     unmaps them after the lock is released: munmap can take a while, and
//     a fork waits for this lock. The purges of a pass run under it: a
//     mapping must not be handed out while its pages are being dropped.
//
// The cache only keeps the books; what a mapping holds (its header, its
// class-map marks, cleared while cached) is LargeAllocator's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include "allocator/backend/decay.h"
#include "allocator/pal/pal.h"

namespace hakmem {

// A freed mapping waiting in the cache.
//   [base, base + size) is one mapping, 2 MiB-aligned, its LargeHeader at base;
//   [base, dirty_end) may hold old bytes; [dirty_end, base + size) is zero
//   (never written since mapped, or purged: then dirty_end == base + kPageSize);
//   since: the decay stamp of its free, or of its purge once purged.
struct CachedMapping {
  char* base;
  size_t size;
  char* dirty_end;
  Decay::Stamp since;
  bool purged;
};

// Invariants (under the lock):
//   count_ <= kSlots; slots_[0, count_) ordered by insertion, oldest first
//   bytes_ == sum of slots_[i].size <= bound
//   decay_'s oldest stamp <= every slots_[i].since
struct LargeCacheStats {
  int64_t cached_blocks = 0;
  int64_t cached_bytes = 0;
  int64_t hits = 0;     // ever: allocations served by a cached mapping
  int64_t misses = 0;   // ever: allocations the cache could not serve
  int64_t evicted = 0;  // ever: mappings pushed out by the bound (trim's are not counted)
  int64_t stored = 0;   // ever: freed mappings put in
  int64_t purged = 0;   // ever: mappings whose pages went back after the delay
  int64_t expired = 0;  // ever: mappings unmapped after staying purged past the delay
};

class LargeCache {
 public:
  // Room for the default bound's worth of 4 MiB blocks (31), and then some
  // smaller ones (blocks below 2 MiB reach the large allocator only
  // through aligned_alloc with more than a page's alignment). More slots
  // would only lengthen the best-fit scan.
  static constexpr unsigned kSlots = 64;
  static constexpr int64_t kBoundFromOptions = -1;
  // A large free or malloc costs far more than a clock read, but the
  // SuperSlab manager's rate keeps one rule for every pool.
  static constexpr unsigned kEventsPerClockRead = 4;

  // `bound`: the byte bound, or kBoundFromOptions for
  // HAKMEM_LARGE_CACHE_BYTES (read on each put: cheap once loaded).
  // Purges go through `pal`.
  constexpr LargeCache(Pal* pal, int64_t bound) : pal_(pal), bound_(bound), decay_(kEventsPerClockRead) {}
  LargeCache(const LargeCache&) = delete;
  LargeCache& operator=(const LargeCache&) = delete;

  // The best-fit cached mapping of at least `need` bytes, out of the cache
  // into *out: true on a hit. Counts a hit or a miss. A purge pass may run
  // first; what it expires goes to evicted[0, *evicted_count) (room for
  // kSlots) for the caller to unmap.
  bool take(size_t need, CachedMapping* out, CachedMapping* evicted, unsigned* evicted_count);

  // Caches the mapping [base, base + size), all of it possibly dirty,
  // first evicting the oldest mappings until it fits the bound and a slot;
  // the evicted ones (and any a purge pass expires) go to
  // evicted[0, *evicted_count) (room for kSlots) for the caller to unmap.
  // False, with nothing evicted, when it alone is over the bound or the
  // purge delay is 0: the caller unmaps it.
  bool put(char* base, size_t size, CachedMapping* evicted, unsigned* evicted_count);

  // A purge pass as of `now_ms` (the entry point of a background thread);
  // expired mappings go to evicted as above.
  void purge_expired(uint64_t now_ms, CachedMapping* evicted, unsigned* evicted_count);

  // Empties the cache into out[0, return value) (room for kSlots).
  unsigned take_all(CachedMapping* out);

  int64_t bound() const;
  LargeCacheStats stats() const;

  // fork (HeapRegistry's handlers, after the SuperSlab manager's lock):
  // take before, release in the parent, make anew in the child.
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }
  void reset_lock_in_child() { new (&mutex_) std::mutex; }

 private:
  void remove_locked(unsigned i);
  // Purges the mappings past the delay, expires (moves to evicted) the
  // purged ones past it again.
  void purge_expired_locked(CachedMapping* evicted, unsigned* evicted_count);
  // The counters below other than misses_ are written under the lock only:
  // a plain store, no atomic read-modify-write (several of those per pair
  // were a tenth of a 4 MiB malloc+free pair's time).
  static void add_locked(std::atomic<int64_t>& counter, int64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  Pal* const pal_;
  const int64_t bound_;
  std::mutex mutex_;
  Decay decay_;  // stamps of the cached mappings
  unsigned count_ = 0;
  CachedMapping slots_[kSlots]{};
  // Statistics, read without the lock; blocks_ also lets take() skip the
  // lock when the cache is empty, which is also why misses_, counted there
  // too, is the one counter with atomic increments.
  std::atomic<int64_t> blocks_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> evicted_{0};
  std::atomic<int64_t> stored_{0};
  std::atomic<int64_t> purged_{0};
  std::atomic<int64_t> expired_{0};
};

}  // namespace hakmem
