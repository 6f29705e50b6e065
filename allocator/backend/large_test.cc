#include "allocator/backend/large.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "allocator/backend/class_map.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

// These tests are of the mappings themselves: without a cache every free
// unmaps at once (large_cache_test.cc tests the cache).
constexpr int64_t kNoCache = 0;

TEST(Large, ABlockIsOneMappingFoundByMask) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  const size_t size = 100 * 1024;
  auto* p = static_cast<char*>(large.allocate(size, kMinAlign));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pal.maps(), 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kMinAlign, 0u);
  EXPECT_FALSE(is_region_start(p));
  EXPECT_EQ(block_class(p), kLargeClass);
  EXPECT_EQ(block_class(p + size - 1), kLargeClass);
  EXPECT_GE(large.usable_size(p), size);
  for (size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], 0) << "fresh large blocks are zero";
  memset(p, 0xAB, size);
  EXPECT_EQ(large.stats().live_blocks, 1);
  large.deallocate(p);
  EXPECT_EQ(pal.unmaps(), 1);
  EXPECT_EQ(pal.mapped_bytes(), 0);
  EXPECT_EQ(large.stats().live_blocks, 0);
  EXPECT_EQ(large.stats().mapped_bytes, 0);
}

TEST(Large, CountsBlocksMappedAndUnmappedEver) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  void* a = large.allocate(100 * 1024, kMinAlign);
  void* b = large.allocate(100 * 1024, 4 * kSuperSlabSize);
  large.deallocate(a);
  pal.fail_next_maps(1);
  EXPECT_EQ(large.allocate(100 * 1024, kMinAlign), nullptr);
  EXPECT_EQ(large.stats().blocks_mapped, 2) << "a refused map is a failure, not a block";
  EXPECT_EQ(large.stats().blocks_unmapped, 1);
  large.deallocate(b);
  EXPECT_EQ(large.stats().blocks_unmapped, 2);
  EXPECT_EQ(large.stats().live_blocks, 0);
}

TEST(Large, AlignmentsUpToAndBeyondTheRegionSize) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  for (size_t align = 16; align <= 8 * kSuperSlabSize; align *= 2) {
    auto* p = static_cast<char*>(large.allocate(3 * kPageSize + 5, align));
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    EXPECT_EQ(is_region_start(p), align >= kSuperSlabSize) << align;
    EXPECT_GE(large.usable_size(p), 3 * kPageSize + 5) << align;
    memset(p, 1, 3 * kPageSize + 5);
    large.deallocate(p);
  }
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST(Large, ImpossibleSizesFailWithoutCallingTheOs) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  EXPECT_EQ(large.allocate(SIZE_MAX, kMinAlign), nullptr);
  EXPECT_EQ(large.allocate(SIZE_MAX - kSuperSlabSize, kMinAlign), nullptr);
  EXPECT_EQ(large.allocate(100, size_t{1} << 63), nullptr);
  EXPECT_EQ(large.allocate(100, size_t{1} << 48), nullptr);
  EXPECT_EQ(pal.maps(), 0);
}

TEST(Large, MapFailureIsReported) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  pal.fail_next_maps(1);
  EXPECT_EQ(large.allocate(1 << 20, kMinAlign), nullptr);
  EXPECT_EQ(large.stats().map_failures, 1);
}

// Issue 11, defect 5: munmap results were discarded and the statistics
// decremented anyway, so after a failed unmap the books said 0 bytes while
// the mapping stayed. Now the block waits on a pending list, its bytes stay
// counted, and the next large operation retries it.
TEST(Large, AFailedUnmapKeepsTheBooksAndIsRetriedByTheNextOperation) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  void* p = large.allocate(100 * 1024, kMinAlign);
  ASSERT_NE(p, nullptr);
  const int64_t mapped = pal.mapped_bytes();
  pal.fail_next_unmaps(1);
  large.deallocate(p);
  EXPECT_EQ(pal.failed_unmaps(), 1);
  LargeStats s = large.stats();
  EXPECT_EQ(s.live_blocks, 0);
  EXPECT_EQ(s.pending_unmaps, 1);
  EXPECT_EQ(s.unmap_failures, 1);
  EXPECT_EQ(s.blocks_unmapped, 0) << "nothing was unmapped";
  EXPECT_EQ(s.mapped_bytes, mapped) << "the mapping is still there";
  EXPECT_EQ(pal.mapped_bytes(), mapped);
  EXPECT_DEATH(large.deallocate(p), "invalid free of 0x[0-9a-f]+: double free") << "a pending block is not live";

  // A retry that fails again keeps it pending; the next one unmaps it.
  pal.fail_next_unmaps(1);
  void* q = large.allocate(200 * 1024, kMinAlign);
  ASSERT_NE(q, nullptr);
  s = large.stats();
  EXPECT_EQ(s.pending_unmaps, 1);
  EXPECT_EQ(s.unmap_failures, 2);
  EXPECT_EQ(s.mapped_bytes, pal.mapped_bytes());
  large.deallocate(q);  // retries p first, then unmaps q
  s = large.stats();
  EXPECT_EQ(s.pending_unmaps, 0);
  EXPECT_EQ(s.blocks_unmapped, 2);
  EXPECT_EQ(s.mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST(Large, TrimRetriesFailedUnmaps) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  void* blocks[3];
  for (void*& b : blocks) ASSERT_NE(b = large.allocate(50 * 1024, kMinAlign), nullptr);
  pal.fail_next_unmaps(1000);  // every unmap, and every retry the frees make
  for (void* b : blocks) large.deallocate(b);
  pal.fail_next_unmaps(0);
  EXPECT_EQ(large.stats().pending_unmaps, 3);
  EXPECT_EQ(large.stats().mapped_bytes, pal.mapped_bytes());
  EXPECT_GT(pal.mapped_bytes(), 0);
  large.trim();
  EXPECT_EQ(large.stats().pending_unmaps, 0);
  EXPECT_EQ(large.stats().mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// An over-aligned block gives back the front of its mapping at once; if
// that unmap fails, the front stays part of the block's mapping.
TEST(Large, AFailedTrimOfAnOverAlignedBlockStaysInItsMapping) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  pal.fail_next_unmaps(1);
  auto* p = static_cast<char*>(large.allocate(3 * kPageSize, 4 * kSuperSlabSize));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (4 * kSuperSlabSize), 0u);
  EXPECT_EQ(large.stats().mapped_bytes, pal.mapped_bytes());
  memset(p, 1, 3 * kPageSize);
  large.deallocate(p);
  EXPECT_EQ(large.stats().mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// aligned_alloc(256 KiB, 0): the block must start inside its mapping, or
// the class map (which marks the mapping) would not know it.
TEST(Large, AZeroByteAlignedBlockStartsInsideItsMapping) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  auto* p = static_cast<char*>(large.allocate(0, 256 * 1024));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ClassMap::lookup(p), kLargeClass);
  EXPECT_GE(large.usable_size(p), 1u);
  large.deallocate(p);
  EXPECT_EQ(ClassMap::lookup(p), ClassMap::kForeign);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST(Large, MapFailuresOfEveryShapeReturnNull) {
  FakePal pal;
  LargeAllocator large(&pal, kNoCache);
  for (size_t align : {kMinAlign, size_t{4096}, kSuperSlabSize, 8 * kSuperSlabSize}) {
    pal.fail_next_maps(1);
    EXPECT_EQ(large.allocate(1 << 20, align), nullptr) << align;
  }
  EXPECT_EQ(large.stats().map_failures, 4);
  EXPECT_EQ(large.stats().live_blocks, 0);
  EXPECT_EQ(large.stats().mapped_bytes, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

}  // namespace
}  // namespace hakmem
