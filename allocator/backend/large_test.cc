#include "allocator/backend/large.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

TEST(Large, ABlockIsOneMappingFoundByMask) {
  FakePal pal;
  LargeAllocator large(&pal);
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
  LargeAllocator large(&pal);
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
  LargeAllocator large(&pal);
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
  LargeAllocator large(&pal);
  EXPECT_EQ(large.allocate(SIZE_MAX, kMinAlign), nullptr);
  EXPECT_EQ(large.allocate(SIZE_MAX - kSuperSlabSize, kMinAlign), nullptr);
  EXPECT_EQ(large.allocate(100, size_t{1} << 63), nullptr);
  EXPECT_EQ(large.allocate(100, size_t{1} << 48), nullptr);
  EXPECT_EQ(pal.maps(), 0);
}

TEST(Large, MapFailureIsReported) {
  FakePal pal;
  LargeAllocator large(&pal);
  pal.fail_next_maps(1);
  EXPECT_EQ(large.allocate(1 << 20, kMinAlign), nullptr);
  EXPECT_EQ(large.stats().map_failures, 1);
}

}  // namespace
}  // namespace hakmem
