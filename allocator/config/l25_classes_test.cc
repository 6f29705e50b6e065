#include "allocator/config/l25_classes.h"

#include <gtest/gtest.h>

namespace hakmem {
namespace {

TEST(L25Classes, EverySizeGetsTheSmallestWholePageClassThatFits) {
  for (size_t size = kSlabMaxSize + 1; size <= kL25MaxSize; ++size) {
    const unsigned c = l25_class_of(size);
    ASSERT_LT(c, kL25Classes) << "size " << size;
    ASSERT_GE(l25_class_size(c), size) << "size " << size;
    if (c > 0) {
      ASSERT_LT(l25_class_size(c - 1), size) << "size " << size << " fits class " << c - 1;
    }
    ASSERT_EQ(l25_class_size(c) % kL25PageSize, 0u) << "class " << c;
  }
}

TEST(L25Classes, WasteIsUnderOneEighth) {
  double worst = 0;
  for (size_t size = kSlabMaxSize + 1; size <= kL25MaxSize; ++size) {
    const double waste = static_cast<double>(l25_class_size(l25_class_of(size)) - size) / static_cast<double>(size);
    ASSERT_LT(waste, 0.125) << "size " << size;
    worst = waste > worst ? waste : worst;
  }
  EXPECT_GT(worst, 0.12) << "the bound is tight at 32 KiB + 1";
}

TEST(L25Classes, PowersOfTwoAreExact) {
  for (size_t size = 2 * kSlabMaxSize; size <= kL25MaxSize; size *= 2) {
    EXPECT_EQ(l25_class_size(l25_class_of(size)), size);
  }
}

}  // namespace
}  // namespace hakmem
