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
// Alignments of 2 MiB or more cannot follow that shape (the block itself
// would sit on the boundary where the header must be). Such a block keeps
// its header one page below it; free() recognises it because no other
// hakmem block starts on a 2 MiB boundary (is_region_start).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "allocator/backend/superslab.h"
#include "allocator/pal/pal.h"

namespace hakmem {

struct LargeHeader {
  RegionHeader region;  // magic == kLargeMagic; every slot_class == kLargeClass
  char* map_base;
  size_t map_size;
  char* block;  // what allocate() returned: free() of anything else is fatal
};

struct LargeStats {
  int64_t live_blocks = 0;
  int64_t mapped_bytes = 0;
  int64_t map_failures = 0;
  int64_t blocks_mapped = 0;    // ever
  int64_t blocks_unmapped = 0;  // ever
};

class LargeAllocator {
 public:
  constexpr explicit LargeAllocator(Pal* pal) : pal_(pal) {}
  LargeAllocator(const LargeAllocator&) = delete;
  LargeAllocator& operator=(const LargeAllocator&) = delete;

  // A zero-filled block of at least `size` bytes aligned to `align` (a power
  // of two), or nullptr when the size overflows or the OS refuses.
  void* allocate(size_t size, size_t align);
  // `p` must come from allocate().
  void deallocate(void* p);
  size_t usable_size(const void* p) const;
  LargeStats stats() const;

 private:
  static LargeHeader* header_of(const void* p);

  Pal* pal_;
  std::atomic<int64_t> live_blocks_{0};
  std::atomic<int64_t> mapped_bytes_{0};
  std::atomic<int64_t> map_failures_{0};
  std::atomic<int64_t> blocks_mapped_{0};
  std::atomic<int64_t> blocks_unmapped_{0};
};

LargeAllocator& global_large();

}  // namespace hakmem
