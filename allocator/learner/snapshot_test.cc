// Snapshots and windows over pools of the test's own, on the fake PAL:
// each signal of a window is the counter it says it is (snapshot.h).
#include "allocator/learner/snapshot.h"

#include <gtest/gtest.h>

#include "allocator/config/l25_classes.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

class SnapshotTest : public testing::Test {
 protected:
  void TearDown() override {
    manager.trim();
    spans.trim();
    large.trim();
  }
  Snapshot now(int64_t faults = 0) { return take_snapshot(heap_classes(), {manager, spans, l25, large}, faults); }
  ClassStatsTable heap_classes() const {
    ClassStatsTable t{};
    for (unsigned c = 0; c < kSlabClasses; ++c) t[c] = heap.class_stats(c);
    return t;
  }
  FakePal pal;
  SuperSlabManager manager{&pal};
  L25SpanManager spans{&pal};
  L25Pool l25{&spans};
  LargeAllocator large{&pal, int64_t{64} << 20};
  ThreadHeap heap{&manager};
};

TEST_F(SnapshotTest, RefillsAndSpillsArePerTinyClassAndSummedForMid) {
  const Snapshot before = now();
  BlockChain a = heap.refill(3, 16);
  BlockChain b = heap.refill(3, 16);
  BlockChain m = heap.refill(kTinyClasses + 1, 2);
  BlockChain n = heap.refill(kTinyClasses + 4, 2);
  heap.spill(a.head);
  const learn::Window w = window_between(before, now(), 500, 100);
  EXPECT_EQ(w.t_ms, 500u);
  EXPECT_EQ(w.length_ms, 100u);
  EXPECT_EQ(w.tiny[3].refills, 2u);
  EXPECT_EQ(w.tiny[3].spills, 1u);
  EXPECT_EQ(w.tiny[3].turns, 1u) << "refill, refill, spill";
  EXPECT_EQ(w.tiny[4].refills + w.tiny[4].spills, 0u);
  EXPECT_EQ(w.mid.refills, 2u) << "every mid class together";
  EXPECT_EQ(w.mid.turns, 0u);
  EXPECT_EQ(w.slabs_in_use[3 / learn::kClassesPerGroup], 1u);
  EXPECT_EQ(w.slabs_in_use[(kTinyClasses + 1) / learn::kClassesPerGroup] +
                w.slabs_in_use[(kTinyClasses + 4) / learn::kClassesPerGroup],
            2u);
  EXPECT_FALSE(w.quiet());
  heap.spill(b.head);
  heap.spill(m.head);
  heap.spill(n.head);
  heap.release_empty_slabs();
  const learn::Window idle = window_between(now(), now(), 600, 100);
  EXPECT_TRUE(idle.quiet());
  EXPECT_EQ(idle.dirty_bytes, 3 * kSlabSize) << "three released slabs, resident until the delay passes";
}

TEST_F(SnapshotTest, PurgedPagesAndRefaultsComeFromThePurgesAndTheFaults) {
  BlockChain a = heap.refill(3, 16);
  heap.spill(a.head);
  heap.release_empty_slabs();
  const Snapshot before = now(1000);
  // Past the delay: the slot is purged (16 pages); the SuperSlab, empty, is
  // the one HAKMEM_SUPERSLAB_CACHE keeps mapped.
  for (int i = 0; i < 3; ++i) {
    pal.advance_ms(Decay::delay_ms());
    manager.purge_expired(pal.now_ms());
  }
  const learn::Window w = window_between(before, now(1005), 0, 100);
  EXPECT_EQ(w.pages_purged, kSlabSize / kPageSize);
  EXPECT_EQ(w.pages_refaulted, 5u) << "the window's faults, at most what it purged";
  const learn::Window many = window_between(before, now(5000), 0, 100);
  EXPECT_EQ(many.pages_refaulted, many.pages_purged);
}

TEST_F(SnapshotTest, L25SpanTrafficAndTheLargeCacheAreCounted) {
  const Snapshot before = now();
  const unsigned c = l25_class_of(64 * 1024);
  void* p = l25.allocate(c);
  ASSERT_NE(p, nullptr);
  l25.release(p);
  void* big = large.allocate(size_t{4} << 20, kPageSize);
  ASSERT_NE(big, nullptr);
  large.deallocate(big);
  void* again = large.allocate(size_t{4} << 20, kPageSize);
  ASSERT_NE(again, nullptr);
  const learn::Window w = window_between(before, now(), 0, 100);
  EXPECT_EQ(w.l25.refills, 1u);
  EXPECT_EQ(w.l25.spills, 1u);
  EXPECT_EQ(w.large_misses, 1u);
  EXPECT_EQ(w.large_hits, 1u);
  large.deallocate(again);
}

}  // namespace
}  // namespace hakmem
