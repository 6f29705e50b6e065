// The large cache (reuse without system calls, its byte and slot bounds,
// eviction order, the class map while cached, calloc's dirty bytes) and
// large blocks resized in place with Pal::remap, through a FakePal.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "allocator/backend/class_map.h"
#include "allocator/backend/large.h"
#include "allocator/config/options.h"
#include "allocator/config/scoped_option.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Where the mapping of a block of `large` ends, and its bytes (the block
// sits in the first 2 MiB, its header at the region's start).
char* mapping_end(LargeAllocator& large, void* p) { return static_cast<char*>(p) + large.usable_size(p); }
size_t mapping_bytes(LargeAllocator& large, void* p) {
  return static_cast<size_t>(mapping_end(large, p) - reinterpret_cast<char*>(region_of(p)));
}

// Whether [start, start + bytes) is free address space now: a mapping the
// test places there with MAP_FIXED_NOREPLACE (and removes at once).
bool room_at(char* start, size_t bytes) {
  void* probe = mmap(start, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (probe == MAP_FAILED) return false;
  munmap(probe, bytes);
  return probe == start;
}

TEST(LargeCache, ASteadyMallocFreeLoopMakesNoSystemCall) {
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  large.deallocate(large.allocate(4 * kMiB, kMinAlign));
  const int64_t maps = pal.maps();
  for (int i = 0; i < 100; ++i) {
    auto* p = static_cast<char*>(large.allocate(4 * kMiB, kMinAlign));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ClassMap::lookup(p), kLargeClass);
    memset(p, i, 4 * kMiB);
    large.deallocate(p);
  }
  EXPECT_EQ(pal.maps(), maps) << "every allocation after the first is a cache hit";
  EXPECT_EQ(pal.unmaps(), 0);
  EXPECT_EQ(pal.remaps(), 0);
  EXPECT_EQ(pal.purges(), 0);
  const LargeStats s = large.stats();
  EXPECT_EQ(s.cache.hits, 100);
  EXPECT_EQ(s.cache.misses, 1);
  EXPECT_EQ(s.cache.cached_blocks, 1);
  EXPECT_EQ(s.blocks_mapped, 1);
  EXPECT_EQ(s.live_blocks, 0);
  EXPECT_EQ(s.mapped_bytes, pal.mapped_bytes()) << "cached mappings stay counted as mapped";
  EXPECT_EQ(s.cache.cached_bytes, pal.mapped_bytes());
  large.trim();
  EXPECT_EQ(large.stats().cache.cached_blocks, 0);
  EXPECT_EQ(large.stats().mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Oldest first: the blocks freed first are the ones unmapped when the
// bound is reached; the cache never holds more bytes than its bound.
TEST(LargeCache, NeverHoldsMoreThanItsBoundAndEvictsTheOldestFirst) {
  FakePal pal;
  constexpr int64_t kBound = 10 * kMiB;
  LargeAllocator large(&pal, kBound);
  void* blocks[5];
  for (void*& b : blocks) ASSERT_NE(b = large.allocate(3 * kMiB, kMinAlign), nullptr);
  for (void* b : blocks) {
    large.deallocate(b);
    EXPECT_LE(large.stats().cache.cached_bytes, kBound);
  }
  LargeStats s = large.stats();
  EXPECT_EQ(s.cache.cached_blocks, 3) << "three mappings of 3 MiB + a page fit 10 MiB";
  EXPECT_EQ(s.cache.evicted, 2);
  EXPECT_EQ(pal.unmaps(), 2);
  EXPECT_EQ(s.mapped_bytes, pal.mapped_bytes());
  // The three left are the last three freed.
  for (int i = 2; i < 5; ++i) {
    void* p = large.allocate(3 * kMiB, kMinAlign);
    ASSERT_NE(p, nullptr);
    bool from_a_recent_block = false;
    for (int j = 2; j < 5; ++j) from_a_recent_block |= region_of(p) == region_of(blocks[j]);
    EXPECT_TRUE(from_a_recent_block) << "allocation " << i;
    blocks[i] = p;
  }
  EXPECT_EQ(large.stats().cache.hits, 3);
  // A mapping over the bound alone is never cached: it goes back at once.
  const int64_t unmaps = pal.unmaps();
  large.deallocate(large.allocate(12 * kMiB, kMinAlign));
  EXPECT_EQ(pal.unmaps(), unmaps + 1);
  EXPECT_EQ(large.stats().cache.cached_blocks, 0);
  for (int i = 2; i < 5; ++i) large.deallocate(blocks[i]);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST(LargeCache, HoldsAtMostItsSlotsOfMappings) {
  FakePal pal;
  LargeAllocator large(&pal, 1 << 30);
  std::vector<void*> blocks;
  for (unsigned i = 0; i <= LargeCache::kSlots; ++i) blocks.push_back(large.allocate(40 * 1024, kMinAlign));
  for (void* b : blocks) large.deallocate(b);
  EXPECT_EQ(large.stats().cache.cached_blocks, LargeCache::kSlots);
  EXPECT_EQ(large.stats().cache.evicted, 1);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST(LargeCache, ABoundOfZeroCachesNothing) {
  FakePal pal;
  LargeAllocator large(&pal, 0);
  large.deallocate(large.allocate(4 * kMiB, kMinAlign));
  EXPECT_EQ(pal.unmaps(), 1);
  EXPECT_EQ(large.stats().cache.cached_blocks, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Best fit: of 8 and 5 MiB mappings, a 4 MiB request takes the 5 MiB one
// whole (a tail within 1/8 stays), a 1 MiB request the 8 MiB one with its
// tail given back.
TEST(LargeCache, ReuseIsBestFitAndALargeTailGoesBack) {
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  void* eight = large.allocate(8 * kMiB, kMinAlign);
  void* five = large.allocate(4 * kMiB + 512 * 1024, kMinAlign);
  large.deallocate(eight);
  large.deallocate(five);
  void* p = large.allocate(4 * kMiB, kMinAlign);
  EXPECT_EQ(region_of(p), region_of(five));
  EXPECT_EQ(pal.remaps(), 0) << "a tail of 512 KiB in 4.5 MiB stays";
  void* q = large.allocate(kMiB, kMinAlign);
  EXPECT_EQ(region_of(q), region_of(eight));
  EXPECT_EQ(pal.remaps(), 1);
  EXPECT_LT(large.usable_size(q), kMiB + kPageSize);
  EXPECT_EQ(large.stats().remaps, 1);
  EXPECT_EQ(large.stats().mapped_bytes, pal.mapped_bytes());
  EXPECT_EQ(pal.maps(), 2);
  large.deallocate(p);
  large.deallocate(q);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// While cached, a mapping keeps its class-map marks, but its header says
// it is cached: a free of its old block is reported (the recently-freed
// ring names it a double free). Once it leaves the cache, it reads foreign.
TEST(LargeCache, ACachedBlockIsNotLiveAndItsFreeIsReported) {
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  auto* p = static_cast<char*>(large.allocate(4 * kMiB, kMinAlign));
  large.deallocate(p);
  EXPECT_EQ(large.stats().cache.cached_blocks, 1);
  EXPECT_EQ(ClassMap::lookup(p), kLargeClass);
  EXPECT_EQ(reinterpret_cast<LargeHeader*>(region_of(p))->region.magic, kLargeCachedMagic);
  EXPECT_TRUE(large.recently_freed(p));
  EXPECT_DEATH(large.deallocate(p), "invalid free of 0x[0-9a-f]+: double free");
  EXPECT_DEATH(large.usable_size(p), "invalid free of 0x[0-9a-f]+: double free");
  large.trim();
  EXPECT_EQ(ClassMap::lookup(p), ClassMap::kForeign);
  EXPECT_EQ(ClassMap::lookup(p + 3 * kMiB), ClassMap::kForeign);
}

// A mapping shrunk on its way out of the cache: the slots past its new end
// read foreign, the rest still the block's.
TEST(LargeCache, AShrunkHitKeepsItsMarksTrue) {
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  auto* big = static_cast<char*>(large.allocate(16 * kMiB, kMinAlign));
  large.deallocate(big);
  auto* p = static_cast<char*>(large.allocate(kMiB, kMinAlign));
  ASSERT_EQ(region_of(p), region_of(big));
  EXPECT_EQ(pal.remaps(), 1);
  EXPECT_EQ(ClassMap::lookup(p + kMiB - 1), kLargeClass);
  EXPECT_EQ(ClassMap::lookup(p + 3 * kMiB), ClassMap::kForeign);
  EXPECT_EQ(ClassMap::lookup(big + 15 * kMiB), ClassMap::kForeign);
  large.deallocate(p);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Calloc clears what a reused mapping may hold: all of it; a fresh mapping
// is zero already.
TEST(LargeCache, AReusedMappingIsDirtyAFreshOneIsNot) {
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  constexpr size_t kSize = 4 * kMiB;
  auto* p = static_cast<char*>(large.allocate(kSize, kMinAlign));
  EXPECT_EQ(large.dirty_bytes(p, kSize), 0u);
  memset(p, 0xAB, kSize);
  large.deallocate(p);
  auto* q = static_cast<char*>(large.allocate(kSize, kMinAlign));
  EXPECT_EQ(large.stats().cache.hits, 1);
  EXPECT_EQ(large.dirty_bytes(q, kSize), kSize);
  large.deallocate(q);
  large.trim();
}

// With the OS refusing a new mapping, the cache's are given back and the
// map asked once more (they may be what the address space is short of).
TEST(LargeCache, ARefusedMapEmptiesTheCacheAndRetries) {
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  large.deallocate(large.allocate(3 * kMiB, kMinAlign));
  pal.fail_next_maps(1);
  void* p = large.allocate(8 * kMiB, kMinAlign);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(large.stats().cache.cached_blocks, 0);
  EXPECT_EQ(large.stats().map_failures, 0);
  large.deallocate(p);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Evicted mappings whose unmap the OS refuses go on the pending list.
TEST(LargeCache, AnEvictionTheOsRefusesIsPending) {
  FakePal pal;
  LargeAllocator large(&pal, 5 * kMiB);
  void* a = large.allocate(4 * kMiB, kMinAlign);
  void* b = large.allocate(4 * kMiB, kMinAlign);
  large.deallocate(a);
  pal.fail_next_unmaps(1);
  large.deallocate(b);  // evicts a, whose unmap fails
  LargeStats s = large.stats();
  EXPECT_EQ(s.pending_unmaps, 1);
  EXPECT_EQ(s.cache.cached_blocks, 1);
  EXPECT_EQ(s.mapped_bytes, pal.mapped_bytes());
  large.trim();
  s = large.stats();
  EXPECT_EQ(s.pending_unmaps, 0);
  EXPECT_EQ(s.mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Two threads sharing one cache (ThreadSanitizer checks the lock): the
// books add up afterwards.
TEST(LargeCache, ThreadsShareItAndTheBooksAddUp) {
  FakePal pal;
  LargeAllocator large(&pal, 16 * kMiB);
  auto churn = [&large](unsigned seed) {
    for (unsigned i = 0; i < 300; ++i) {
      const size_t size = (2 + (seed + i) % 4) * kMiB + (i % 7) * 4096;
      auto* p = static_cast<char*>(large.allocate(size, kMinAlign));
      ASSERT_NE(p, nullptr);
      p[0] = 1;
      p[size - 1] = 2;
      large.deallocate(p);
    }
  };
  std::thread a(churn, 0u), b(churn, 1u);
  a.join();
  b.join();
  const LargeStats s = large.stats();
  EXPECT_EQ(s.live_blocks, 0);
  EXPECT_EQ(s.cache.hits + s.cache.misses, 600);
  EXPECT_LE(s.cache.cached_bytes, 16 * int64_t{kMiB});
  EXPECT_EQ(s.mapped_bytes, pal.mapped_bytes());
  EXPECT_EQ(s.mapped_bytes, s.cache.cached_bytes);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Time decay with FakePal's clock (HAKMEM_PURGE_DELAY_MS=50): a cached
// mapping is purged once it has been unused past the delay (all but its
// header page), reused purged (calloc then clears only that page), and
// unmapped once unused past the delay again.
TEST(LargeCacheDecay, PurgedAfterTheDelayThenUnmappedAfterItAgain) {
  const ScopedOption delay("HAKMEM_PURGE_DELAY_MS", "50");
  ASSERT_EQ(Decay::delay_ms(), 50u);
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  constexpr size_t kSize = 4 * kMiB;
  auto* p = static_cast<char*>(large.allocate(kSize, kMinAlign));
  const size_t map_size = mapping_bytes(large, p);
  memset(p, 0xAB, kSize);
  large.deallocate(p);
  large.purge_expired(10);
  large.purge_expired(55);
  EXPECT_EQ(pal.purges(), 0) << "not before the delay";
  large.purge_expired(70);
  EXPECT_EQ(pal.purges(), 1);
  EXPECT_EQ(pal.purged_bytes(), static_cast<int64_t>(map_size - kPageSize)) << "all but the header page";
  EXPECT_EQ(large.stats().cache.purged, 1);
  EXPECT_EQ(large.stats().cache.cached_blocks, 1) << "still cached, for reuse";
  // Reused purged: only the header page's part of the block may be old.
  auto* q = static_cast<char*>(large.allocate(kSize, kMinAlign));
  EXPECT_EQ(large.stats().cache.hits, 1);
  EXPECT_LT(large.dirty_bytes(q, kSize), kPageSize);
  for (size_t i = kPageSize; i < kSize; i += 4093) ASSERT_EQ(q[i], 0) << i;
  memset(q, 0xCD, kSize);
  // Freed again, it starts over: purged one delay after this free...
  large.deallocate(q);
  large.purge_expired(200);
  EXPECT_EQ(pal.purges(), 1);
  large.purge_expired(260);
  EXPECT_EQ(pal.purges(), 2);
  EXPECT_EQ(pal.unmaps(), 0);
  // ...and unmapped one more delay later.
  large.purge_expired(400);
  EXPECT_EQ(pal.unmaps(), 0);
  large.purge_expired(460);
  EXPECT_EQ(pal.unmaps(), 1);
  EXPECT_EQ(large.stats().cache.expired, 1);
  EXPECT_EQ(large.stats().cache.cached_blocks, 0);
  EXPECT_EQ(large.stats().mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// No background thread: the cache's own events (a malloc it serves or
// misses, a free it keeps) read the clock now and then and run the purge
// pass. A mapping in use every 30 ms is never purged; an idle one is
// purged, then unmapped (HAKMEM_PURGE_DELAY_MS=50).
TEST(LargeCacheDecay, LargeMallocsAndFreesDriveThePurges) {
  const ScopedOption delay("HAKMEM_PURGE_DELAY_MS", "50");
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  void* idle = large.allocate(4 * kMiB, kMinAlign);
  const size_t idle_map = mapping_bytes(large, idle);
  large.deallocate(idle);
  for (int i = 0; i < 12; ++i) {
    pal.advance_ms(30);
    auto* busy = static_cast<char*>(large.allocate(8 * kMiB, kMinAlign));
    ASSERT_NE(busy, nullptr);
    busy[0] = 1;
    large.deallocate(busy);
  }
  const LargeStats s = large.stats();
  EXPECT_EQ(s.cache.purged, 1) << "the idle mapping only";
  EXPECT_EQ(pal.purged_bytes(), static_cast<int64_t>(idle_map - kPageSize));
  EXPECT_EQ(s.cache.expired, 1);
  EXPECT_EQ(pal.unmaps(), 1);
  EXPECT_EQ(s.cache.cached_blocks, 1) << "the busy one";
  EXPECT_EQ(s.cache.hits, 11);
  large.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// HAKMEM_PURGE_DELAY_MS=0: memory goes back at once, so nothing is cached.
TEST(LargeCacheDecay, ADelayOfZeroCachesNothing) {
  const ScopedOption delay("HAKMEM_PURGE_DELAY_MS", "0");
  FakePal pal;
  LargeAllocator large(&pal, 32 * kMiB);
  large.deallocate(large.allocate(4 * kMiB, kMinAlign));
  EXPECT_EQ(pal.unmaps(), 1);
  EXPECT_EQ(large.stats().cache.cached_blocks, 0);
}

// realloc in place: growing into free pages after the mapping is one
// remap, the block's bytes and address kept; the new part reads as the
// block's body in the class map.
TEST(LargeResize, GrowsIntoFreePagesAfterItsMapping) {
  FakePal pal;
  LargeAllocator large(&pal, 0);
  constexpr size_t kGrowth = 64 * 1024;
  // A block with room after it: most have some, the tail the Pal trimmed
  // off its over-sized mapping to align it (up to 2 MiB; the mapping made
  // before it lies beyond). The probe makes sure.
  std::vector<void*> tried;
  char* p = nullptr;
  for (int attempt = 0; attempt < 16 && p == nullptr; ++attempt) {
    auto* candidate = static_cast<char*>(large.allocate(3 * kMiB, kMinAlign));
    ASSERT_NE(candidate, nullptr);
    if (room_at(mapping_end(large, candidate), kGrowth)) p = candidate;
    else tried.push_back(candidate);
  }
  ASSERT_NE(p, nullptr) << "no block of 16 had 64 KiB free after it";
  memset(p, 0x5A, 3 * kMiB);
  const size_t old_usable = large.usable_size(p);
  ASSERT_TRUE(large.resize_in_place(p, old_usable + kGrowth));
  EXPECT_EQ(pal.remaps(), 1);
  EXPECT_GE(large.usable_size(p), old_usable + kGrowth);
  EXPECT_EQ(large.stats().remaps, 1);
  EXPECT_EQ(large.stats().mapped_bytes, pal.mapped_bytes());
  for (size_t i = 0; i < 3 * kMiB; i += 4093) ASSERT_EQ(p[i], 0x5A) << i;
  char* last = p + old_usable + kGrowth - 1;
  EXPECT_EQ(*last, 0) << "grown pages are zero";
  *last = 1;
  EXPECT_EQ(ClassMap::lookup(last), ClassMap::kLargeBody) << "the grown part is the block's";
  EXPECT_EQ(large.dirty_bytes(p, 1), 0u) << "a resize does not make the block's own bytes old";
  large.deallocate(p);
  EXPECT_EQ(ClassMap::lookup(last), ClassMap::kForeign);
  for (void* t : tried) large.deallocate(t);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// A grow the OS refuses (pages after taken, or FakePal told to) leaves the
// block as it was: realloc then moves it.
TEST(LargeResize, ARefusedGrowLeavesTheBlockAsItWas) {
  FakePal pal;
  LargeAllocator large(&pal, 0);
  auto* p = static_cast<char*>(large.allocate(3 * kMiB, kMinAlign));
  memset(p, 0x33, 3 * kMiB);
  const size_t usable = large.usable_size(p);
  pal.fail_next_remaps(1);
  EXPECT_FALSE(large.resize_in_place(p, usable + kMiB));
  EXPECT_EQ(large.usable_size(p), usable);
  EXPECT_EQ(large.stats().remap_failures, 1);
  // And for real: a page of the test's own right after the mapping.
  char* end = mapping_end(large, p);
  void* wall = mmap(end, kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (wall == end) {
    EXPECT_FALSE(large.resize_in_place(p, usable + kMiB));
    EXPECT_EQ(large.usable_size(p), usable);
    munmap(wall, kPageSize);
  } else if (wall != MAP_FAILED) {
    munmap(wall, kPageSize);
  }
  for (size_t i = 0; i < 3 * kMiB; i += 4093) ASSERT_EQ(p[i], 0x33) << i;
  EXPECT_EQ(large.stats().mapped_bytes, pal.mapped_bytes());
  large.deallocate(p);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// Shrinking gives the tail back (one remap; the pages after the new end
// are free address space again and read foreign); a tail within 1/8 stays.
TEST(LargeResize, ShrinksInPlaceGivingTheTailBack) {
  FakePal pal;
  LargeAllocator large(&pal, 0);
  auto* p = static_cast<char*>(large.allocate(16 * kMiB, kMinAlign));
  memset(p, 0x77, 16 * kMiB);
  ASSERT_TRUE(large.resize_in_place(p, 15 * kMiB));
  EXPECT_EQ(pal.remaps(), 0) << "a 1 MiB tail of 16 MiB stays";
  ASSERT_TRUE(large.resize_in_place(p, 4 * kMiB));
  EXPECT_EQ(pal.remaps(), 1);
  const size_t usable = large.usable_size(p);
  EXPECT_GE(usable, 4 * kMiB);
  EXPECT_LT(usable, 4 * kMiB + kPageSize);
  EXPECT_EQ(large.stats().mapped_bytes, pal.mapped_bytes());
  EXPECT_LT(pal.mapped_bytes(), static_cast<int64_t>(5 * kMiB));
  EXPECT_EQ(ClassMap::lookup(p + 8 * kMiB), ClassMap::kForeign);
  EXPECT_EQ(ClassMap::lookup(p + 4 * kMiB - 1), ClassMap::kLargeBody);
  EXPECT_TRUE(room_at(mapping_end(large, p), 8 * kMiB)) << "the tail is unmapped";
  for (size_t i = 0; i < 4 * kMiB; i += 4093) ASSERT_EQ(p[i], 0x77) << i;
  large.deallocate(p);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

}  // namespace
}  // namespace hakmem
