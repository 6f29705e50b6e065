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
// together up to HAKMEM_L25_SHARED_CACHE_KIB (0 by default: none; a block
// cached there sits between free spans and keeps them from coalescing: 8
// MiB of them raised mid_churn's peak RSS from 101 to 128 MiB, its rises
// and falls being shorter than the decay below) and kSharedSlots blocks
// per class. trim() (malloc_trim) empties the shared caches into
// the spans, which are then purged, and flush() a thread's cache; exiting
// threads flush theirs.
//
// Decay of the shared caches (when turned on). Up to 8 MiB that a program stopped asking
// for would otherwise stay resident for good (growth's drain left them
// full). Each shared block is stamped with the pool's open decay
// generation (backend/decay.h) as it enters its bin; a bin is a stack, so
// its stamps never decrease from bottom to top, and the bottom blocks are
// the ones unused longest. purge_expired(now) (the process-wide check,
// pools/purge.h) gives every block unused past HAKMEM_PURGE_DELAY_MS back
// to the spans, which purge it once it has stayed free there for the delay
// too: the return takes two delays, not one, because a cached block's
// pages were in use a delay ago at most and the spans' single rule (a span
// is purged a delay after it was freed) stays the only one that returns
// pages. A block reused within the delay is restamped when freed again, so
// a working set that churns through the caches keeps them. The cost on the
// free path is one relaxed load and one store under the bin's lock; the
// thread caches (at most 1 MiB a thread, flushed at exit) do not decay.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "allocator/backend/decay.h"
#include "allocator/backend/l25_spans.h"
#include "allocator/config/l25_classes.h"

namespace hakmem {

class L25Pool;

// One thread's cache of freed L25 blocks of the smaller classes (up to
// 256 KiB). Plain thread-local data.
//
// Bounded in bytes through count limits, as the mid cache is
// (frontend/mid_cache.h): each class's list has a count limit, the limits
// are shares of one byte budget (HAKMEM_L25_THREAD_CACHE_KIB), and the
// fast paths compare a count with its limit and never add up bytes. A
// limit starts at 0 and doubles from 2 each time its list overflows (at
// most kThreadSlots, as far as the budget goes), so a class used once
// takes a small share. Once the budget is spent, the other classes give
// half their shares back, largest first, until the overflowing class has
// room (their coldest blocks go to the pool), so a program whose sizes
// move on takes the whole budget to its new size: no class hoards what
// another needs. Only a class holding the whole budget stays full, its
// block going to the pool. (Refusing whenever the overflowing class held
// the largest share, as the mid cache does, left a 64 KiB class at 8 of
// its 16 blocks for good after a 256 KiB phase had taken half: the
// microbenchmark's fifo and random 64 KiB pairs, run after lifo's larger
// sizes, went to the shared cache half the time.)
//
// Invariants (the owning thread's alone: no other thread touches it):
//   count[c] <= limit[c] <= kThreadSlots for c < kClasses;
//   count[c] == limit[c] == 0 for the larger classes (so the fast paths
//     need no class range test: a larger class always misses)
//   reserved == sum over c of limit[c] * l25_class_size(c) <= budget,
//   so bytes() (sum of count[c] * l25_class_size(c)) <= budget
//   every cached block's span reads kL25Cached
// A zeroed cache (before init(), after the thread's exit) has budget 0:
// every push fails and every pop misses.
struct L25ThreadCache {
  static constexpr unsigned kClasses = 3 * kL25ClassesPerDoubling;  // up to 256 KiB
  static constexpr size_t kMaxSize = l25_class_size(kClasses - 1);
  static constexpr unsigned kThreadSlots = 16;
  static_assert(kMaxSize == kL25TableMaxSize, "the fast path's class table covers exactly the cached classes");

  uint8_t count[kL25Classes];
  uint8_t limit[kL25Classes];
  uint64_t reserved;
  uint64_t budget;
  void* blocks[kClasses][kThreadSlots];

  // Reads the byte budget (HAKMEM_L25_THREAD_CACHE_KIB, or the learner's: config/tunables.h).
  void init();

  // Fast path of a malloc of kSlabMaxSize < size <= kMaxSize: a cached
  // block, in use again, or nullptr.
  [[gnu::always_inline]] void* try_alloc(size_t size) { return pop_cached(l25_table_class_of(size)); }

  // A cached block of class c (any L25 class), in use again, or nullptr.
  void* pop(unsigned c) { return c < kClasses ? pop_cached(c) : nullptr; }

  // Fast path of every free of an L25 block: a span in use whose list has
  // room is marked cached and kept. False leaves everything as it was: a
  // full list, a larger class, or a bad free (an interior pointer, a double
  // free), which the caller's take_for_free then reports.
  [[gnu::always_inline]] bool try_free(void* p) {
    L25Span* span = L25SpanManager::in_use_head(p);
    return span != nullptr && try_push(p, span);
  }

  // try_free's second half, for a caller that has found p's span in use
  // (L25SpanManager::in_use_head): kept if its class's list has room.
  [[gnu::always_inline]] bool try_push(void* p, L25Span* span) {
    // Locals, and the kind stored last: the compiler must assume a byte
    // store aliases count[].
    const unsigned c = span->size_class;
    const unsigned n = count[c];
    if (n >= limit[c]) return false;
    blocks[c][n] = p;
    count[c] = static_cast<uint8_t>(n + 1);
    span->kind.store(kL25Cached, std::memory_order_relaxed);
    return true;
  }

  // A free try_free declined, after take_for_free: keeps the block (its
  // span already reads cached) of class c, raising the class's limit from
  // the budget or taking half the largest other share (its excess to
  // `pool`); false if the class is not cached per thread or stays full.
  bool push(void* p, unsigned c, L25Pool& pool) {
    if (c >= kClasses || (count[c] >= limit[c] && !raise_limit(c, pool))) return false;
    blocks[c][count[c]++] = p;
    return true;
  }

  // Gives every cached block to `pool`'s shared caches or spans; every
  // limit starts again from 0.
  void flush(L25Pool& pool);

  // Bytes cached now: the sum the invariants bound (tests, statistics).
  uint64_t bytes() const;

 private:
  // Class c < kClasses.
  [[gnu::always_inline]] void* pop_cached(unsigned c) {
    if (count[c] == 0) return nullptr;
    void* p = blocks[c][--count[c]];
    if (p == nullptr) __builtin_unreachable();  // a cached block: the caller's miss test folds away
    L25SpanManager::mark_in_use(p);
    return p;
  }
  // Class c < kClasses, its list full: true if its limit rose.
  bool raise_limit(unsigned c, L25Pool& pool);
  // Lowers class c's limit to new_limit, its coldest blocks to `pool`.
  void lower_limit(unsigned c, unsigned new_limit, L25Pool& pool);
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

  // A block of class c from the shared cache, else a span of `pages` pages
  // (l25_span_pages of the request: at most the class's), in use; nullptr
  // when the OS refuses memory.
  void* allocate(unsigned c, uint32_t pages);
  // The same with all the pages of class c.
  void* allocate(unsigned c) { return allocate(c, l25_class_pages(c)); }
  // Takes a block its user freed (its span reads cached, see
  // L25SpanManager::take_for_free), of class c. Only a span of all the
  // class's pages is cached: a shorter one (l25_span_pages) could not serve
  // every request of its class.
  void deallocate(void* p, unsigned c);
  // Gives a block its user freed (its span reads cached) to the spans at
  // once, past the shared cache: deallocate's way when the cache declines,
  // and realloc's for the block it moved out of.
  void release(void* p);
  // Empties the shared caches into the spans.
  void flush_shared();
  // At clock reading `now_ms`: the shared blocks unused past the delay go
  // back to the spans, then the spans' own pass runs (the process-wide
  // check's call, pools/purge.h). A pass already running elsewhere is not
  // waited for.
  void purge_expired(uint64_t now_ms);
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
    bool try_lock() { return !held_.exchange(true, std::memory_order_acquire); }
    void unlock() { held_.store(false, std::memory_order_release); }
    void reset() { held_.store(false, std::memory_order_relaxed); }

   private:
    std::atomic<bool> held_{false};
  };

  // Invariants (under lock): count <= kSharedSlots; blocks[0, count) are
  // blocks of this class, all of its pages, whose spans read cached; stamps[i] is the decay
  // generation published when blocks[i] entered, and
  // stamps[0] <= stamps[1] <= ... <= stamps[count - 1].
  struct alignas(64) SharedBin {
    BinLock lock;
    uint32_t count = 0;
    void* blocks[kSharedSlots] = {};
    Decay::Stamp stamps[kSharedSlots] = {};
  };

  // Takes bin c's blocks unused past the delay into `taken` (under the
  // bin's lock); returns how many.
  uint32_t take_expired(unsigned c, void** taken);

  L25SpanManager* spans_;
  SharedBin bins_[kL25Classes];
  // The decay of the shared blocks: decay_ under purge_lock_ (taken before
  // any bin's lock and the spans'), its open generation published for the
  // stampers, who hold only their bin's lock. A block stamped just as a
  // pass closes its generation counts as freed at that close: early by
  // the microseconds of the pass at most.
  BinLock purge_lock_;
  Decay decay_{1};
  std::atomic<Decay::Stamp> open_generation_{0};
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
