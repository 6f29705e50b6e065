#include "allocator/pools/thread_heap.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "allocator/config/options.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

std::vector<FreeBlock*> to_vector(FreeBlock* head) {
  std::vector<FreeBlock*> v;
  for (; head != nullptr; head = head->next) v.push_back(head);
  return v;
}

FreeBlock* to_chain(const std::vector<FreeBlock*>& blocks) {
  FreeBlock* head = nullptr;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    (*it)->next = head;
    head = *it;
  }
  return head;
}

class ThreadHeapTest : public testing::Test {
 protected:
  void SetUp() override {
    setenv("HAKMEM_DEBUG", "2", 1);
    options_reload();
  }
  void TearDown() override {
    manager.trim();
    EXPECT_EQ(manager.stats().slabs_in_use, 0) << "a test leaked slabs";
    EXPECT_EQ(pal.mapped_bytes(), 0);
    unsetenv("HAKMEM_DEBUG");
    options_reload();
  }
  FakePal pal;
  SuperSlabManager manager{&pal};
};

TEST_F(ThreadHeapTest, RefillReturnsDistinctAlignedBlocksOfTheClass) {
  ThreadHeap heap(&manager);
  const unsigned cls = 5;  // 96 B
  BlockChain chain = heap.refill(cls, 64);
  ASSERT_EQ(chain.count, 64u);
  const auto blocks = to_vector(chain.head);
  ASSERT_EQ(blocks.size(), 64u);
  EXPECT_EQ(blocks.back(), chain.tail);
  std::set<FreeBlock*> distinct(blocks.begin(), blocks.end());
  EXPECT_EQ(distinct.size(), 64u);
  for (FreeBlock* b : blocks) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % kMinAlign, 0u);
    EXPECT_EQ(block_class(b), cls);
    EXPECT_EQ(slab_of(b)->owner, &heap);
  }
  EXPECT_EQ(slab_of(blocks[0])->used, 64u);
  heap.check();
  heap.spill(chain.head);
  heap.check();
  EXPECT_EQ(manager.stats().slabs_in_use, 1) << "the class's only slab is kept for reuse";
  heap.release_empty_slabs();
  EXPECT_EQ(manager.stats().slabs_in_use, 0);
}

TEST_F(ThreadHeapTest, RecycledBlocksAreHandedOutBeforeFreshOnes) {
  ThreadHeap heap(&manager);
  BlockChain first = heap.refill(0, 10);
  const auto blocks = to_vector(first.head);
  heap.spill(to_chain({blocks[3], blocks[7]}));
  BlockChain second = heap.refill(0, 2);
  const auto again = to_vector(second.head);
  EXPECT_EQ(std::set<FreeBlock*>(again.begin(), again.end()), (std::set<FreeBlock*>{blocks[3], blocks[7]}));
  EXPECT_EQ(slab_of(blocks[0])->carved, 10u);
  heap.spill(to_chain(again));
  std::vector<FreeBlock*> rest;
  for (int i : {0, 1, 2, 4, 5, 6, 8, 9}) rest.push_back(blocks[i]);
  heap.spill(to_chain(rest));
  heap.release_empty_slabs();
}

TEST_F(ThreadHeapTest, RefillSpansSlabsWhenOneIsExhausted) {
  ThreadHeap heap(&manager);
  const unsigned cls = kSlabClasses - 1;  // 32 KiB: two blocks per slab
  BlockChain chain = heap.refill(cls, 5);
  ASSERT_EQ(chain.count, 5u);
  EXPECT_EQ(manager.stats().slabs_in_use, 3);
  EXPECT_EQ(heap.stats().slabs_acquired, 3u);
  heap.check();
  heap.spill(chain.head);
  heap.release_empty_slabs();
  EXPECT_EQ(heap.stats().slabs_released, 3u);
}

TEST_F(ThreadHeapTest, SpillReleasesEmptySlabsExceptTheLastPartialOne) {
  ThreadHeap heap(&manager);
  const unsigned cls = kSlabClasses - 1;
  BlockChain chain = heap.refill(cls, 6);  // three full slabs
  heap.spill(chain.head);
  EXPECT_EQ(manager.stats().slabs_in_use, 1);
  heap.release_empty_slabs();
}

// HAKMEM_POPULATE_PAGES (default 2): a carve from a fresh slab that covers
// whole untouched pages faults them in with one call; a carve of less
// than that, or from a slab whose pages were resident (dirty) when it was
// acquired, makes none.
TEST_F(ThreadHeapTest, ACarveOfAFreshSlabFaultsItsWholePagesInWithOneCall) {
  ThreadHeap heap(&manager);
  const unsigned kilo = 19;
  ASSERT_EQ(kClassSize[kilo], 1024u);
  BlockChain chain = heap.refill(kilo, 64);  // the whole fresh slab
  ASSERT_EQ(chain.count, 64u);
  EXPECT_EQ(pal.populates(), 1);
  EXPECT_EQ(pal.populated_bytes(), static_cast<int64_t>(kSlabSize));
  BlockChain small = heap.refill(0, 64);  // 64 blocks of 16 B: part of one page
  EXPECT_EQ(pal.populates(), 1) << "less than two whole pages: left to fault";
  const unsigned big = kSlabClasses - 1;
  ASSERT_GT(kClassSize[big], kPageSize);
  BlockChain mid = heap.refill(big, 2);
  EXPECT_EQ(pal.populates(), 1) << "blocks above a page leave pages no link touches: the program may never";
  heap.spill(mid.head);
  heap.spill(small.head);
  heap.spill(chain.head);
  heap.release_empty_slabs();  // all three slabs back, dirty
  ASSERT_EQ(manager.stats().dirty_free_slabs, 3);
  chain = heap.refill(kilo, 64);
  EXPECT_EQ(pal.populates(), 1) << "a dirty slot's pages are resident";
  heap.spill(chain.head);
  heap.release_empty_slabs();
}

TEST_F(ThreadHeapTest, PopulatePagesZeroLeavesEveryPageToFault) {
  setenv("HAKMEM_POPULATE_PAGES", "0", 1);
  options_reload();
  ThreadHeap heap(&manager);
  BlockChain chain = heap.refill(19, 64);
  EXPECT_EQ(chain.count, 64u);
  EXPECT_EQ(pal.populates(), 0);
  heap.spill(chain.head);
  heap.release_empty_slabs();
  unsetenv("HAKMEM_POPULATE_PAGES");
  options_reload();
}

// A turn is a refill after a spill or a spill after a refill, of one heap:
// a producer heap that only refills and a consumer heap that spills the
// producer's blocks turn never, however many of each they make.
TEST_F(ThreadHeapTest, OnlyAHeapThatBothRefillsAndSpillsTurns) {
  const unsigned cls = 4;
  ThreadHeap producer(&manager), consumer(&manager), both(&manager);
  for (int i = 0; i < 5; ++i) {
    const BlockChain made = producer.refill(cls, 8);
    consumer.spill(made.head);  // remote frees: back to the producer's inbox
    const BlockChain own = both.refill(cls, 8);
    both.spill(own.head);
  }
  EXPECT_EQ(producer.class_stats(cls).refills, 5u);
  EXPECT_EQ(producer.class_stats(cls).turns, 0u);
  EXPECT_EQ(consumer.class_stats(cls).spills, 5u);
  EXPECT_EQ(consumer.class_stats(cls).turns, 0u);
  EXPECT_EQ(both.class_stats(cls).turns, 9u) << "R S R S R S R S R S";
  producer.collect_remote();
  producer.release_empty_slabs();
  both.release_empty_slabs();
}

TEST_F(ThreadHeapTest, SlowPathEventsAreCountedPerClass) {
  ThreadHeap heap(&manager);
  const unsigned tiny = 3;
  const unsigned mid = kTinyClasses + 2;
  BlockChain chain = heap.refill(tiny, 64);
  BlockChain more = heap.refill(tiny, 10);
  void* block = heap.alloc_block(mid);
  heap.spill(chain.head);
  heap.spill(more.head);
  heap.spill(nullptr);  // an empty chain counts nothing
  heap.free_block(static_cast<FreeBlock*>(block), slab_of(block));
  const ClassStats t = heap.class_stats(tiny);
  EXPECT_EQ(t.refills, 2u);
  EXPECT_EQ(t.refilled_blocks, 74u);
  EXPECT_EQ(t.spilled_blocks, 74u);
  EXPECT_EQ(t.spills, 2u) << "two overflows; the empty chain is none";
  EXPECT_EQ(t.turns, 1u) << "refill, refill, spill, spill: one turn";
  EXPECT_EQ(t.freed_blocks, 0u);
  const ClassStats m = heap.class_stats(mid);
  EXPECT_EQ(m.refills, 1u) << "a mid allocation is a refill of one block";
  EXPECT_EQ(m.refilled_blocks, 1u);
  EXPECT_EQ(m.spilled_blocks, 0u);
  EXPECT_EQ(m.spills, 0u);
  EXPECT_EQ(m.freed_blocks, 1u);
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    if (c == tiny || c == mid) continue;
    const ClassStats other = heap.class_stats(c);
    EXPECT_EQ(other.refills + other.refilled_blocks + other.spilled_blocks + other.freed_blocks + other.spills, 0u) << c;
  }
  // The totals are the sums over the classes.
  EXPECT_EQ(heap.stats().refills, 3u);
  EXPECT_EQ(heap.stats().refilled_blocks, 75u);
  EXPECT_EQ(heap.stats().spilled_blocks, 74u);
  heap.release_empty_slabs();
}

TEST_F(ThreadHeapTest, ForeignBlocksGoToTheirOwnersInbox) {
  ThreadHeap owner(&manager);
  ThreadHeap other(&manager);
  BlockChain chain = owner.refill(2, 64);
  SlabMeta* slab = slab_of(chain.head);
  other.spill(chain.head);  // `other` frees blocks it does not own
  EXPECT_EQ(other.stats().remote_blocks_sent, 64u);
  EXPECT_EQ(slab->used, 64u) << "the owner has not processed its inbox yet";
  EXPECT_EQ(manager.stats().slabs_in_use, 1);
  owner.collect_remote();
  EXPECT_EQ(owner.stats().remote_blocks_received, 64u);
  EXPECT_EQ(slab->used, 0u);
  owner.check();
  owner.release_empty_slabs();
}

TEST_F(ThreadHeapTest, AnOrphanBlockGoesToItsOwnersInbox) {
  ThreadHeap owner(&manager);
  BlockChain chain = owner.refill(4, 2);
  FreeBlock* second = chain.head->next;
  SlabMeta* slab = slab_of(chain.head);
  ThreadHeap::free_orphan(chain.head, slab);  // from a thread without a heap
  EXPECT_EQ(slab->used, 2u) << "not freed until the owner drains its inbox";
  owner.collect_remote();
  EXPECT_EQ(slab->used, 1u);
  EXPECT_EQ(owner.stats().remote_blocks_received, 1u);
  owner.free_block(second, slab);
  owner.release_empty_slabs();
}

TEST_F(ThreadHeapTest, RefillDrainsTheInboxBeforeTakingANewSlab) {
  ThreadHeap owner(&manager);
  ThreadHeap other(&manager);
  const unsigned cls = kSlabClasses - 1;
  BlockChain chain = owner.refill(cls, 2);  // the slab is now full
  other.spill(chain.head);
  BlockChain again = owner.refill(cls, 2);
  EXPECT_EQ(again.count, 2u);
  EXPECT_EQ(owner.stats().slabs_acquired, 1u) << "remote frees should have been reused";
  owner.spill(again.head);
  owner.release_empty_slabs();
}

TEST_F(ThreadHeapTest, AnAbandonedHeapIsDrainedByWhoeverFreesIntoIt) {
  auto* owner = new ThreadHeap(&manager);
  ThreadHeap other(&manager);
  BlockChain chain = owner->refill(1, 100);
  owner->abandon();
  EXPECT_TRUE(owner->abandoned());
  EXPECT_EQ(manager.stats().slabs_in_use, 1) << "live blocks keep the slab";
  other.spill(chain.head);
  EXPECT_EQ(manager.stats().slabs_in_use, 0) << "the last free into an abandoned heap releases its slab";
  delete owner;
}

// An idle owner (one that makes no call) gets its blocks back anyway: the
// pusher that takes its inbox past HAKMEM_INBOX_DRAIN_KIB collects it.
TEST_F(ThreadHeapTest, AnIdleOwnersInboxIsCollectedPastTheThreshold) {
  setenv("HAKMEM_INBOX_DRAIN_KIB", "64", 1);
  options_reload();
  ThreadHeap owner(&manager);
  ThreadHeap other(&manager);
  const unsigned cls = kSlabClasses - 1;  // 32 KiB blocks: two per slab
  BlockChain chain = owner.refill(cls, 8);
  EXPECT_EQ(manager.stats().slabs_in_use, 4);
  std::vector<FreeBlock*> blocks = to_vector(chain.head);
  other.spill(to_chain({blocks[0]}));  // 32 KiB: below the threshold
  EXPECT_EQ(owner.stats().remote_blocks_received, 0u);
  other.spill(to_chain({blocks[1]}));  // 64 KiB: collected by this push
  EXPECT_EQ(owner.stats().remote_blocks_received, 2u);
  EXPECT_EQ(manager.stats().slabs_in_use, 4) << "the one empty slab is kept (the class's last partial)";
  other.spill(to_chain({blocks[2], blocks[3], blocks[4], blocks[5], blocks[6], blocks[7]}));
  EXPECT_EQ(owner.stats().remote_blocks_received, 8u);
  EXPECT_EQ(manager.stats().slabs_in_use, 1);
  unsetenv("HAKMEM_INBOX_DRAIN_KIB");
  options_reload();
  owner.release_empty_slabs();
}

// trim_if_idle (hak_trim from any thread) collects whatever the inbox
// holds, however little, and releases every empty slab.
TEST_F(ThreadHeapTest, TrimIfIdleCollectsTheInboxAndReleasesEmptySlabs) {
  ThreadHeap owner(&manager);
  ThreadHeap other(&manager);
  BlockChain chain = owner.refill(2, 64);
  other.spill(chain.head);
  EXPECT_EQ(owner.stats().remote_blocks_received, 0u) << "below the threshold";
  EXPECT_TRUE(owner.trim_if_idle());
  EXPECT_EQ(owner.stats().remote_blocks_received, 64u);
  EXPECT_EQ(manager.stats().slabs_in_use, 0) << "trim keeps no empty slab";
}

TEST_F(ThreadHeapTest, AnAdoptedHeapKeepsItsSlabs) {
  ThreadHeap heap(&manager);
  BlockChain chain = heap.refill(0, 8);
  heap.abandon();
  heap.adopt();
  EXPECT_FALSE(heap.abandoned());
  heap.spill(chain.head);
  heap.check();
  EXPECT_EQ(manager.stats().slabs_in_use, 1);
  heap.release_empty_slabs();
}

TEST_F(ThreadHeapTest, ManyThreadsFreeingIntoOneOwner) {
  ThreadHeap owner(&manager);
  constexpr int kThreads = 4;
  constexpr uint32_t kPerThread = 5000;
  std::vector<std::vector<FreeBlock*>> parts(kThreads);
  for (auto& part : parts) {
    for (uint32_t got = 0; got < kPerThread;) {
      BlockChain chain = owner.refill(3, 64);
      for (FreeBlock* b : to_vector(chain.head)) {
        if (got++ < kPerThread) part.push_back(b);
        else owner.spill(to_chain({b}));
      }
    }
  }
  std::vector<std::thread> threads;
  for (auto& part : parts) {
    threads.emplace_back([&] {
      ThreadHeap mine(&manager);
      for (size_t i = 0; i < part.size(); i += 50) {
        std::vector<FreeBlock*> batch(part.begin() + i, part.begin() + std::min(part.size(), i + 50));
        mine.spill(to_chain(batch));
      }
      EXPECT_EQ(mine.stats().remote_blocks_sent, kPerThread);
    });
  }
  // The owner keeps collecting while the others free.
  for (int i = 0; i < 1000; ++i) owner.collect_remote();
  for (auto& t : threads) t.join();
  owner.collect_remote();
  EXPECT_EQ(owner.stats().remote_blocks_received, kThreads * kPerThread);
  owner.check();
  owner.release_empty_slabs();
}

TEST_F(ThreadHeapTest, OutOfMemoryGivesAnEmptyChain) {
  ThreadHeap heap(&manager);
  pal.fail_next_maps(1);
  BlockChain chain = heap.refill(0, 64);
  EXPECT_EQ(chain.count, 0u);
  EXPECT_EQ(chain.head, nullptr);
  void* p = heap.alloc_block(kSlabClasses - 1);
  ASSERT_NE(p, nullptr) << "recovers once the OS gives memory";
  heap.free_block(static_cast<FreeBlock*>(p), slab_of(p));
  heap.release_empty_slabs();
}

}  // namespace
}  // namespace hakmem
