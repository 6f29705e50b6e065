// The SuperSlab manager: maps SuperSlabs, hands out empty slabs to owners,
// takes them back, and decides when memory goes back to the OS.
//
// Memory-return policy (the numbers are options, see config/options.h):
//   - A released slab becomes a free slot of its SuperSlab and is "dirty":
//     its pages stay resident so the next slab of any class reuses them
//     without page faults.
//   - When more than HAKMEM_PURGE_SLABS free slots are dirty (default 32,
//     2 MiB), every dirty slot is purged (madvise DONTNEED): at most 2 MiB of
//     freed slab memory is ever held back.
//   - A SuperSlab whose 31 slots are all free is unmapped, except that up to
//     HAKMEM_SUPERSLAB_CACHE empty SuperSlabs (default 1) stay mapped to
//     avoid mmap/munmap churn when a program oscillates around 2 MiB.
//   - trim() purges every dirty slot and unmaps every empty SuperSlab.
//   - An unmap the OS refuses leaves the SuperSlab mapped, empty, in the
//     free pool and counted; the next unmap of empty SuperSlabs retries it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include "allocator/backend/superslab.h"
#include "allocator/pal/pal.h"

namespace hakmem {

struct SuperSlabStats {
  int64_t superslabs_mapped = 0;   // currently mapped
  int64_t superslabs_unmapped = 0; // ever unmapped
  int64_t slabs_in_use = 0;
  int64_t dirty_free_slabs = 0;
  int64_t purged_slabs = 0;        // ever purged
  int64_t map_failures = 0;
  int64_t unmap_failures = 0;      // ever; such a SuperSlab stayed mapped and counted
};

class SuperSlabManager {
 public:
  constexpr explicit SuperSlabManager(Pal* pal) : pal_(pal) {}
  SuperSlabManager(const SuperSlabManager&) = delete;
  SuperSlabManager& operator=(const SuperSlabManager&) = delete;

  // An empty slab for class `size_class`, owned by `owner`, or nullptr when
  // the OS refuses memory. Its metadata is initialised (carved = used = 0).
  SlabMeta* acquire_slab(unsigned size_class, SlabOwner* owner);

  // Takes back a slab whose blocks are all free (used == 0).
  void release_slab(SlabMeta* slab);

  // Gives back everything the policy allows: purges all dirty free slots
  // and unmaps every empty SuperSlab.
  void trim();

  SuperSlabStats stats() const;

  // fork (HeapRegistry's handlers): take the lock before fork, release it
  // in the parent, make it anew in the child (where its holder, if any
  // other thread, does not exist).
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }
  void reset_lock_in_child() { new (&mutex_) std::mutex; }

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
  SuperSlab* map_superslab();
  static void mark_unused(SuperSlab* ss);
  void purge_dirty_locked();
  // Empty SuperSlabs beyond `keep` leave the lists and counts under the
  // lock; unmap_taken() unmaps them after it is released (munmap can take
  // a while, and a fork waits for this lock), and puts back any the OS
  // refused. The madvise of purge_dirty_locked() still runs under the
  // lock: a purged slot must not be handed out while its purge runs.
  SuperSlab* take_empty_locked(int64_t keep);
  void unmap_taken(SuperSlab* taken);
  void check_locked(const SlabOwner* owner) const;
  void check_superslab_locked(const SuperSlab* ss, const SlabOwner* owner) const;

  Pal* pal_;
  mutable std::mutex mutex_;
  SuperSlab* with_free_ = nullptr;  // SuperSlabs with at least one free slot
  SuperSlab* full_ = nullptr;       // SuperSlabs with none
  int64_t empty_superslabs_ = 0;
  SuperSlabStats stats_{};
};

// The process-wide manager, on the OS PAL: constant-initialised, so it is
// usable before any constructor has run and its address is a constant for
// the globals built on it (the heap registry).
extern SuperSlabManager g_superslabs;
inline SuperSlabManager& global_superslabs() { return g_superslabs; }

}  // namespace hakmem
