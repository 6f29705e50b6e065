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
// Who may touch a heap: its "busy" marker
// ------------------------------------------
// A heap's private state (partial lists, slab free lists and counters) is
// touched only by whoever holds the heap's busy marker (busy_): its owner,
// during each ThreadHeap call it makes (a slow path: never on the tiny fast
// path, which touches only the front end's cache), or a collector, a thread
// that claimed the marker while the owner was outside. The owner takes it
// with one CAS (and waits if a collector has it; a collection is bounded);
// a collector only tries (try_claim) and gives up if the heap is busy.
//
// Idle owners: an owner that stops allocating never refills, so its inbox
// would hold blocks (and their slabs) indefinitely. So whoever pushes to an
// inbox counts the bytes pushed since the last collection, and once they
// reach HAKMEM_INBOX_DRAIN_KIB the pusher tries to claim the heap and
// collects its inbox itself, releasing slabs that became empty. If the
// owner is busy, the blocks wait for its next refill or the next push.
// trim_if_idle() (malloc_trim / hak_trim, through the registry's
// trim_all) does the same for every heap, whatever its inbox holds.
//
// Thread exit: the front end flushes its cache, the heap drains its inbox,
// releases its empty slabs and is marked abandoned. Its remaining slabs keep
// their owner: blocks still live in other threads come back through the
// inbox as before. Whoever pushes to an abandoned heap's inbox collects it
// (drain_while_idle), whatever the threshold, so an abandoned heap's slabs
// are released as soon as their last block comes home, without waiting for
// a new thread. A new thread adopts an abandoned heap before creating one.
// Two Dekker pairs, both sequentially consistent, make sure no push is
// left behind in an abandoned heap: (state store / inbox exchange on exit,
// inbox CAS / state load on push), and (busy release / inbox load by a
// collector, inbox CAS / busy CAS by a pusher): a pusher that loses the
// claim to a collector is seen by that collector's re-check.
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
// Only the heap counts: a front-end or mid cache hit never reaches it, so
// the fast paths cost nothing more. A block given back one at a time went
// past the caches (a checked tiny slab's under HAKMEM_DEBUG, a mid block
// with HAKMEM_MID_CACHE_KIB=0).
struct ClassStats {
  uint64_t refills = 0;          // refill() calls (alloc_block() included)
  uint64_t refilled_blocks = 0;  // blocks they handed out
  uint64_t spilled_blocks = 0;   // blocks given back in batches (spill)
  uint64_t freed_blocks = 0;     // blocks given back one at a time (free_block)
  uint64_t spills = 0;           // spill() calls: a front end's cache overflowed (the learner's signal)
  // Refills that followed a spill and spills that followed a refill, of
  // this heap: its cache went from underflow to overflow or back. A
  // producer only refills and its consumer only spills, so, unlike the
  // sums of refills and spills over heaps, their turns stay 0 (the
  // learner's "thrashing" signal, tcmalloc's per-cache alternation).
  uint64_t turns = 0;
};
using ClassStatsTable = std::array<ClassStats, kSlabClasses>;

// A chain of blocks: head ... tail, linked through FreeBlock::next.
struct BlockChain {
  FreeBlock* head = nullptr;
  FreeBlock* tail = nullptr;
  uint32_t count = 0;
};

// Invariants (for whoever holds busy_, owner or collector):
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
  // chain of count blocks; count == 0 only when the OS refuses memory, or,
  // with may_grow false, when the heap would need a new slab (its inbox
  // and partial slabs hold none of the class): a front end that has other
  // blocks to turn to (a depot's) asks this first.
  BlockChain refill(unsigned size_class, uint32_t want, bool may_grow = true);

  // One block of class `size_class`, or nullptr when out of memory.
  void* alloc_block(unsigned size_class);

  // Gives back a nullptr-terminated chain of blocks of any owner. Its
  // blocks are counted under the class of the first (ClassStats): every
  // caller spills one class at a time, a front end's list or magazine.
  // `age`: SlabAge::kIdle when the blocks sat unused in a cache for a
  // purge delay (the depot's decay pass); a slab they empty, here or in an
  // abandoned owner's collection that this spill runs, goes back to the OS
  // at once (superslab_manager.h). Blocks of a running owner wait in its
  // inbox, and its own collection releases their slabs as fresh.
  void spill(FreeBlock* head, SlabAge age = SlabAge::kFresh);

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

  // From any thread but the owner: if the owner is not using the heap,
  // collects its inbox and releases its empty slabs. False if it was busy.
  bool trim_if_idle();

  // From any thread but the owner (the learner thread): if the inbox holds
  // blocks and the owner is not using the heap, collects them (their slabs
  // go home if they empty). A live owner would collect them at its next
  // refill; one that has gone quiet never would. False if there was
  // nothing to collect or the heap was busy.
  bool collect_if_idle();

  // Thread exit: collect, release what is empty, mark abandoned.
  void abandon();
  // A new thread takes over an abandoned heap.
  void adopt();
  bool abandoned() const { return state_.load(std::memory_order_acquire) == kAbandoned; }

  HeapStats stats() const;
  // Refills and spills of every class: a count that moves while the
  // owner's caches turn over (the learner's idleness test, cache_gate.h).
  uint64_t activity() const;
  ClassStats class_stats(unsigned size_class) const;

  // The Pal of this heap's backend. A front end maps its own memory (the
  // magazines) through it, so a heap's slabs and its front end's magazines
  // come from one Pal, which a test can replace with a FakePal.
  Pal& pal() const { return superslabs_->pal(); }

  // Verifies the invariants of every slab on the partial lists, walking
  // free lists, and of the SuperSlabs as far as this heap may read them
  // (SuperSlabManager::check(this)); aborts on the first violation. Owner
  // thread only.
  void check();

  // fork (HeapRegistry's handlers): hold the busy marker across fork, as
  // the owner would (waiting for whoever is inside to leave); release it in
  // the parent. In the child nobody holds it (its holder, if another
  // thread, does not exist there), and a heap whose thread is gone becomes
  // abandoned (reclaim_in_child) for a new thread to adopt.
  void claim_for_fork() { enter(); }
  void release_after_fork() { busy_.store(0, std::memory_order_release); }
  void reset_busy_in_child() { busy_.store(0, std::memory_order_relaxed); }
  void mark_abandoned_in_child() { state_.store(kAbandoned, std::memory_order_relaxed); }

  ThreadHeap* next_in_registry = nullptr;  // owned by the heap registry
  ThreadHeap* next_abandoned = nullptr;

 private:
  static constexpr uint32_t kActive = 0;
  static constexpr uint32_t kAbandoned = 1;

  // The owner's side of busy_: held for the length of one public call.
  class Inside {
   public:
    explicit Inside(ThreadHeap* heap) : heap_(heap) { heap->enter(); }
    ~Inside() { heap_->busy_.store(0, std::memory_order_seq_cst); }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;

   private:
    ThreadHeap* heap_;
  };
  void enter() {
    uint32_t expected = 0;
    if (busy_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
        [[likely]]
      return;
    wait_and_enter();
  }
  [[gnu::noinline, gnu::cold]] void wait_and_enter();
  bool try_claim() {
    uint32_t expected = 0;
    return busy_.compare_exchange_strong(expected, 1, std::memory_order_seq_cst, std::memory_order_relaxed);
  }
  // Collections by a thread other than the owner (see the header comment).
  bool wants_collection() const;
  void drain_while_idle(SlabAge age = SlabAge::kFresh);
  void collect_claimed(SlabAge age);

  static void mark_taken(SlabMeta* slab, FreeBlock* first, uint32_t count);
  void populate_carve(char* p, uint32_t count, uint32_t block_size);
  BlockChain refill_inside(unsigned size_class, uint32_t want, bool may_grow);
  void collect_inside();
  void release_empty_inside();
  void free_local(SlabMeta* slab, FreeBlock* block, bool keep_last, SlabAge age = SlabAge::kFresh);
  void process_chain(FreeBlock* head, bool keep_last, SlabAge age);
  void push_remote(ThreadHeap* owner, FreeBlock* head, FreeBlock* tail, uint32_t count, SlabAge age);
  static void push_to_inbox(ThreadHeap* owner, FreeBlock* head, FreeBlock* tail, uint64_t bytes,
                            SlabAge age = SlabAge::kFresh);
  void link_partial(SlabMeta* slab);
  void unlink_partial(SlabMeta* slab);
  void bump(std::atomic<uint64_t>& counter, uint64_t by) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  SlabMeta* partial_[kSlabClasses] = {};
  SuperSlabManager* superslabs_;
  alignas(64) std::atomic<FreeBlock*> inbox_{nullptr};
  std::atomic<uint64_t> inbox_bytes_{0};  // pushed since the last collection
  std::atomic<uint32_t> state_{kActive};
  std::atomic<uint32_t> busy_{0};  // 1: the owner or a collector is inside
  // Counters are written by whoever holds busy_ and read by anyone. Refills and spills are counted per class only; stats()
  // sums the classes for the totals.
  struct ClassCounters {
    std::atomic<uint64_t> refills{0}, refilled_blocks{0}, spilled_blocks{0}, freed_blocks{0}, spills{0};
    std::atomic<uint64_t> turns{0};
    // Which of refill and spill came last (the holder of busy_ alone reads
    // and writes it): turns counts the changes.
    enum class Last : uint8_t { kNone, kRefill, kSpill } last = Last::kNone;
  };
  // Counts a refill or a spill of `c` as a turn when the other came last.
  void note_direction(ClassCounters& c, ClassCounters::Last now) {
    if (c.last != now && c.last != ClassCounters::Last::kNone) bump(c.turns, 1);
    c.last = now;
  }
  std::atomic<uint64_t> remote_sent_{0}, remote_received_{0}, slabs_acquired_{0}, slabs_released_{0};
  ClassCounters by_class_[kSlabClasses];
};

}  // namespace hakmem
