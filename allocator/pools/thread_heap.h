// ThreadHeap: the slabs one thread owns, per size class, and the inbox
// through which other threads give back blocks of those slabs.
//
// How a block freed by another thread gets home (remote frees)
// -------------------------------------------------------------
// Every slab has exactly one owner heap, and only the owner touches the
// slab's free list and counters, so the owner's refill and spill need no
// locks and no atomics. A front end, though, caches whatever its thread
// frees, including blocks from slabs other heaps own. When such a block
// leaves a front end (spill, flush), spill() sorts the blocks by owner:
//   - own blocks go straight back to their slab (free_local);
//   - foreign blocks are linked into one chain per owner and each chain is
//     pushed onto that owner's inbox with a single CAS (an MPSC stack).
// The owner drains its inbox with one atomic exchange at the start of every
// refill (one load when it is empty), and always before asking the backend
// for a fresh slab, so a heap never grows while its inbox holds blocks.
// This is the per-owner message queue of snmalloc rather than mimalloc's
// per-page list: the owner checks one word, not every page it owns.
//
// Thread exit: the front end flushes its cache, the heap drains its inbox,
// releases its empty slabs and is marked abandoned. Its remaining slabs keep
// their owner: blocks still live in other threads come back through the
// inbox as before. Whoever pushes to an abandoned heap's inbox drains it
// under the heap's mutex (collect_abandoned), so an abandoned heap's slabs
// are released as soon as their last block comes home, without waiting for
// a new thread. A new thread adopts an abandoned heap before creating one.
// The Dekker pair (state store / inbox exchange on exit, inbox CAS / state
// load on push) is sequentially consistent, so a push that races with exit
// is seen by one side or the other, never by neither.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "allocator/backend/superslab.h"
#include "allocator/backend/superslab_manager.h"

namespace hakmem {

struct HeapStats {
  uint64_t refills = 0;
  uint64_t refilled_blocks = 0;
  uint64_t spilled_blocks = 0;
  uint64_t remote_blocks_sent = 0;
  uint64_t remote_blocks_received = 0;
  uint64_t slabs_acquired = 0;
  uint64_t slabs_released = 0;
};

// One size class's slow-path events in one heap (HAKMEM_STATS prints them).
// Only the heap counts: a front-end hit never reaches it, so the tiny fast
// path costs nothing more. A mid class has no front end, so its refills are
// its allocations and its freed blocks its frees.
struct ClassStats {
  uint64_t refills = 0;          // refill() calls (alloc_block() included)
  uint64_t refilled_blocks = 0;  // blocks they handed out
  uint64_t spilled_blocks = 0;   // blocks given back in batches (spill)
  uint64_t freed_blocks = 0;     // blocks given back one at a time (free_block)
};
using ClassStatsTable = std::array<ClassStats, kSlabClasses>;

// A chain of blocks: head ... tail, linked through FreeBlock::next.
struct BlockChain {
  FreeBlock* head = nullptr;
  FreeBlock* tail = nullptr;
  uint32_t count = 0;
};

// Invariants (for the heap's owner, or for the holder of abandoned_mutex_
// while the heap is abandoned):
//   for every class c, partial_[c] lists exactly the owned slabs of class c
//     with a block available (SlabMeta::on_partial), each slab once;
//   every slab whose owner is this heap and whose used == 0 is released,
//     except at most one per class: the only slab on partial_[c] (kept so a
//     thread that allocates and frees one block repeatedly does not take
//     the backend lock every time);
//   inbox_ holds only blocks of slabs this heap owns, counted in their used.
//
// Layout serves refill(): partial_ heads are one array, 8 classes a line.
class ThreadHeap : public SlabOwner {
 public:
  explicit ThreadHeap(SuperSlabManager* superslabs) : superslabs_(superslabs) {}
  ThreadHeap(const ThreadHeap&) = delete;
  ThreadHeap& operator=(const ThreadHeap&) = delete;

  // Takes up to `want` blocks of class `size_class` (want >= 1). Returns a
  // chain of count blocks; count == 0 only when the OS refuses memory.
  BlockChain refill(unsigned size_class, uint32_t want);

  // One block of class `size_class`, or nullptr when out of memory.
  void* alloc_block(unsigned size_class);

  // Gives back a nullptr-terminated chain of blocks of any owner. Its
  // blocks are counted under the class of the first (ClassStats): every
  // caller spills one class at a time, a front end's list or magazine.
  void spill(FreeBlock* head);

  // Gives back one block; `slab` is slab_of(block).
  void free_block(FreeBlock* block, SlabMeta* slab);

  // Gives back one block from a thread that has no heap and must not take
  // one: it has exited, and libc frees its per-thread buffers (dlerror's,
  // the resolver's) after every thread-exit destructor has run, so a heap
  // taken then would never be given back. The block goes to its owner's
  // inbox like any remote free (its owner counts it received; no heap
  // counts it sent).
  static void free_orphan(FreeBlock* block, SlabMeta* slab);

  // Processes blocks other threads have returned.
  void collect_remote();

  // Releases empty slabs kept for reuse (see the invariants).
  void release_empty_slabs();

  // Thread exit: collect, release what is empty, mark abandoned.
  void abandon();
  // A new thread takes over an abandoned heap.
  void adopt();
  bool abandoned() const { return state_.load(std::memory_order_acquire) == kAbandoned; }

  HeapStats stats() const;
  ClassStats class_stats(unsigned size_class) const;

  // The Pal of this heap's backend. A front end maps its own memory (the
  // magazines) through it, so a heap's slabs and its front end's magazines
  // come from one Pal, which a test can replace with a FakePal.
  Pal& pal() const { return superslabs_->pal(); }

  // Verifies the invariants of every slab on the partial lists, walking
  // free lists; aborts on the first violation. Owner thread only.
  void check() const;

  ThreadHeap* next_in_registry = nullptr;  // owned by the heap registry
  ThreadHeap* next_abandoned = nullptr;

 private:
  static constexpr uint32_t kActive = 0;
  static constexpr uint32_t kAbandoned = 1;

  void free_local(SlabMeta* slab, FreeBlock* block, bool keep_last);
  void process_chain(FreeBlock* head, bool keep_last);
  void push_remote(ThreadHeap* owner, FreeBlock* head, FreeBlock* tail, uint32_t count);
  static void push_to_inbox(ThreadHeap* owner, FreeBlock* head, FreeBlock* tail);
  void collect_abandoned();
  void link_partial(SlabMeta* slab);
  void unlink_partial(SlabMeta* slab);
  void bump(std::atomic<uint64_t>& counter, uint64_t by) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  SlabMeta* partial_[kSlabClasses] = {};
  SuperSlabManager* superslabs_;
  alignas(64) std::atomic<FreeBlock*> inbox_{nullptr};
  std::atomic<uint32_t> state_{kActive};
  std::mutex abandoned_mutex_;
  // Counters are written by the owner (or under abandoned_mutex_) and read
  // by anyone. Refills and spills are counted per class only; stats()
  // sums the classes for the totals.
  struct ClassCounters {
    std::atomic<uint64_t> refills{0}, refilled_blocks{0}, spilled_blocks{0}, freed_blocks{0};
  };
  std::atomic<uint64_t> remote_sent_{0}, remote_received_{0}, slabs_acquired_{0}, slabs_released_{0};
  ClassCounters by_class_[kSlabClasses];
};

}  // namespace hakmem
