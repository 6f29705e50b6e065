// The L25 pool: blocks of 32 KiB .. 2 MiB, as spans of the L25 span
// manager (backend/l25_spans.h) behind two caches of freed blocks:
//
//   malloc: thread cache (classes up to 256 KiB, no lock)
//             -> shared cache of the class (its own lock)
//             -> span manager (its lock; carves a span, maps a region)
//   free:   checked and marked cached (L25SpanManager::take_for_free)
//             -> thread cache -> shared cache -> span manager (coalesces)
//
// Remote frees. Unlike a slab block, an L25 block has no owner: a span
// belongs to the manager from the moment its user frees it, and whichever
// thread frees it caches it. A block allocated by thread A and freed by
// thread B goes into B's cache, and to the shared cache or the spans when
// that is full, as tcmalloc's thread caches do; so there is no inbox to
// drain and no owner to wait for. The cost of that choice is that a thread
// that frees more than it allocates pushes its surplus to the shared
// caches at once (its cache is bounded in bytes), which is also where the
// allocating thread finds it.
//
// Bounds: a thread cache holds up to HAKMEM_L25_THREAD_CACHE_KIB
// (1 MiB) and at most kThreadSlots blocks per class; the shared caches
// together up to HAKMEM_L25_SHARED_CACHE_KIB (8 MiB) and kSharedSlots
// blocks per class. Cached blocks stay resident: trim() (malloc_trim)
// empties the shared caches into the spans, which are then purged, and
// flush() a thread's cache; exiting threads flush theirs.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "allocator/backend/l25_spans.h"
#include "allocator/config/l25_classes.h"

namespace hakmem {

class L25Pool;

// One thread's cache of freed L25 blocks of the smaller classes. Plain
// thread-local data: zero (limit 0) caches nothing until init().
//
// Invariants:
//   bytes == sum over classes c < kClasses of count[c] * l25_class_size(c)
//   bytes <= limit; count[c] <= kThreadSlots
//   every cached block's span reads kL25Cached
struct L25ThreadCache {
  static constexpr unsigned kClasses = 3 * kL25ClassesPerDoubling;  // up to 256 KiB
  static constexpr unsigned kThreadSlots = 16;

  uint64_t bytes;
  uint64_t limit;
  uint8_t count[kClasses];
  void* blocks[kClasses][kThreadSlots];

  // Reads the byte bound (HAKMEM_L25_THREAD_CACHE_KIB).
  void init();

  // A cached block of class c, in use again, or nullptr.
  [[gnu::always_inline]] void* pop(unsigned c) {
    if (c >= kClasses || count[c] == 0) return nullptr;
    bytes -= l25_class_size(c);
    void* p = blocks[c][--count[c]];
    L25SpanManager::mark_in_use(p);
    return p;
  }

  // Keeps a block freed by its user (its span already reads cached); false
  // if the class is not cached per thread or the cache is full.
  [[gnu::always_inline]] bool push(void* p, unsigned c) {
    if (c >= kClasses || count[c] == kThreadSlots || bytes + l25_class_size(c) > limit) return false;
    bytes += l25_class_size(c);
    blocks[c][count[c]++] = p;
    return true;
  }

  // Gives every cached block to `pool`'s shared caches or spans.
  void flush(L25Pool& pool);
};

struct L25PoolStats {
  int64_t shared_bytes = 0;   // in the shared caches now
  int64_t shared_hits = 0;    // ever: mallocs served by a shared cache
  int64_t span_allocs = 0;    // ever: mallocs that went to the span manager
  int64_t shared_frees = 0;   // ever: frees kept by a shared cache
  int64_t span_frees = 0;     // ever: frees that went to the span manager
};

class L25Pool {
 public:
  constexpr explicit L25Pool(L25SpanManager* spans) : spans_(spans) {}
  L25Pool(const L25Pool&) = delete;
  L25Pool& operator=(const L25Pool&) = delete;

  // A block of class c from the shared cache or the spans, in use; nullptr
  // when the OS refuses memory.
  void* allocate(unsigned c);
  // Takes a block its user freed (its span reads cached, see
  // L25SpanManager::take_for_free), of class c.
  void deallocate(void* p, unsigned c);
  // Empties the shared caches into the spans.
  void flush_shared();
  // flush_shared, then the span manager's trim (purge, unmap empty regions).
  void trim();

  L25PoolStats stats() const;
  L25SpanManager& spans() const { return *spans_; }

  // fork: every class's lock, in class order, then the span manager's
  // (taken after the SuperSlab manager's: heap_registry.h's order).
  void lock_for_fork();
  void unlock_after_fork();
  void reset_locks_in_child();

 private:
  static constexpr unsigned kSharedSlots = 32;

  // A bin's lock: held for a handful of loads and stores, so a spin (with
  // a yield) rather than a mutex, and fork's prepare can hold all 48 of
  // them (ThreadSanitizer's deadlock detector gives up on that many
  // mutexes held at once).
  class BinLock {
   public:
    void lock() {
      while (held_.exchange(true, std::memory_order_acquire)) sched_yield();
    }
    void unlock() { held_.store(false, std::memory_order_release); }
    void reset() { held_.store(false, std::memory_order_relaxed); }

   private:
    std::atomic<bool> held_{false};
  };

  // Invariants (under lock): count <= kSharedSlots; blocks[0, count) are
  // blocks of this class whose spans read cached.
  struct alignas(64) SharedBin {
    BinLock lock;
    uint32_t count = 0;
    void* blocks[kSharedSlots] = {};
  };

  L25SpanManager* spans_;
  SharedBin bins_[kL25Classes];
  // Sum of the shared bins' bytes (each bin's share changed under its lock).
  std::atomic<int64_t> shared_bytes_{0};
  std::atomic<int64_t> shared_hits_{0};
  std::atomic<int64_t> span_allocs_{0};
  std::atomic<int64_t> shared_frees_{0};
  std::atomic<int64_t> span_frees_{0};
};

// The process-wide pool, on global_l25_spans().
extern L25Pool g_l25_pool;
inline L25Pool& global_l25_pool() { return g_l25_pool; }

}  // namespace hakmem
