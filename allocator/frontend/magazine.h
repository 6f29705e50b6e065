// Magazines and the depot (Bonwick & Adams, "Magazines and Vmem", 2001).
//
// A magazine is a fixed-size array of block pointers ("rounds"). Threads
// exchange whole magazines with a per-class depot, so the shared lock is
// taken once per `Rounds` operations, and a magazine's rounds are handled
// without touching the blocks themselves (a free list writes into every
// block it links; a magazine writes only its own array).
//
// Magazine objects come from MagazinePool: 64 KiB chunks of magazines,
// never from malloc (this code runs inside malloc), mapped through the Pal
// the caller hands it (its thread heap's: the backend's). Chunks stay
// mapped for the process's life (their number is bounded by the most
// magazines alive at once: two per class per thread plus the depot's), so
// the pool need not remember which Pal mapped one; but the pages of free
// magazines go back to the OS on the depot's decay pass (purge_free). Free
// magazines are marked in a bitmap in the chunk's header, not linked
// through themselves, so a purged page loses nothing, and get() hands out
// the lowest free one, so a page is touched only when a magazine on it is
// first used. (Until issue 12's settle follow-up a chunk was carved whole
// into a list through its magazines: every page was written at once, and
// the magazines of exited threads stayed resident for good; growth's
// settled RSS at 2 threads kept ~100 KiB more under magazine and hot_mag
// than under ultra_simple.)
//
// Depot policy, per class:
//   - at most one full magazine per running thread, and never more than
//     kDepotMaxFull (4); a thread returning one more spills its rounds to
//     its heap instead (they go home to their slabs). A depot exists to
//     serve running threads: full magazines left behind by exited threads
//     would pin their slabs for nothing;
//   - when a thread exits, the depot is trimmed to the new limit, so the
//     last thread out leaves it empty;
//   - a thread takes a full magazine of its own heap's blocks (its first
//     round's slab's owner, read as it enters the depot) before anything
//     else; then its heap's blocks; another heap's magazine only when its
//     heap would otherwise need a new slab (MagazineLayer::reload). The
//     exchange a depot is for is a consumer's magazine of a producer's
//     blocks going to the producer. A thread given another heap's blocks
//     while it has its own pulls that heap's cache lines to its core and,
//     at its next spill, sends them back as remote frees: two threads of
//     phase_change's burst swapped magazines this way and ran 2-3x slower
//     in about half the runs (tiny classes, 16-256 B, in batches of 4096);
//     and without the last resort, producer_consumer's producers grew
//     slabs while the consumers' magazines of mixed blocks waited (peak
//     RSS +15%);
//   - at most kDepotMaxEmpty empty magazines; more go back to the pool;
//   - trim() spills every full magazine and releases every empty one.
// So the depot holds at most 4 x Rounds blocks per class (4 x the class's cap) (with 64 rounds
// and 1 KiB blocks, 256 KiB), and hak_trim() empties it.
#pragma once

#include <sched.h>

#include <algorithm>
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

// Invariant: count <= cap <= Rounds; rounds[0, count) are blocks of one
// class, free, each held by this magazine only. While a magazine is loaded
// into a thread's cache the cache's cursor holds the true count (see
// MagazineLayer). cap is the class's capacity (config/tunables.h) when the
// magazine was last loaded empty: the learner resizes magazines one load
// at a time, and a full one keeps the size it was filled to. While on a
// depot's full list, home == the owner of rounds[0]'s slab.
template <uint32_t Rounds>
struct Magazine {
  Magazine* next;  // depot or pool list link
  uint32_t count;
  uint32_t cap;
  const SlabOwner* home;  // set by Depot::put_full
  void* rounds[Rounds];
};

// The pool's chunks. Each 64 KiB chunk is aligned to its size, so a
// magazine finds its chunk by a mask, and starts with this header; a
// bitmap, not a list through the magazines, says which are free, so a free
// magazine's pages can go back to the OS without losing any state.
//
// Invariants (under the pool's lock): bit i of free_bits set <=> magazine
// i is in no one's hands (never handed out, or put back); free_count ==
// the bits set; bit p of purged set => page p of the chunk holds no
// handed-out magazine and is not resident unless touched since (a hint:
// a page is never purged twice in a row, and never while a magazine on it
// is handed out).
template <uint32_t PerChunk>
struct MagazineChunk {
  static constexpr uint32_t kWords = (PerChunk + 63) / 64;
  MagazineChunk* next;
  uint32_t free_count;
  uint32_t purged;  // one bit per page
  uint64_t free_bits[kWords];
};

template <uint32_t Rounds>
class MagazinePool {
 public:
  using Mag = Magazine<Rounds>;

  // An empty magazine, or nullptr if none is free and `pal` refuses a
  // chunk. The lowest free one of the first chunk with any: magazines in
  // use gather at low addresses, and the others' pages stay purgeable.
  static Mag* get(Pal& pal) {
    std::lock_guard lock(mutex_);
    Chunk* chunk = chunks_;
    while (chunk != nullptr && chunk->free_count == 0) chunk = chunk->next;
    if (chunk == nullptr && (chunk = add_chunk_locked(pal)) == nullptr) return nullptr;
    uint32_t word = 0;
    while (chunk->free_bits[word] == 0) ++word;
    const uint32_t index = word * 64 + static_cast<uint32_t>(__builtin_ctzll(chunk->free_bits[word]));
    chunk->free_bits[word] &= chunk->free_bits[word] - 1;
    --chunk->free_count;
    Mag* m = magazine(chunk, index);
    chunk->purged &= ~pages_of(index);
    m->next = nullptr;
    m->count = 0;
    return m;
  }

  static void put(Mag* m) {
    std::lock_guard lock(mutex_);
    Chunk* chunk = chunk_of(m);
    const uint32_t index = index_of(chunk, m);
    chunk->free_bits[index / 64] |= uint64_t{1} << (index % 64);
    ++chunk->free_count;
  }

  // Returns to the OS every page (but each chunk's first, with its header)
  // that holds only free magazines and was not purged since it was last
  // touched: after the depot's idle pass (Depot::purge_idle) has given
  // back the magazines of exited threads. `pal` purges (any Pal: purging
  // is the same call whichever mapped the chunk). Returns pages purged.
  static uint32_t purge_free(Pal& pal) {
    std::lock_guard lock(mutex_);
    uint32_t purged = 0;
    for (Chunk* chunk = chunks_; chunk != nullptr; chunk = chunk->next) {
      for (uint32_t page = 1; page < kChunkPages; ++page) {
        if ((chunk->purged >> page) & 1) continue;
        if (!page_free(chunk, page)) continue;
        pal.purge(reinterpret_cast<char*>(chunk) + page * kPageSize, kPageSize);
        chunk->purged |= 1u << page;
        ++purged;
      }
    }
    return purged;
  }

  // fork (Depot's hooks, HeapRegistry's order).
  static void lock_for_fork() { mutex_.lock(); }
  static void unlock_after_fork() { mutex_.unlock(); }
  static void reset_lock_in_child() { new (&mutex_) std::mutex; }

  // True when the next get() must map a chunk (tests drain the pool to
  // make it map).
  static bool empty() {
    std::lock_guard lock(mutex_);
    for (Chunk* chunk = chunks_; chunk != nullptr; chunk = chunk->next)
      if (chunk->free_count != 0) return false;
    return true;
  }

 private:
  static constexpr size_t kChunk = 64 * 1024;
  static constexpr uint32_t kChunkPages = kChunk / kPageSize;
  static constexpr size_t kSpan = align_up(sizeof(Mag), 64);
  // Magazines per chunk, after a header sized for as many (an upper bound).
  static constexpr uint32_t kPerChunk =
      static_cast<uint32_t>((kChunk - align_up(sizeof(MagazineChunk<kChunk / kSpan>), 64)) / kSpan);
  using Chunk = MagazineChunk<kPerChunk>;
  static constexpr size_t kHeader = align_up(sizeof(Chunk), 64);
  static_assert(kHeader + kPerChunk * kSpan <= kChunk);
  static_assert(kChunkPages <= 32, "Chunk::purged has a bit per page");

  static Mag* magazine(Chunk* chunk, uint32_t index) {
    return reinterpret_cast<Mag*>(reinterpret_cast<char*>(chunk) + kHeader + index * kSpan);
  }
  static Chunk* chunk_of(Mag* m) {
    return reinterpret_cast<Chunk*>(reinterpret_cast<uintptr_t>(m) & ~(uintptr_t{kChunk} - 1));
  }
  static uint32_t index_of(Chunk* chunk, Mag* m) {
    return static_cast<uint32_t>((reinterpret_cast<char*>(m) - reinterpret_cast<char*>(chunk) - kHeader) / kSpan);
  }
  // The pages magazine `index` lies on, one bit each.
  static uint32_t pages_of(uint32_t index) {
    const size_t first = (kHeader + index * kSpan) / kPageSize;
    const size_t last = (kHeader + (index + 1) * kSpan - 1) / kPageSize;
    return static_cast<uint32_t>(((uint64_t{2} << last) - 1) & ~((uint64_t{1} << first) - 1));
  }
  // True when no handed-out magazine lies on `page`.
  static bool page_free(const Chunk* chunk, uint32_t page) {
    const size_t lo = page * kPageSize, hi = lo + kPageSize;  // [lo, hi) within the chunk
    if (hi <= kHeader) return false;
    const size_t first = lo <= kHeader ? 0 : (lo - kHeader) / kSpan;
    const size_t last = (hi - 1 - kHeader) / kSpan;
    for (size_t i = first; i <= last && i < kPerChunk; ++i)
      if (((chunk->free_bits[i / 64] >> (i % 64)) & 1) == 0) return false;
    return true;
  }

  // Maps a chunk, every magazine free and every page but the header's
  // untouched (purged); nullptr if pal refuses. Out of line so that the
  // magazine exchanges that get() inlines into keep their code: inlined,
  // the Pal lookup cost push_many a spilled register, one instruction per
  // call (callgrind). Not cold: GCC compiles cold code for size.
  [[gnu::noinline]] static Chunk* add_chunk_locked(Pal& pal) {
    void* memory = pal.map(kChunk, kChunk);
    if (memory == nullptr) return nullptr;
    auto* chunk = new (memory) Chunk;
    chunk->next = chunks_;
    chunk->free_count = kPerChunk;
    chunk->purged = ~uint32_t{1};
    for (uint32_t w = 0; w < Chunk::kWords; ++w) {
      const uint32_t bits = kPerChunk - w * 64;
      chunk->free_bits[w] = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    }
    chunks_ = chunk;
    return chunk;
  }

  // Invariant (under mutex_): chunks_ lists every chunk mapped, newest first.
  static inline constinit std::mutex mutex_{};
  static inline constinit Chunk* chunks_ = nullptr;
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
// through Allocator::purge_check) calls purge_idle() once per decay
// granule; a class whose depot no thread took from or gave to for
// HAKMEM_PURGE_DELAY_MS sends its full magazines home and its empty ones
// to the pool, and a class in use keeps them; then the pool purges the
// pages of its free magazines. Whether a class was used is read from its
// counters, compared with the last pass's snapshot (a take moves
// full_taken, a refused give full_refused, an accepted one the full count,
// unless a take moved full_taken too), so the exchanges pay nothing for it
// and read no clock. A pass that finds the counters moved stamps the class
// "quiet since" its own reading, which is never earlier than the last use:
// so a class goes home at most one granule late. (Passes once per delay
// made it up to two delays late: a use just after a pass was seen only by
// the next, a delay on, and that pass restarted the wait. After growth's
// drain its slabs were then released about 500 ms late, purged 250 ms
// after that, and growth's settle step of 1000 ms missed about 2.5 MiB in
// some runs.)
//
// Invariants (under the class's lock): full_count == length(full),
// full_count <= kDepotMaxFull, every magazine on `full` has count == cap;
// likewise empty_count == length(empty) <= kDepotMaxEmpty, each count == 0;
// seen is the counters as the last purge_idle pass left them, and
// quiet_since_ms the latest pass reading that found them moved.
template <uint32_t Rounds>
class Depot {
 public:
  using Mag = Magazine<Rounds>;
  using Pool = MagazinePool<Rounds>;

  // A full magazine of `home`'s blocks, or of anyone's with home ==
  // nullptr; else nullptr (see the policy above; the list holds at most
  // kDepotMaxFull).
  static Mag* take_full(unsigned size_class, const SlabOwner* home) {
    Bin& bin = bins_[size_class];
    std::lock_guard lock(bin.mutex);
    for (Mag** at = &bin.full; *at != nullptr; at = &(*at)->next) {
      Mag* m = *at;
      if (home != nullptr && m->home != home) continue;
      *at = m->next;
      --bin.stats.full;
      ++bin.stats.full_taken;
      return m;
    }
    return nullptr;
  }

  // Full magazines the depot keeps per class now: one per running thread.
  static uint32_t full_limit() {
    const int active = active_heaps();
    return active < 1 ? 1 : (static_cast<uint32_t>(active) < kDepotMaxFull ? static_cast<uint32_t>(active) : kDepotMaxFull);
  }

  // False at the limit: the caller keeps `m` and must empty it.
  static bool put_full(unsigned size_class, Mag* m) {
    m->home = slab_of(m->rounds[0])->owner;  // full: cap >= 1 rounds
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
      release(heap, full, empty);
    }
  }

  // The decay's pass (see above), at clock reading now_ms: the full
  // magazines of every class unused for the delay go home through heap,
  // its empty ones to the pool; the pool's free pages go back to the OS
  // when this pass gave it magazines, else at most once per delay. Any
  // thread with a heap; passes may overlap (each class under its lock).
  static void purge_idle(ThreadHeap& heap, uint64_t now_ms) {
    const uint64_t delay = Decay::delay_ms();
    bool released = false;
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      Bin& bin = bins_[c];
      Mag* full = nullptr;
      Mag* empty = nullptr;
      {
        std::lock_guard lock(bin.mutex);
        const bool used = bin.stats.full_taken != bin.seen.full_taken ||
                          bin.stats.full_refused != bin.seen.full_refused || bin.stats.full != bin.seen.full;
        if (used) {
          bin.seen = bin.stats;
          bin.quiet_since_ms = std::max(bin.quiet_since_ms, now_ms);
        } else if (now_ms >= bin.quiet_since_ms + delay && (bin.full != nullptr || bin.empty != nullptr)) {
          full = bin.full;
          bin.full = nullptr;
          bin.stats.full = 0;
          empty = bin.empty;
          bin.empty = nullptr;
          bin.stats.empty = 0;
          bin.seen = bin.stats;
        }
      }
      released |= full != nullptr || empty != nullptr;
      release(heap, full, empty, SlabAge::kIdle);
    }
    uint64_t last = last_pool_purge_ms_.load(std::memory_order_relaxed);
    if (!released && now_ms < last + delay) return;
    if (!last_pool_purge_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) return;
    Pool::purge_free(heap.pal());
  }

  // Magazines taken out of a bin (trim, purge_idle), outside its lock: the
  // full ones' rounds go home through heap (`age` as spill_rounds'), then
  // every magazine to the pool.
  static void release(ThreadHeap& heap, Mag* full, Mag* empty, SlabAge age = SlabAge::kFresh) {
    while (full != nullptr) {
      Mag* next = full->next;
      spill_rounds(heap, full, age);
      Pool::put(full);
      full = next;
    }
    while (empty != nullptr) {
      Mag* next = empty->next;
      Pool::put(empty);
      empty = next;
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
  // `age` as ThreadHeap::spill's: kIdle from the decay pass.
  static void spill_rounds(ThreadHeap& heap, Mag* m, SlabAge age = SlabAge::kFresh) {
    FreeBlock* head = nullptr;
    for (uint32_t i = 0; i < m->count; ++i) {
      auto* block = static_cast<FreeBlock*>(m->rounds[i]);
      block->next = head;
      head = block;
    }
    m->count = 0;
    heap.spill(head, age);
  }

 private:
  struct alignas(64) Bin {
    std::mutex mutex;
    Mag* full = nullptr;
    Mag* empty = nullptr;
    DepotStats stats;
    DepotStats seen;
    uint64_t quiet_since_ms = 0;
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
  // The clock reading of purge_idle's last purge of the pool's free pages.
  static inline constinit std::atomic<uint64_t> last_pool_purge_ms_{0};
  static inline constinit std::atomic<bool> fork_hooks_added_{false};
};

}  // namespace hakmem
