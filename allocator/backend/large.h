// Large allocations (above kSlabMaxSize): one mapping each, returned to the
// OS by free() at once.
//
// A large block is found by the same mask as a slab block: its mapping
// starts at a 2 MiB boundary with a LargeHeader whose slot_class bytes all
// read kLargeClass, and the block starts inside the first 2 MiB.
//
//   [LargeHeader | pad to alignment | block .............. ]
//   ^ 2 MiB-aligned                 ^ returned pointer
//
// The block starts one of 16 cache lines further for alignments up to 64
// (rotated per allocation; see allocate()). Only the first 2 MiB of a
// mapping read kLargeClass in the class map, so a pointer deeper inside is
// an interior pointer without reading any header.
//
// Alignments of 2 MiB or more cannot follow that shape (the block itself
// would sit on the boundary where the header must be). Such a block keeps
// its header one page below it; free() recognises it because no other
// hakmem block starts on a 2 MiB boundary (is_region_start).
//
// A failed unmap (munmap refuses when it would split a mapping beyond
// vm.max_map_count) leaves the mapping in place: the block is no longer
// live, but its bytes stay counted in mapped_bytes, and it waits on the
// pending list, retried on the next large allocation or free and on
// trim(), until an unmap succeeds. The statistics count only what the OS
// did.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "allocator/backend/superslab.h"
#include "allocator/pal/pal.h"

namespace hakmem {

// Invariants:
//   live block:     region.magic == kLargeMagic, [map_base, map_base + map_size)
//                   is one mapping holding this header and the block
//   pending unmap:  region.magic == kLargePendingMagic, the same mapping,
//                   linked through next_pending; every slot_class still
//                   kLargeClass (the bytes are mapped), but free() of it fails
struct LargeHeader {
  RegionHeader region;  // magic == kLargeMagic; every slot_class == kLargeClass
  char* map_base;
  size_t map_size;
  char* block;  // what allocate() returned: free() of anything else is fatal
  LargeHeader* next_pending;
};

inline constexpr uint32_t kLargePendingMagic = 0x504C'4B48;  // "HKLP"

// Invariants (each a sum over the allocator's life, read without a lock):
//   live_blocks     == blocks_mapped - blocks freed
//   pending_unmaps  == blocks freed - blocks_unmapped
//   mapped_bytes    == bytes of live blocks + bytes of pending ones
struct LargeStats {
  int64_t live_blocks = 0;
  int64_t mapped_bytes = 0;
  int64_t map_failures = 0;
  int64_t blocks_mapped = 0;    // ever
  int64_t blocks_unmapped = 0;  // ever (unmaps that succeeded)
  int64_t unmap_failures = 0;   // ever (each retry that failed too)
  int64_t pending_unmaps = 0;   // freed blocks still mapped, waiting for a retry
};

class LargeAllocator {
 public:
  constexpr explicit LargeAllocator(Pal* pal) : pal_(pal) {}
  LargeAllocator(const LargeAllocator&) = delete;
  LargeAllocator& operator=(const LargeAllocator&) = delete;

  // A zero-filled block of at least `size` bytes aligned to `align` (a power
  // of two), or nullptr when the size overflows or the OS refuses.
  void* allocate(size_t size, size_t align);
  // `p` must be a live block from allocate() in a slot the class map
  // reads as kLargeClass; any other p in such a slot is reported (aborts):
  // a double free if a recent free had p, else an interior pointer.
  void deallocate(void* p);
  size_t usable_size(const void* p) const;
  // Was p among the last kRecentlyFreed blocks freed? (reports only)
  bool recently_freed(const void* p) const;
  LargeStats stats() const;
  // Retries the unmaps that failed (the pending list).
  void trim();

 private:
  static LargeHeader* header_of(const void* p);
  LargeHeader* checked_header(const void* p) const;
  // Unmaps header's mapping and keeps the books (unmapped blocks and bytes
  // on success, a failure otherwise): true when the mapping is gone.
  bool try_unmap(LargeHeader* header);
  // Unmaps a freed block's mapping, or puts it on the pending list.
  void unmap_or_keep(LargeHeader* header);
  void push_pending(LargeHeader* header);
  void retry_pending_if_any() {
    if (pending_.load(std::memory_order_relaxed) != nullptr) [[unlikely]]
      retry_pending();
  }
  [[gnu::cold, gnu::noinline]] void retry_pending();

  static constexpr unsigned kRotations = 16;
  static constexpr unsigned kRecentlyFreed = 64;

  Pal* pal_;
  std::atomic<unsigned> rotation_{0};
  std::atomic<unsigned> recent_next_{0};
  std::atomic<uintptr_t> recently_freed_[kRecentlyFreed]{};
  // Freed blocks whose unmap failed. A lock-free stack: pushed one at a
  // time, taken whole by a retry (exchange), so no ABA and no lock to
  // order against fork.
  std::atomic<LargeHeader*> pending_{nullptr};
  std::atomic<int64_t> pending_unmaps_{0};
  std::atomic<int64_t> unmap_failures_{0};
  std::atomic<int64_t> live_blocks_{0};
  std::atomic<int64_t> mapped_bytes_{0};
  std::atomic<int64_t> map_failures_{0};
  std::atomic<int64_t> blocks_mapped_{0};
  std::atomic<int64_t> blocks_unmapped_{0};
};

LargeAllocator& global_large();

}  // namespace hakmem
