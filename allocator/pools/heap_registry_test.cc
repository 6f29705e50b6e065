// The heap registry on a private backend over the fake PAL: where heaps
// come from, adoption, and what happens when the PAL refuses a chunk.
#include "allocator/pools/heap_registry.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

class HeapRegistryTest : public testing::Test {
 protected:
  void TearDown() override {
    EXPECT_EQ(registry.active(), 0) << "a test left a heap acquired";
    manager.trim();
    EXPECT_EQ(manager.stats().slabs_in_use, 0) << "a test left blocks out";
  }
  // Heaps are never unmapped, so neither are their chunks (nor, here, the
  // registry): a test's chunks stay mapped after it.
  FakePal pal;
  SuperSlabManager manager{&pal};
  HeapRegistry registry{&manager};
};

TEST_F(HeapRegistryTest, HeapsShareAChunkMappedThroughTheBackendsPal) {
  ThreadHeap* a = registry.acquire();
  ThreadHeap* b = registry.acquire();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(pal.maps(), 1) << "one chunk holds both heaps";
  EXPECT_EQ(registry.active(), 2);
  void* p = a->alloc_block(0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pal.maps(), 2) << "the heap's slab came from the registry's backend";
  EXPECT_EQ(slab_of(p)->owner, a);
  a->free_block(static_cast<FreeBlock*>(p), slab_of(p));
  registry.release(a);
  registry.release(b);
}

TEST_F(HeapRegistryTest, AReleasedHeapIsAdoptedBeforeANewOneIsCarved) {
  ThreadHeap* a = registry.acquire();
  void* p = a->alloc_block(3);
  registry.release(a);
  EXPECT_TRUE(a->abandoned());
  EXPECT_EQ(registry.active(), 0);
  ThreadHeap* again = registry.acquire();
  EXPECT_EQ(again, a);
  EXPECT_FALSE(a->abandoned());
  EXPECT_EQ(slab_of(p)->owner, a) << "the adopted heap keeps its slabs";
  EXPECT_EQ(registry.total_stats().slabs_acquired, 1u);
  EXPECT_EQ(registry.total_class_stats()[3].refills, 1u) << "an abandoned heap's counts stay in the totals";
  a->free_block(static_cast<FreeBlock*>(p), slab_of(p));
  a->release_empty_slabs();
  registry.release(a);
}

TEST_F(HeapRegistryTest, WhenThePalRefusesTheFirstChunkAcquireReturnsNullAndLaterSucceeds) {
  pal.fail_next_maps(1);
  EXPECT_EQ(registry.acquire(), nullptr);
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(pal.maps(), 0);
  EXPECT_EQ(registry.active(), 0) << "a failed acquire leaves no running heap counted";
  ThreadHeap* heap = registry.acquire();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(pal.maps(), 1);
  EXPECT_EQ(registry.active(), 1);
  registry.release(heap);
}

TEST_F(HeapRegistryTest, WhenThePalRefusesTheNextChunkTheHeapsAlreadyCarvedAreUnaffected) {
  std::vector<ThreadHeap*> heaps = {registry.acquire()};
  ASSERT_NE(heaps[0], nullptr);
  pal.fail_next_maps(1);
  // Carve until the first chunk is full and the second is refused.
  while (ThreadHeap* heap = registry.acquire()) heaps.push_back(heap);
  EXPECT_GT(heaps.size(), 1u);
  EXPECT_EQ(pal.maps(), 1);
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(registry.active(), static_cast<int>(heaps.size()));
  EXPECT_EQ(std::set<ThreadHeap*>(heaps.begin(), heaps.end()).size(), heaps.size());
  ThreadHeap* more = registry.acquire();
  ASSERT_NE(more, nullptr) << "the next acquire maps the second chunk";
  EXPECT_EQ(pal.maps(), 2);
  heaps.push_back(more);
  for (ThreadHeap* heap : heaps) {
    void* p = heap->alloc_block(1);
    ASSERT_NE(p, nullptr);
    heap->free_block(static_cast<FreeBlock*>(p), slab_of(p));
    registry.release(heap);
  }
  EXPECT_EQ(registry.total_stats().slabs_acquired, heaps.size());
}

}  // namespace
}  // namespace hakmem
