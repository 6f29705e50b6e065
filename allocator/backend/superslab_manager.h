// The SuperSlab manager: maps SuperSlabs (1 or 2 MiB, chosen per size
// class at map time: superslab.h), hands out empty slabs to owners, takes
// them back, and decides when memory goes back to the OS.
//
// Memory-return policy (the numbers are options, see config/options.h),
// time decay as every back-end pool does it (backend/decay.h):
//   - A released slab becomes a free slot of its SuperSlab and is "dirty",
//     stamped with the time of its release: its pages stay resident so the
//     next slab of any class reuses them without page faults. Acquiring
//     prefers a dirty slot, and a release moves its SuperSlab to the front
//     of the dirty list, which acquiring reads first, so the most recently
//     freed pages are reused first, a clean page is touched only when no
//     dirty one is left, and the oldest are left to expire.
//   - A dirty slot free for HAKMEM_PURGE_DELAY_MS is purged (madvise
//     DONTNEED) by the next purge pass; adjacent expired slots in one call.
//   - A SuperSlab empty for the delay is unmapped by the next pass, except
//     that up to HAKMEM_SUPERSLAB_CACHE (default 1) expired empty ones stay
//     mapped, their slots purged, so a program oscillating around one
//     SuperSlab does not mmap and munmap each time. Within the delay every
//     empty SuperSlab stays mapped: a working set that falls and rises
//     again within it costs neither system calls nor page faults.
//   - Purge passes run on acquire_slab and release_slab ticks (the clock
//     is read once per kEventsPerClockRead of them, never on a fast path)
//     and from purge_expired(now), the entry point of a background thread.
//     HAKMEM_PURGE_DELAY_MS=0 purges a slot as it is released and unmaps an
//     empty SuperSlab beyond the cache at once, and so does a release of a
//     slab whose last blocks were idle for a delay already (SlabAge::kIdle).
//   - trim() purges every dirty slot and unmaps every empty SuperSlab, expired or not.
//   - An unmap the OS refuses leaves the SuperSlab mapped, empty, in the
//     free pool and counted; the next pass or trim retries it.
//   - Mapping: one SuperSlab per mmap while the process has fewer than 4,
//     then batches (map_batch_locked), each SuperSlab of a batch returned
//     on its own. The extras of a batch are empty and clean: never purged
//     (nothing to purge) and unmapped only by trim, as any clean empty
//     SuperSlab, so a batch holds address space and one header page each,
//     not RSS.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include "allocator/backend/decay.h"
#include "allocator/backend/spin_mutex.h"
#include "allocator/backend/superslab.h"
#include "allocator/pal/pal.h"

namespace hakmem {

// How long a slab coming back was unused before it came back (release_slab).
//   kFresh: its last block was freed just now, the usual case: the slot is
//           dirty and waits out the purge delay.
//   kIdle:  its last blocks sat unused in a cache that the decay found idle
//           for a whole delay (the magazine depot's pass, frontend/magazine.h):
//           its pages go back at once, as with HAKMEM_PURGE_DELAY_MS=0.
//           Stamping such a slot "freed now" made growth's RSS come back a
//           second delay late (about three delays after its drain, with the
//           passes' lateness), past the drivers' settle step in some runs.
//           Its other blocks came home earlier, each from a front end whose
//           own decay or flush sent it, so an early purge costs at most the
//           faults of a slab reused soon, never a block.
enum class SlabAge { kFresh, kIdle };

struct SuperSlabStats {
  int64_t superslabs_mapped = 0;   // currently mapped
  int64_t superslab_bytes = 0;     // what they map (1 or 2 MiB each)
  int64_t superslabs_unmapped = 0; // ever unmapped
  int64_t slabs_in_use = 0;  // the sum of slabs_in_use_by_class (stats() adds them up)
  std::array<int32_t, kSlabClasses> slabs_in_use_by_class{};
  int64_t dirty_free_slabs = 0;
  int64_t purged_slabs = 0;        // ever purged
  int64_t map_failures = 0;
  int64_t unmap_failures = 0;      // ever; such a SuperSlab stayed mapped and counted
};

class SuperSlabManager {
 public:
  // Slab events per clock reading. Each event already takes the lock and
  // writes the class map, and an acquire faults in up to 16 pages, so a
  // reading every 4 costs nothing measurable and keeps passes prompt.
  static constexpr unsigned kEventsPerClockRead = 4;

  constexpr explicit SuperSlabManager(Pal* pal) : pal_(pal), decay_(kEventsPerClockRead) {}
  SuperSlabManager(const SuperSlabManager&) = delete;
  SuperSlabManager& operator=(const SuperSlabManager&) = delete;

  // An empty slab for class `size_class`, owned by `owner`, or nullptr when
  // the OS refuses memory. Its metadata is initialised (carved = used = 0).
  SlabMeta* acquire_slab(unsigned size_class, SlabOwner* owner);

  // Takes back a slab whose blocks are all free (used == 0); `age` says
  // whether its pages wait out the purge delay (see SlabAge).
  void release_slab(SlabMeta* slab, SlabAge age = SlabAge::kFresh);

  // The purge pass at `now_ms` (a reading of pal().now_ms()): purges the
  // dirty slots and unmaps the empty SuperSlabs that have expired. The
  // ticks of acquire_slab and release_slab call it; so can a background
  // thread.
  void purge_expired(uint64_t now_ms);

  // Gives back everything: purges all dirty free slots and unmaps every
  // empty SuperSlab, expired or not (malloc_trim).
  void trim();

  SuperSlabStats stats() const;

  // The size of the SuperSlabs mapped from now on when a slab of a class
  // in [first_class, last_class] is wanted and no SuperSlab has a free
  // slot: 1024 or 2048 KiB, or 0 for HAKMEM_SUPERSLAB_KIB. A free slot is
  // used whatever its SuperSlab's size, so this decides only new mappings.
  // For the learner, per class group; callable from any thread at any
  // time. False (and nothing changed) for classes or a size out of range.
  bool set_superslab_kib(unsigned first_class, unsigned last_class, unsigned kib);
  // What a new SuperSlab for `size_class` maps, in bytes.
  size_t superslab_bytes_for(unsigned size_class) const;

  // fork (HeapRegistry's handlers): take the lock before fork, release it
  // in the parent, make it anew in the child (where its holder, if any
  // other thread, does not exist).
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }
  void reset_lock_in_child() { new (&mutex_) SpinMutex; }

  // The Pal this manager maps through. The layers above map what is not
  // slabs (heap chunks, magazines) through it too, so one Pal serves a
  // manager and everything built on it, and a test's FakePal sees, counts
  // and can refuse all of their maps.
  Pal& pal() const { return *pal_; }

  // Verifies every SuperSlab's invariants; aborts with a message on the
  // first violation. Expensive: for tests and HAKMEM_DEBUG=2. What the
  // manager's lock guards is checked everywhere; a slab's block counters
  // (carved, used), which its owner writes without the lock, only for the
  // slabs of `owner`, which the caller must be using (holding its busy
  // marker): reading another owner's would race with it. nullptr checks
  // every slab's counters, for tests where no owner runs concurrently.
  void check(const SlabOwner* owner) const;

 private:
  static unsigned list_index(const SuperSlab* ss);
  SuperSlab*& list_for(const SuperSlab* ss) { return lists_[list_index(ss)]; }
  void relink(SuperSlab*& from, SuperSlab* ss);
  // Maps `count` SuperSlabs of `bytes` each in one mapping (count > 1
  // only for whole 2 MiB ones, which tile it), set up empty and chained by
  // `next`; nullptr when the OS refuses even one. Each is unmapped on its
  // own later, as if it had been mapped alone.
  SuperSlab* map_superslabs(size_t bytes, unsigned count);
  // How many SuperSlabs the next mapping takes: one while the process has
  // few, then half as many as it has, at most kMaxMapBatch (16 MiB). Every
  // mmap takes the kernel's mmap lock for writing, and with it every page
  // fault of the other threads waits (growth at 2 threads made 22 SuperSlab
  // mappings of 3 calls each; they and the faults that waited on them were
  // about a fifth of its context switches, perf record -e context-switches).
  // Geometric like mimalloc's arena reservations, so a small program still
  // maps 2 MiB; the extras wait on the clean list, one touched header page
  // each.
  static constexpr int64_t kMaxMapBatch = 8;
  unsigned map_batch_locked() const {
    return static_cast<unsigned>(std::clamp<int64_t>(stats_.superslabs_mapped / 2, 1, kMaxMapBatch));
  }
  static void mark_unused(SuperSlab* ss);
  // Purges the dirty slots of `ss` in `slots` (runs of adjacent ones in one call).
  void purge_slots_locked(SuperSlab* ss, uint32_t slots);
  // The pass of purge_expired, under the lock; returns what to unmap.
  SuperSlab* purge_expired_locked();
  // Empty SuperSlabs beyond `keep` leave the lists and counts under the
  // lock (take_locked); unmap_taken() unmaps them after it is released
  // (munmap can take a while, and a fork waits for this lock), and puts
  // back any the OS refused. The madvise of a purge still runs under the
  // lock: a purged slot must not be handed out while its purge runs.
  SuperSlab* take_empty_locked(int64_t keep);
  void take_locked(SuperSlab*& from, SuperSlab* ss, SuperSlab** taken);
  void unmap_taken(SuperSlab* taken);
  int64_t slabs_in_use_locked() const;
  void check_locked(const SlabOwner* owner) const;
  void check_superslab_locked(const SuperSlab* ss, const SlabOwner* owner) const;

  Pal* pal_;
  mutable SpinMutex mutex_;
  // Every mapped SuperSlab is on exactly one list, by its state:
  //   lists_[kDirty]: dirty_slots != 0 (acquire's first choice; the only
  //                   list a purge pass walks)
  //   lists_[kClean]: dirty_slots == 0, free_slots != 0
  //   lists_[kFull]:  free_slots == 0
  enum : unsigned { kDirty, kClean, kFull, kLists };
  SuperSlab* lists_[kLists] = {};
  int64_t empty_superslabs_ = 0;
  Decay decay_;  // stamps of dirty slots and empty SuperSlabs
  std::atomic<uint16_t> superslab_kib_[kSlabClasses] = {};  // 0: the option
  SuperSlabStats stats_{};
};

// The process-wide manager, on the OS PAL: constant-initialised, so it is
// usable before any constructor has run and its address is a constant for
// the globals built on it (the heap registry).
extern SuperSlabManager g_superslabs;
inline SuperSlabManager& global_superslabs() { return g_superslabs; }

}  // namespace hakmem
