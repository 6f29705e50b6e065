// Magazines and the depot (Bonwick & Adams, "Magazines and Vmem", 2001).
//
// A magazine is a fixed-size array of block pointers ("rounds"). Threads
// exchange whole magazines with a per-class depot, so the shared lock is
// taken once per `Rounds` operations, and a magazine's rounds are handled
// without touching the blocks themselves (a free list writes into every
// block it links; a magazine writes only its own array).
//
// Magazine objects come from MagazinePool: 64 KiB chunks carved into
// magazines, never from malloc (this code runs inside malloc), mapped
// through the Pal the caller hands it (its thread heap's: the backend's).
// Chunks are kept for the process's life, so the pool need not remember
// which Pal mapped one; their number is bounded by the most magazines alive
// at once (two per class per thread plus the depot's).
//
// Depot policy, per class:
//   - at most one full magazine per running thread, and never more than
//     kDepotMaxFull (4); a thread returning one more spills its rounds to
//     its heap instead (they go home to their slabs). A depot exists to
//     serve running threads: full magazines left behind by exited threads
//     would pin their slabs for nothing;
//   - when a thread exits, the depot is trimmed to the new limit, so the
//     last thread out leaves it empty;
//   - at most kDepotMaxEmpty empty magazines; more go back to the pool;
//   - trim() spills every full magazine and releases every empty one.
// So the depot holds at most 4 x Rounds blocks per class (with 64 rounds
// and 1 KiB blocks, 256 KiB), and hak_trim() empties it.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#include "allocator/backend/decay.h"
#include "allocator/backend/superslab.h"
#include "allocator/config/layout.h"
#include "allocator/config/size_classes.h"
#include "allocator/pal/log.h"
#include "allocator/pal/pal.h"
#include "allocator/pools/heap_registry.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

// Invariant: count <= Rounds; rounds[0, count) are blocks of one class,
// free, each held by this magazine only. While a magazine is loaded into a
// thread's cache the cache's cursor holds the true count (see MagazineLayer).
template <uint32_t Rounds>
struct Magazine {
  Magazine* next;  // depot or pool list link
  uint32_t count;
  uint32_t reserved;
  void* rounds[Rounds];
};

template <uint32_t Rounds>
class MagazinePool {
 public:
  using Mag = Magazine<Rounds>;

  // An empty magazine, or nullptr if none is free and `pal` refuses a chunk.
  static Mag* get(Pal& pal) {
    std::lock_guard lock(mutex_);
    if (free_ == nullptr && !grow_locked(pal)) return nullptr;
    Mag* m = free_;
    free_ = m->next;
    m->next = nullptr;
    m->count = 0;
    return m;
  }

  static void put(Mag* m) {
    std::lock_guard lock(mutex_);
    m->next = free_;
    free_ = m;
  }

  // fork (Depot's hooks, HeapRegistry's order).
  static void lock_for_fork() { mutex_.lock(); }
  static void unlock_after_fork() { mutex_.unlock(); }
  static void reset_lock_in_child() { new (&mutex_) std::mutex; }

  // True when the next get() must map a chunk (tests drain the pool to
  // make it map).
  static bool empty() {
    std::lock_guard lock(mutex_);
    return free_ == nullptr;
  }

 private:
  static constexpr size_t kChunk = 64 * 1024;
  static constexpr size_t kSpan = align_up(sizeof(Mag), 64);

  // Runs once per chunk. Out of line so that the magazine exchanges that
  // get() inlines into keep their code: inlined, the Pal lookup cost
  // push_many a spilled register, one instruction per call (callgrind).
  // Not cold: GCC compiles cold code for size, and its `rep stos` zeroing
  // counts an instruction per word.
  [[gnu::noinline]] static bool grow_locked(Pal& pal) {
    auto* chunk = static_cast<char*>(pal.map(kChunk, kPageSize));
    if (chunk == nullptr) return false;
    for (size_t offset = 0; offset + kSpan <= kChunk; offset += kSpan) {
      auto* m = new (chunk + offset) Mag{};
      m->next = free_;
      free_ = m;
    }
    return true;
  }

  static inline constinit std::mutex mutex_{};
  static inline constinit Mag* free_ = nullptr;
};

struct DepotStats {
  uint32_t full = 0;
  uint32_t empty = 0;
  uint64_t full_taken = 0;     // exchanges that got a full magazine
  uint64_t full_refused = 0;   // full magazines turned away at the limit
  uint64_t empty_released = 0; // empty magazines returned to the pool
};

inline constexpr uint32_t kDepotMaxFull = 4;
inline constexpr uint32_t kDepotMaxEmpty = 8;

// The depot of one magazine size: per class, a locked stack of full and a
// locked stack of empty magazines.
//
// Decay. A full magazine in the depot holds Rounds blocks out of their
// slabs, so those slabs can never empty and be purged: after growth's
// workers exited, the one full magazine per class kept for the main thread
// pinned about 2.5 MiB. So the process-wide purge check (pools/purge.h,
// through Allocator::purge_check) calls purge_idle(), which runs at most
// once per HAKMEM_PURGE_DELAY_MS; a class whose depot no thread took from
// or gave to since the last pass (so for at least the delay) sends its
// full magazines home, and a class in use keeps them. Whether a class was
// used is read from its counters, compared with the last pass's snapshot
// (a take moves full_taken, a refused give full_refused, an accepted one
// the full count, unless a take moved full_taken too), so the exchanges
// pay nothing for it.
//
// Invariants (under the class's lock): full_count == length(full),
// full_count <= kDepotMaxFull, every magazine on `full` has count == Rounds;
// likewise empty_count == length(empty) <= kDepotMaxEmpty, each count == 0;
// seen is the counters as the last purge_idle pass left them.
template <uint32_t Rounds>
class Depot {
 public:
  using Mag = Magazine<Rounds>;
  using Pool = MagazinePool<Rounds>;

  static Mag* take_full(unsigned size_class) {
    Bin& bin = bins_[size_class];
    std::lock_guard lock(bin.mutex);
    Mag* m = bin.full;
    if (m != nullptr) {
      bin.full = m->next;
      --bin.stats.full;
      ++bin.stats.full_taken;
    }
    return m;
  }

  // Full magazines the depot keeps per class now: one per running thread.
  static uint32_t full_limit() {
    const int active = active_heaps();
    return active < 1 ? 1 : (static_cast<uint32_t>(active) < kDepotMaxFull ? static_cast<uint32_t>(active) : kDepotMaxFull);
  }

  // False at the limit: the caller keeps `m` and must empty it.
  static bool put_full(unsigned size_class, Mag* m) {
    Bin& bin = bins_[size_class];
    std::lock_guard lock(bin.mutex);
    if (bin.stats.full >= full_limit()) {
      ++bin.stats.full_refused;
      return false;
    }
    m->next = bin.full;
    bin.full = m;
    ++bin.stats.full;
    return true;
  }

  // An empty magazine from the depot, else from the pool, which maps through
  // heap's Pal if it must (nullptr if the Pal refuses). The heap, not its
  // Pal, is the parameter: the Pal is looked up only on the pool path, so
  // callers keep no extra value alive across the depot's lock.
  static Mag* take_empty(unsigned size_class, ThreadHeap& heap) {
    // Every thread's first magazine comes through here, before it can hold
    // any lock of this depot or its pool: the fork hooks exist first.
    if (!fork_hooks_added_.load(std::memory_order_acquire)) [[unlikely]]
      add_fork_hooks_once();
    Bin& bin = bins_[size_class];
    {
      std::lock_guard lock(bin.mutex);
      if (Mag* m = bin.empty; m != nullptr) {
        bin.empty = m->next;
        --bin.stats.empty;
        return m;
      }
    }
    return Pool::get(heap.pal());
  }

  static void put_empty(unsigned size_class, Mag* m) {
    Bin& bin = bins_[size_class];
    m->count = 0;
    {
      std::lock_guard lock(bin.mutex);
      if (bin.stats.empty < kDepotMaxEmpty) {
        m->next = bin.empty;
        bin.empty = m;
        ++bin.stats.empty;
        return;
      }
      ++bin.stats.empty_released;
    }
    Pool::put(m);
  }

  // Spills every full magazine beyond `keep_full` per class through `heap`
  // (home to their slabs), and with keep_full == 0 also releases every
  // empty magazine to the pool.
  static void trim(ThreadHeap& heap, uint32_t keep_full = 0) {
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      Bin& bin = bins_[c];
      Mag* full = nullptr;
      Mag* empty = nullptr;
      {
        std::lock_guard lock(bin.mutex);
        while (bin.stats.full > keep_full) {
          Mag* m = bin.full;
          bin.full = m->next;
          m->next = full;
          full = m;
          --bin.stats.full;
        }
        if (keep_full == 0) {
          empty = bin.empty;
          bin.empty = nullptr;
          bin.stats.empty = 0;
        }
      }
      while (full != nullptr) {
        Mag* next = full->next;
        spill_rounds(heap, full);
        Pool::put(full);
        full = next;
      }
      while (empty != nullptr) {
        Mag* next = empty->next;
        Pool::put(empty);
        empty = next;
      }
    }
  }

  // The decay's pass (see above), at clock reading now_ms: once a delay
  // has passed since the last pass, the full magazines of every class
  // unused since then go home through heap. Any thread with a heap.
  static void purge_idle(ThreadHeap& heap, uint64_t now_ms) {
    uint64_t last = last_purge_ms_.load(std::memory_order_relaxed);
    if (now_ms < last + Decay::delay_ms()) return;
    if (!last_purge_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) return;
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      Bin& bin = bins_[c];
      Mag* full = nullptr;
      {
        std::lock_guard lock(bin.mutex);
        const bool idle = bin.stats.full_taken == bin.seen.full_taken &&
                          bin.stats.full_refused == bin.seen.full_refused && bin.stats.full == bin.seen.full;
        if (idle) {
          full = bin.full;
          bin.full = nullptr;
          bin.stats.full = 0;
        }
        bin.seen = bin.stats;
      }
      while (full != nullptr) {
        Mag* next = full->next;
        spill_rounds(heap, full);
        Pool::put(full);
        full = next;
      }
    }
  }

  // fork: the pool's lock, then every bin's, in class order (after the
  // core's locks: HeapRegistry::fork_prepare); released in reverse.
  static void lock_for_fork() {
    Pool::lock_for_fork();
    for (Bin& bin : bins_) bin.mutex.lock();
  }
  static void unlock_after_fork() {
    for (unsigned c = kTinyClasses; c-- > 0;) bins_[c].mutex.unlock();
    Pool::unlock_after_fork();
  }
  static void reset_locks_in_child() {
    for (Bin& bin : bins_) new (&bin.mutex) std::mutex;
    Pool::reset_lock_in_child();
  }

  static DepotStats stats(unsigned size_class) {
    Bin& bin = bins_[size_class];
    std::lock_guard lock(bin.mutex);
    return bin.stats;
  }

  // Gives m's rounds back through heap (home to their slabs); m ends empty.
  static void spill_rounds(ThreadHeap& heap, Mag* m) {
    FreeBlock* head = nullptr;
    for (uint32_t i = 0; i < m->count; ++i) {
      auto* block = static_cast<FreeBlock*>(m->rounds[i]);
      block->next = head;
      head = block;
    }
    m->count = 0;
    heap.spill(head);
  }

 private:
  struct alignas(64) Bin {
    std::mutex mutex;
    Mag* full = nullptr;
    Mag* empty = nullptr;
    DepotStats stats;
    DepotStats seen;
  };
  [[gnu::cold, gnu::noinline]] static void add_fork_hooks_once() {
    static constinit std::atomic<bool> adding{false};
    if (adding.exchange(true, std::memory_order_acq_rel)) {
      while (!fork_hooks_added_.load(std::memory_order_acquire)) sched_yield();
      return;
    }
    add_fork_hooks({&lock_for_fork, &unlock_after_fork, &reset_locks_in_child});
    fork_hooks_added_.store(true, std::memory_order_release);
  }

  static inline constinit Bin bins_[kTinyClasses]{};
  // The last purge_idle pass's clock reading.
  static inline constinit std::atomic<uint64_t> last_purge_ms_{0};
  static inline constinit std::atomic<bool> fork_hooks_added_{false};
};

}  // namespace hakmem
