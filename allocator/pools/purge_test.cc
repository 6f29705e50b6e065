// The process-wide purge check over a FakePal: one check runs every
// pool's pass, at most once per granule, and memory freed into pools that
// see no further event of their own goes back once the delay has passed.
#include "allocator/pools/purge.h"

#include <gtest/gtest.h>

#include "allocator/backend/decay.h"
#include "allocator/config/l25_classes.h"
#include "allocator/config/scoped_option.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

constexpr unsigned k512K = l25_class_of(512 * 1024);  // above the thread caches: the shared cache

class PurgeTest : public ::testing::Test {
 protected:
  // Past the default delay (250 ms) and the granules around it.
  static constexpr uint64_t kPastDelayMs = 300;

  // Time passing in a process whose cold paths check now and then: a
  // check every granule, as the allocator's would make them.
  void run_for(uint64_t ms) {
    for (uint64_t t = 0; t < ms; t += Decay::granule_ms()) {
      pal.advance_ms(Decay::granule_ms());
      purge.check();
    }
  }

  // The shared caches are off by default; these tests follow a block through one.
  ScopedOption shared_caches{"HAKMEM_L25_SHARED_CACHE_KIB", "8192"};
  FakePal pal;
  SuperSlabManager superslabs{&pal};
  L25SpanManager spans{&pal};
  L25Pool l25{&spans};
  LargeAllocator large{&pal, int64_t{64} << 20};
  PurgeScheduler purge{&pal, &superslabs, &l25, &large};
  SlabOwner owner{};
};

TEST_F(PurgeTest, OneCheckPurgesEveryPool) {
  // One unit freed into each pool, and then no event of theirs.
  SlabMeta* slab = superslabs.acquire_slab(0, &owner);
  ASSERT_NE(slab, nullptr);
  superslabs.release_slab(slab);
  void* block = l25.allocate(k512K);
  ASSERT_NE(block, nullptr);
  L25SpanManager::take_for_free(block);
  l25.deallocate(block, k512K);
  ASSERT_EQ(l25.stats().shared_bytes, static_cast<int64_t>(l25_class_size(k512K)));
  void* big = large.allocate(size_t{4} << 20, 16);
  ASSERT_NE(big, nullptr);
  large.deallocate(big);
  ASSERT_EQ(large.stats().cache.cached_blocks, 1);

  purge.check();
  run_for(Decay::delay_ms() - 2 * Decay::granule_ms());
  EXPECT_EQ(pal.purges(), 0) << "nothing is purged before the delay";
  run_for(kPastDelayMs - Decay::delay_ms() + 2 * Decay::granule_ms());
  EXPECT_EQ(superslabs.stats().purged_slabs, 1) << "the SuperSlab's freed slot";
  EXPECT_EQ(large.stats().cache.purged, 1) << "the cached large mapping";
  EXPECT_EQ(l25.stats().shared_bytes, 0) << "the shared block unused past the delay went back to the spans";
  EXPECT_EQ(spans.stats().purged_pages, 0) << "where it waits out the spans' own delay";
  run_for(kPastDelayMs);
  EXPECT_GE(spans.stats().purged_pages, static_cast<int64_t>(l25_class_pages(k512K)));
  EXPECT_EQ(spans.stats().dirty_pages, 0) << "no L25 page is resident any more";
  spans.check();
}

TEST_F(PurgeTest, AtMostOnePassPerGranule) {
  purge.check();
  EXPECT_EQ(purge.passes(), 1);
  purge.check();
  purge.check();
  EXPECT_EQ(purge.passes(), 1) << "the clock has not moved: no pass could find anything new";
  pal.advance_ms(Decay::granule_ms() - 1);
  purge.check();
  EXPECT_EQ(purge.passes(), 1);
  pal.advance_ms(1);
  purge.check();
  EXPECT_EQ(purge.passes(), 2);
}

TEST_F(PurgeTest, PurgeExpiredNeedsNoCheck) {
  // The learner thread's entry point (issue 13): any clock reading, any time.
  SlabMeta* slab = superslabs.acquire_slab(3, &owner);
  ASSERT_NE(slab, nullptr);
  superslabs.release_slab(slab);
  for (uint64_t t = 0; t <= kPastDelayMs; t += Decay::granule_ms()) {
    purge.purge_expired(pal.now_ms());
    pal.advance_ms(Decay::granule_ms());
  }
  EXPECT_EQ(superslabs.stats().purged_slabs, 1);
  EXPECT_EQ(purge.passes(), 0) << "passes counts the check's only";
}

}  // namespace
}  // namespace hakmem
