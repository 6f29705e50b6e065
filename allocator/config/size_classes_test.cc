#include "allocator/config/size_classes.h"

#include <gtest/gtest.h>

#include <bit>

namespace hakmem {
namespace {

TEST(SizeClasses, SizesAreMultiplesOf16AndStrictlyIncreasing) {
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    EXPECT_EQ(kClassSize[c] % kMinAlign, 0u) << "class " << c;
    if (c > 0) {
      EXPECT_GT(kClassSize[c], kClassSize[c - 1]) << "class " << c;
    }
  }
  EXPECT_EQ(kClassSize[0], 16u);
  EXPECT_EQ(kClassSize[kTinyClasses - 1], 1024u);
  EXPECT_EQ(kClassSize[kSlabClasses - 1], 32768u);
}

TEST(SizeClasses, EverySizeGetsTheSmallestClassThatFits) {
  for (size_t size = 0; size <= kSlabMaxSize; ++size) {
    const unsigned c = slab_class_of(size);
    ASSERT_LT(c, kSlabClasses) << "size " << size;
    ASSERT_GE(kClassSize[c], size) << "size " << size;
    if (c > 0) {
      ASSERT_LT(kClassSize[c - 1], size) << "size " << size << " fits class " << c - 1;
    }
    if (size <= kTinyMaxSize) {
      ASSERT_EQ(tiny_class_of(size), c) << "size " << size;
    }
  }
}

TEST(SizeClasses, MidSizesGetTheSameClassFromTheMidTable) {
  for (size_t size = kTinyMaxSize + 1; size <= kSlabMaxSize; ++size) {
    ASSERT_EQ(mid_class_of(size), slab_class_of(size)) << "size " << size;
  }
}

TEST(SizeClasses, BlockOffsetsAreExactlyTheMultiplesOfTheClassSize) {
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    for (uint32_t offset = 0; offset < kSlabSize; ++offset) {
      ASSERT_EQ(is_block_offset(offset, c), offset % kClassSize[c] == 0) << "class " << c << " offset " << offset;
    }
  }
}

TEST(SizeClasses, WasteAbove128BytesIsUnder20Percent) {
  for (size_t size = 129; size <= kSlabMaxSize; ++size) {
    const double waste = 1.0 - static_cast<double>(size) / kClassSize[slab_class_of(size)];
    ASSERT_LT(waste, 0.20) << "size " << size;
  }
}

TEST(SizeClasses, EveryPowerOfTwoIsAClass) {
  for (size_t size = 16; size <= kSlabMaxSize; size *= 2) {
    EXPECT_EQ(kClassSize[slab_class_of(size)], size);
  }
}

TEST(SizeClasses, EverySlabHoldsAtLeastTwoBlocks) {
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    EXPECT_GE(class_capacity(c), 2u);
    EXPECT_LE(class_capacity(c) * kClassSize[c], kSlabSize);
  }
}

}  // namespace
}  // namespace hakmem
