// Large allocations (above the L25 range, 2 MiB; and blocks aligned past a
// page): one mapping each, kept in a bounded cache when freed (below) or
// returned to the OS.
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
// A freed block of the first shape (alignment below 2 MiB) goes to the large
// cache (large_cache.h) instead of back to the OS, and the next allocation
// it fits reuses it: its header is written anew. While it waits, its
// class-map marks stay (they are the same for any block it will hold) and
// its header reads kLargeCachedMagic, so a free of its old block is
// reported like any stale pointer; the marks are cleared when it leaves
// the cache for the OS. Past HAKMEM_PURGE_DELAY_MS unused its pages are
// purged (the header page stays), and past it again it is unmapped. A
// reused mapping is not zero: the header records how far its old bytes
// reach (dirty_end: all of it, or only the header page once purged), so
// calloc clears only those (dirty_bytes). A best fit much larger than the request, and a block
// realloc shrinks, give a tail of more than 1/kKeepTailShare back with
// Pal::remap; realloc grows a block with Pal::remap when the pages after
// its mapping are free (resize_in_place).
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

#include "allocator/backend/large_cache.h"
#include "allocator/backend/superslab.h"
#include "allocator/pal/pal.h"

namespace hakmem {

// Invariants:
//   live block:     region.magic == kLargeMagic, [map_base, map_base + map_size)
//                   is one mapping holding this header and the block;
//                   at allocation, [dirty_end, map end) is zero
//   cached:         region.magic == kLargeCachedMagic, the same mapping, in
//                   the large cache; its class-map marks as when it was live
//   pending unmap:  region.magic == kLargePendingMagic, the same mapping,
//                   linked through next_pending; every slot_class still
//                   kLargeClass (the bytes are mapped), but free() of it fails
struct LargeHeader {
  RegionHeader region;  // magic == kLargeMagic; every slot_class == kLargeClass
  char* map_base;
  size_t map_size;
  char* block;  // what allocate() returned: free() of anything else is fatal
  char* dirty_end;  // old bytes of a reused mapping end here (block: none)
  LargeHeader* next_pending;
};

inline constexpr uint32_t kLargePendingMagic = 0x504C'4B48;  // "HKLP"
inline constexpr uint32_t kLargeCachedMagic = 0x434C'4B48;   // "HKLC"

// Invariants (each a sum over the allocator's life, read without a lock):
//   live_blocks     == blocks_mapped + cache.hits - blocks freed
//                      (blocks freed == cache.stored + frees not cached)
//   mappings held   == live_blocks + cache.cached_blocks + pending_unmaps
//                   == blocks_mapped - blocks_unmapped
//   mapped_bytes    == bytes of live blocks + cache.cached_bytes + bytes of pending ones
struct LargeStats {
  int64_t live_blocks = 0;
  int64_t mapped_bytes = 0;
  int64_t map_failures = 0;
  int64_t blocks_mapped = 0;    // ever (from the OS; cache hits are not counted)
  int64_t blocks_unmapped = 0;  // ever (unmaps that succeeded)
  int64_t unmap_failures = 0;   // ever (each retry that failed too)
  int64_t pending_unmaps = 0;   // freed blocks still mapped, waiting for a retry
  int64_t remaps = 0;           // ever: mappings resized in place (realloc, shrunk cache hits)
  int64_t remap_failures = 0;   // ever: resizes the OS refused (the pages after were taken)
  LargeCacheStats cache;
};

class LargeAllocator {
 public:
  // `cache_bytes`: the large cache's bound (LargeCache::kBoundFromOptions:
  // HAKMEM_LARGE_CACHE_BYTES).
  constexpr explicit LargeAllocator(Pal* pal, int64_t cache_bytes = LargeCache::kBoundFromOptions)
      : pal_(pal), cache_(pal, cache_bytes) {}
  LargeAllocator(const LargeAllocator&) = delete;
  LargeAllocator& operator=(const LargeAllocator&) = delete;

  // A block of at least `size` bytes aligned to `align` (a power of two),
  // or nullptr when the size overflows or the OS refuses. Not zero when it
  // reuses a cached mapping: see dirty_bytes.
  void* allocate(size_t size, size_t align);
  // How many of the first n bytes of p, a block allocate() just returned,
  // may be non-zero (calloc clears those): none for a fresh mapping.
  size_t dirty_bytes(const void* p, size_t n) const;
  // `p` must be a live block from allocate() in a slot the class map
  // reads as kLargeClass; any other p in such a slot is reported (aborts):
  // a double free if a recent free had p, else an interior pointer.
  void deallocate(void* p);
  size_t usable_size(const void* p) const;
  // Makes the live block p serve `size` bytes without moving it: true when
  // it now does (usable_size(p) >= size). Shrinking gives a tail of more
  // than 1/kKeepTailShare back; growing asks the OS for the pages after the
  // mapping, which fails when they are taken.
  bool resize_in_place(void* p, size_t size);
  // Was p among the last kRecentlyFreed blocks freed? (reports only)
  bool recently_freed(const void* p) const;
  LargeStats stats() const;
  int64_t cache_bound() const { return cache_.bound(); }
  // Retries the unmaps that failed (the pending list) and unmaps every
  // cached mapping.
  void trim();
  // Purges and unmaps the cached mappings past the purge delay as of
  // `now_ms` (frees and mallocs of large blocks do it as they go; this is
  // for a background thread).
  void purge_expired(uint64_t now_ms);

  // fork: the cache's lock (HeapRegistry's order, after the SuperSlab manager's).
  void lock_for_fork() { cache_.lock_for_fork(); }
  void unlock_after_fork() { cache_.unlock_after_fork(); }
  void reset_lock_in_child() { cache_.reset_lock_in_child(); }

  // A tail of at most this share of a mapping stays when a block shrinks
  // or a cached mapping serves a smaller request (1/8: the waste the L25
  // size classes allow); a larger one is given back with Pal::remap.
  static constexpr size_t kKeepTailShare = 8;

 private:
  static LargeHeader* header_of(const void* p);
  LargeHeader* checked_header(const void* p) const;
  // Unmaps header's mapping and keeps the books (unmapped blocks and bytes
  // on success, a failure otherwise): true when the mapping is gone.
  bool try_unmap(LargeHeader* header);
  // Unmaps a freed block's mapping, or puts it on the pending list.
  void unmap_or_keep(LargeHeader* header);
  void push_pending(LargeHeader* header);
  // A cached mapping of at least `need` bytes into *out, its tail given
  // back if much larger; false when the cache has none.
  bool take_cached(size_t need, CachedMapping* out);
  // Caches a freed block's mapping (unmapping what that evicts); false
  // when it cannot be cached: the caller unmaps it.
  bool cache_freed(LargeHeader* header);
  void unmap_all(const CachedMapping* mappings, unsigned n);
  // Pal::remap with the books (mapped bytes, remaps, failures).
  bool remap(char* base, size_t old_size, size_t new_size);
  void retry_pending_if_any() {
    if (pending_.load(std::memory_order_relaxed) != nullptr) [[unlikely]]
      retry_pending();
  }
  [[gnu::cold, gnu::noinline]] void retry_pending();

  static constexpr unsigned kRotations = 16;
  static constexpr unsigned kRecentlyFreed = 64;

  Pal* pal_;
  // A load and a store, not an atomic increment: two threads may now and
  // then take one index, which costs a rotation (two blocks at one offset)
  // or a ring entry (that double free is reported as an interior pointer or
  // a foreign one instead). Two atomic increments were a quarter of a 4 MiB
  // malloc+free pair's time.
  static unsigned next_index(std::atomic<unsigned>& index) {
    const unsigned i = index.load(std::memory_order_relaxed);
    index.store(i + 1, std::memory_order_relaxed);
    return i;
  }
  std::atomic<unsigned> rotation_{0};
  std::atomic<unsigned> recent_next_{0};
  std::atomic<uintptr_t> recently_freed_[kRecentlyFreed]{};
  // Freed blocks whose unmap failed. A lock-free stack: pushed one at a
  // time, taken whole by a retry (exchange), so no ABA and no lock to
  // order against fork.
  std::atomic<LargeHeader*> pending_{nullptr};
  std::atomic<int64_t> pending_unmaps_{0};
  std::atomic<int64_t> unmap_failures_{0};
  // Live blocks are counted by the paths that pay for a system call (maps,
  // frees not cached) and by the cache's own books (hits, mappings stored),
  // so a cached malloc+free pair makes no atomic increment of its own.
  std::atomic<int64_t> frees_uncached_{0};
  std::atomic<int64_t> mapped_bytes_{0};
  std::atomic<int64_t> map_failures_{0};
  std::atomic<int64_t> blocks_mapped_{0};
  std::atomic<int64_t> blocks_unmapped_{0};
  std::atomic<int64_t> remaps_{0};
  std::atomic<int64_t> remap_failures_{0};
  LargeCache cache_;
};

// The process-wide large allocator, on the OS PAL (constant-initialised).
extern LargeAllocator g_large;
inline LargeAllocator& global_large() { return g_large; }

}  // namespace hakmem
