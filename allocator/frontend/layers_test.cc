// The front-end layers at their boundaries: magazine swaps, depot exchange
// and limits, hot-array overflow, flushes. Each test drives a layer
// directly with its own cache, on a private heap over the fake PAL.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <set>
#include <vector>

#include "allocator/backend/decay.h"
#include "allocator/frontend/free_list_layer.h"
#include "allocator/frontend/hot_layer.h"
#include "allocator/frontend/magazine_layer.h"
#include "allocator/pal/fake_pal.h"
#include "allocator/pools/heap_registry.h"

namespace hakmem {
namespace {

constexpr unsigned kClass = 2;  // 48-byte blocks

class LayerTest : public testing::Test {
 protected:
  void TearDown() override {
    Depot<4>::trim(heap);
    heap.collect_remote();
    heap.release_empty_slabs();
    EXPECT_EQ(manager.stats().slabs_in_use, 0) << "a test left blocks out";
    manager.trim();
  }
  FakePal pal;
  SuperSlabManager manager{&pal};
  ThreadHeap heap{&manager};
};

using Mag4 = MagazineLayer<4>;

TEST_F(LayerTest, AZeroedMagazineCacheTakesTheSlowPathFirst) {
  Mag4::Cache cache{};
  EXPECT_EQ(Mag4::try_alloc(cache, kClass), nullptr);
  int dummy;
  EXPECT_FALSE(Mag4::try_free(cache, reinterpret_cast<FreeBlock*>(&dummy), kClass));
  void* p = Mag4::alloc_slow(cache, heap, kClass);
  ASSERT_NE(p, nullptr);
  const auto& s = cache.slots[kClass];
  EXPECT_EQ(s.capacity, 4u);
  EXPECT_EQ(s.count, 3u) << "a refill fills the loaded magazine, then pops one";
  EXPECT_EQ(s.previous->count, 0u);
  Mag4::free_slow(cache, heap, static_cast<FreeBlock*>(p), kClass);
  Mag4::flush(cache, heap);
}

TEST_F(LayerTest, FreeSwapsInTheEmptyPreviousAtTheBoundary) {
  Mag4::Cache cache{};
  auto& s = cache.slots[kClass];
  std::vector<void*> blocks = {Mag4::alloc_slow(cache, heap, kClass)};
  while (void* p = Mag4::try_alloc(cache, kClass)) blocks.push_back(p);
  ASSERT_EQ(blocks.size(), 4u) << "one refill of four rounds";
  for (void* p : blocks) ASSERT_TRUE(Mag4::try_free(cache, static_cast<FreeBlock*>(p), kClass));
  Magazine<4>* full = s.loaded;
  Magazine<4>* empty = s.previous;
  EXPECT_EQ(s.count, 4u);
  // The fifth free finds loaded full and previous empty: they swap.
  auto* fifth = static_cast<FreeBlock*>(heap.alloc_block(kClass));
  ASSERT_FALSE(Mag4::try_free(cache, fifth, kClass));
  Mag4::free_slow(cache, heap, fifth, kClass);
  EXPECT_EQ(s.previous, full);
  EXPECT_EQ(s.previous->count, 4u);
  EXPECT_EQ(s.loaded, empty);
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u) << "a swap needs no depot";
  // And back: drain loaded, then the full previous swaps in.
  ASSERT_EQ(Mag4::try_alloc(cache, kClass), fifth);
  ASSERT_EQ(Mag4::try_alloc(cache, kClass), nullptr);
  void* p = Mag4::alloc_slow(cache, heap, kClass);
  EXPECT_EQ(s.loaded, full);
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(heap.stats().refills, 2u) << "the initial refill and the fifth block's; the swap took none";
  Mag4::free_slow(cache, heap, fifth, kClass);
  ASSERT_TRUE(Mag4::try_free(cache, static_cast<FreeBlock*>(p), kClass));
  Mag4::flush(cache, heap);
}

TEST_F(LayerTest, BothMagazinesFullSendsPreviousToTheDepotAndAllocGetsItBack) {
  Mag4::Cache cache{};
  auto& s = cache.slots[kClass];
  std::vector<FreeBlock*> blocks;
  for (int i = 0; i < 9; ++i) blocks.push_back(static_cast<FreeBlock*>(heap.alloc_block(kClass)));
  Mag4::free_slow(cache, heap, blocks[0], kClass);  // attaches magazines
  for (int i = 1; i < 9; ++i) {
    if (!Mag4::try_free(cache, blocks[i], kClass)) Mag4::free_slow(cache, heap, blocks[i], kClass);
  }
  // 9 frees: loaded 4 -> swap -> 4 more -> both full -> previous to depot.
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u);
  const uint64_t refills_before = heap.stats().refills;
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.previous->count, 4u);
  std::set<void*> got;
  for (int i = 0; i < 9; ++i) {
    void* p = Mag4::try_alloc(cache, kClass);
    if (p == nullptr) p = Mag4::alloc_slow(cache, heap, kClass);
    got.insert(p);
  }
  EXPECT_EQ(got, std::set<void*>(blocks.begin(), blocks.end())) << "every round comes back, none twice";
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u);
  EXPECT_EQ(Depot<4>::stats(kClass).full_taken, 1u);
  EXPECT_EQ(heap.stats().refills, refills_before) << "swaps and the depot served all nine, not the heap";
  for (void* p : got) {
    if (!Mag4::try_free(cache, static_cast<FreeBlock*>(p), kClass))
      Mag4::free_slow(cache, heap, static_cast<FreeBlock*>(p), kClass);
  }
  Mag4::flush(cache, heap);
}

TEST_F(LayerTest, TheDepotKeepsOneFullMagazinePerRunningThreadAndTheRestGoHome) {
  // Three running threads, as far as the heap registry knows.
  std::vector<ThreadHeap*> running;
  for (int i = 0; i < 3; ++i) running.push_back(acquire_heap());
  ASSERT_EQ(active_heaps(), 3);
  EXPECT_EQ(Depot<4>::full_limit(), 3u);
  Mag4::Cache cache{};
  const uint64_t spilled_before = heap.stats().spilled_blocks;
  const uint64_t refused_before = Depot<4>::stats(kClass).full_refused;
  // Enough frees to fill both magazines and four depot entries.
  const int total = 4 * (2 + 3 + 1);
  for (int i = 0; i < total; ++i) {
    auto* b = static_cast<FreeBlock*>(heap.alloc_block(kClass));
    if (!Mag4::try_free(cache, b, kClass)) Mag4::free_slow(cache, heap, b, kClass);
  }
  EXPECT_EQ(Depot<4>::stats(kClass).full, 3u);
  EXPECT_EQ(Depot<4>::stats(kClass).full_refused, refused_before + 1);
  EXPECT_EQ(heap.stats().spilled_blocks, spilled_before + 4) << "the refused magazine's rounds went home";
  // Two threads exit; when the third does, nobody is left to use the depot.
  release_heap(running[2]);
  release_heap(running[1]);
  Mag4::on_thread_exit(heap);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u);
  EXPECT_EQ(heap.stats().spilled_blocks, spilled_before + 16);
  release_heap(running[0]);
  Mag4::flush(cache, heap);
}

// The depot's order (magazine.h): a thread takes a full magazine of its own
// heap's blocks first, then its heap's blocks, and another heap's magazine
// only rather than a new slab. A consumer's magazine of a producer's blocks
// goes to the producer. (Before: any thread took any full magazine, and two
// threads of phase_change's burst swapped magazines and ran 2-3x slower in
// about half the runs, with remote frees of each other's blocks at every
// spill.)
TEST_F(LayerTest, TheDepotHandsAFullMagazineToItsBlocksHeapAndToOthersOnlyBeforeANewSlab) {
  std::vector<ThreadHeap*> running;  // two running threads: a limit of two
  for (int i = 0; i < 2; ++i) running.push_back(acquire_heap());
  ThreadHeap other{&manager}, third{&manager};
  Mag4::Cache consumer{}, consumer2{}, producer{}, newcomer{};
  // heap keeps a partial slab of the class: blocks of its own to refill from.
  void* own = heap.alloc_block(kClass);
  heap.free_block(static_cast<FreeBlock*>(own), slab_of(own));
  // The consumer (heap) frees nine of the producer's (other's) blocks:
  // loaded, previous, and one full magazine of other's blocks to the depot.
  auto consume = [&](Mag4::Cache& cache) {
    for (int i = 0; i < 9; ++i) {
      auto* b = static_cast<FreeBlock*>(other.alloc_block(kClass));
      if (!Mag4::try_free(cache, b, kClass)) Mag4::free_slow(cache, heap, b, kClass);
    }
  };
  consume(consumer);
  ASSERT_EQ(Depot<4>::stats(kClass).full, 1u);
  const uint64_t taken_before = Depot<4>::stats(kClass).full_taken;
  // The consumer allocates past its two magazines: its heap's blocks.
  std::vector<void*> got;
  for (int i = 0; i < 9; ++i) {
    void* p = Mag4::try_alloc(consumer, kClass);
    if (p == nullptr) p = Mag4::alloc_slow(consumer, heap, kClass);
    ASSERT_NE(p, nullptr);
    got.push_back(p);
  }
  EXPECT_EQ(slab_of(got.back())->owner, &heap) << "a block of its own heap";
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u) << "the producer's magazine waits for the producer";
  EXPECT_EQ(Depot<4>::stats(kClass).full_taken, taken_before);
  // The producer's next refill is that magazine: its own blocks.
  void* q = Mag4::alloc_slow(producer, other, kClass);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(slab_of(q)->owner, &other);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u);
  EXPECT_EQ(Depot<4>::stats(kClass).full_taken, taken_before + 1);
  // A thread whose heap has no block of the class takes another heap's
  // magazine rather than a new slab.
  consume(consumer2);
  ASSERT_EQ(Depot<4>::stats(kClass).full, 1u);
  void* r = Mag4::alloc_slow(newcomer, third, kClass);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(slab_of(r)->owner, &other);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u);
  EXPECT_EQ(third.stats().slabs_acquired, 0u);
  EXPECT_EQ(third.stats().refills, 0u) << "an empty look at the heap is not a refill";
  for (void* p : got) {
    if (!Mag4::try_free(consumer, static_cast<FreeBlock*>(p), kClass))
      Mag4::free_slow(consumer, heap, static_cast<FreeBlock*>(p), kClass);
  }
  Mag4::free_slow(producer, other, static_cast<FreeBlock*>(q), kClass);
  Mag4::free_slow(newcomer, third, static_cast<FreeBlock*>(r), kClass);
  Mag4::flush(consumer, heap);
  Mag4::flush(consumer2, heap);
  Mag4::flush(producer, other);
  Mag4::flush(newcomer, third);
  Depot<4>::trim(other);
  for (ThreadHeap* h : {&other, &third}) {
    h->collect_remote();
    h->release_empty_slabs();
  }
  for (ThreadHeap* h : running) release_heap(h);
}

// The depot's decay (magazine.h): a class nobody exchanged magazines of
// for a whole purge delay sends its full magazines home; one in use keeps
// them. (The depot is process-wide: clock readings far past any other
// test's.)
TEST_F(LayerTest, ADepotClassUnusedForADelaySendsItsFullMagazinesHome) {
  const uint64_t delay = Decay::delay_ms();
  const uint64_t t0 = uint64_t{1} << 40;
  Mag4::Cache cache{};
  const auto free_nine = [&] {  // loaded 4 -> swap -> 4 more -> previous to the depot
    for (int i = 0; i < 9; ++i) {
      auto* b = static_cast<FreeBlock*>(heap.alloc_block(kClass));
      if (!Mag4::try_free(cache, b, kClass)) Mag4::free_slow(cache, heap, b, kClass);
    }
  };
  free_nine();
  ASSERT_EQ(Depot<4>::stats(kClass).full, 1u);
  const uint64_t spilled_before = heap.stats().spilled_blocks;
  Mag4::purge_shared(heap, t0);  // sees the use: quiet since t0
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u) << "used before this pass";
  Mag4::purge_shared(heap, t0 + delay - 1);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u) << "unused for less than a delay";
  Mag4::purge_shared(heap, t0 + delay);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u) << "unused for a whole delay";
  EXPECT_EQ(heap.stats().spilled_blocks, spilled_before + 4) << "its rounds went home";

  Mag4::flush(cache, heap);
  free_nine();  // used again
  ASSERT_EQ(Depot<4>::stats(kClass).full, 1u);
  Mag4::purge_shared(heap, t0 + 2 * delay);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u) << "a class in use keeps its magazines";
  Mag4::purge_shared(heap, t0 + 3 * delay - 1);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u);
  Mag4::purge_shared(heap, t0 + 3 * delay);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u);
  Mag4::flush(cache, heap);
}

// Issue 12's settle probe: growth's drain left full magazines in the depot
// just after a pass, and with passes once per delay they went home two
// delays later, so their slabs were purged too late for the settle step in
// some runs. The pass runs every granule now: a class used just after one
// pass goes home one delay after the next, not two.
TEST_F(LayerTest, ADepotClassUsedJustAfterAPassGoesHomeOneDelayAfterTheNextPass) {
  const uint64_t delay = Decay::delay_ms();
  const uint64_t granule = Decay::granule_ms();
  const uint64_t t0 = uint64_t{1} << 42;  // past the other decay tests' readings
  Mag4::Cache cache{};
  Mag4::purge_shared(heap, t0);  // a pass before the class is used
  for (int i = 0; i < 9; ++i) {  // as a worker exits: a full magazine to the depot
    auto* b = static_cast<FreeBlock*>(heap.alloc_block(kClass));
    if (!Mag4::try_free(cache, b, kClass)) Mag4::free_slow(cache, heap, b, kClass);
  }
  ASSERT_EQ(Depot<4>::stats(kClass).full, 1u);
  Mag4::purge_shared(heap, t0 + granule);  // the next granule's pass sees the use
  Mag4::purge_shared(heap, t0 + granule + delay - 1);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 1u) << "unused for less than a delay since the pass that saw it";
  Mag4::purge_shared(heap, t0 + granule + delay);
  EXPECT_EQ(Depot<4>::stats(kClass).full, 0u) << "home one granule and one delay after its last use";
  Mag4::flush(cache, heap);
}

// Issue 12's settle probe, second half: the slabs that the depot's decay
// pass empties went back to the SuperSlab manager stamped "freed now", so
// their pages waited one more delay, and growth's RSS came back about three
// delays after its drain. Their last blocks sat unused in the depot for a
// delay already: such a slab goes back to the OS at once. Here the blocks'
// owner has exited (as growth's workers had), so another thread's pass
// sends them home and empties the slab.
TEST_F(LayerTest, ASlabThatTheDepotsDecayPassEmptiesGoesBackToTheOsAtOnce) {
  const uint64_t delay = Decay::delay_ms();
  const uint64_t t0 = uint64_t{1} << 44;  // past the other decay tests' readings
  ThreadHeap other{&manager};
  Mag4::Cache cache{};
  for (int i = 0; i < 9; ++i) {  // a full magazine of heap's blocks to the depot
    auto* b = static_cast<FreeBlock*>(heap.alloc_block(kClass));
    if (!Mag4::try_free(cache, b, kClass)) Mag4::free_slow(cache, heap, b, kClass);
  }
  ASSERT_EQ(Depot<4>::stats(kClass).full, 1u);
  Mag4::flush(cache, heap);
  heap.abandon();  // its thread exits; the depot's rounds keep its slab
  ASSERT_EQ(manager.stats().slabs_in_use, 1);
  const int64_t purged_before = manager.stats().purged_slabs;
  Mag4::purge_shared(other, t0);
  Mag4::purge_shared(other, t0 + delay);
  ASSERT_EQ(Depot<4>::stats(kClass).full, 0u) << "unused for a delay: home";
  const SuperSlabStats after = manager.stats();
  EXPECT_EQ(after.slabs_in_use, 0) << "the last blocks came home and emptied the slab";
  EXPECT_EQ(after.dirty_free_slabs, 0) << "not kept dirty for another delay";
  EXPECT_EQ(after.purged_slabs + after.superslabs_unmapped, purged_before + 1) << "its pages went back at once";
  heap.adopt();
}

// Issue 12 follow-up (settle): the decay pass also gives an idle class's
// empty magazines to the pool (whose free pages it then purges), where an
// exited thread's magazines used to stay on the depot's empty stack.
TEST_F(LayerTest, ADepotClassUnusedForADelayGivesItsEmptyMagazinesToThePool) {
  const uint64_t delay = Decay::delay_ms();
  const uint64_t t0 = uint64_t{1} << 45;  // past the other decay tests' readings
  Depot<4>::trim(heap);
  Mag4::Cache cache{};
  void* p = Mag4::alloc_slow(cache, heap, kClass);  // attaches two magazines
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(Mag4::try_free(cache, static_cast<FreeBlock*>(p), kClass));
  Mag4::flush(cache, heap);  // as a thread exits: both to the depot's empty stack
  ASSERT_EQ(Depot<4>::stats(kClass).empty, 2u);
  Mag4::purge_shared(heap, t0);
  Mag4::purge_shared(heap, t0 + delay - 1);
  Mag4::purge_shared(heap, t0 + delay);
  EXPECT_EQ(Depot<4>::stats(kClass).empty, 0u) << "unused for a whole delay: to the pool";
  Magazine<4>* m = Depot<4>::take_empty(kClass, heap);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->count, 0u);
  Depot<4>::put_empty(kClass, m);
}

TEST_F(LayerTest, TheDepotKeepsAtMostItsLimitOfEmptyMagazines) {
  std::vector<Magazine<4>*> mags;
  for (uint32_t i = 0; i < kDepotMaxEmpty + 3; ++i) mags.push_back(Depot<4>::take_empty(kClass, heap));
  const uint64_t released_before = Depot<4>::stats(kClass).empty_released;
  for (auto* m : mags) Depot<4>::put_empty(kClass, m);
  EXPECT_EQ(Depot<4>::stats(kClass).empty, kDepotMaxEmpty);
  EXPECT_EQ(Depot<4>::stats(kClass).empty_released, released_before + 3);
}

TEST_F(LayerTest, FlushSendsEveryRoundHome) {
  Mag4::Cache cache{};
  for (int i = 0; i < 7; ++i) {
    auto* b = static_cast<FreeBlock*>(heap.alloc_block(kClass));
    if (!Mag4::try_free(cache, b, kClass)) Mag4::free_slow(cache, heap, b, kClass);
  }
  Mag4::flush(cache, heap);
  EXPECT_EQ(cache.slots[kClass].loaded, nullptr);
  EXPECT_EQ(cache.slots[kClass].capacity, 0u) << "a flushed slot takes the slow path again";
  heap.release_empty_slabs();
  EXPECT_EQ(manager.stats().slabs_in_use, 0);
}

// Takes every free magazine out of the pool, so that its next get() must
// map a chunk through the Pal it is handed.
std::vector<Magazine<4>*> drain_pool(Pal& pal) {
  std::vector<Magazine<4>*> held;
  while (!MagazinePool<4>::empty()) held.push_back(MagazinePool<4>::get(pal));
  return held;
}

void refill_pool(const std::vector<Magazine<4>*>& held) {
  for (Magazine<4>* m : held) MagazinePool<4>::put(m);
}

TEST_F(LayerTest, APoolWhosePalRefusesAChunkReturnsNullAndRecovers) {
  std::vector<Magazine<4>*> held = drain_pool(pal);
  const int64_t maps = pal.maps();
  pal.fail_next_maps(1);
  EXPECT_EQ(MagazinePool<4>::get(pal), nullptr);
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(pal.maps(), maps);
  Magazine<4>* m = MagazinePool<4>::get(pal);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(pal.maps(), maps + 1) << "the next get maps a chunk through the same Pal";
  EXPECT_EQ(m->count, 0u);
  held.push_back(m);
  refill_pool(held);
}

bool page_resident(const void* page) {
  unsigned char v = 0;
  return mincore(const_cast<void*>(page), kPageSize, &v) == 0 && (v & 1) != 0;
}

// Issue 12 follow-up (settle): the pool's chunks were carved whole into a
// list through their magazines, so every page was written at once and the
// magazines of exited threads stayed resident for good. A fresh chunk's
// magazines are handed out lowest first, touching only their own pages,
// and purge_free() returns every page that holds no handed-out magazine,
// once; a magazine on a purged page comes back usable. A Rounds no other
// test uses gives this test a pool of its own.
TEST_F(LayerTest, ThePoolTouchesOnlyHandedOutMagazinesAndPurgesThePagesOfFreeOnes) {
  using Pool = MagazinePool<100>;  // 832-byte magazines
  Magazine<100>* first = Pool::get(pal);
  ASSERT_NE(first, nullptr);
  auto* chunk = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(first) & ~(uintptr_t{64 * 1024} - 1));
  EXPECT_LT(reinterpret_cast<char*>(first), chunk + kPageSize) << "the lowest magazine first";
  for (int page = 2; page < 16; ++page) EXPECT_FALSE(page_resident(chunk + page * kPageSize)) << "page " << page;
  std::vector<Magazine<100>*> held{first};
  for (int i = 0; i < 39; ++i) held.push_back(Pool::get(pal));  // 40 x 832 B: pages 0-8
  Magazine<100>* kept = held[20];
  for (uint32_t i = 0; i < 100; ++i) kept->rounds[i] = &kept->rounds[i];
  auto page_of = [&](const void* p) { return (static_cast<const char*>(p) - chunk) / static_cast<long>(kPageSize); };
  const long kept_first = page_of(kept), kept_last = page_of(&kept->rounds[99]);
  for (Magazine<100>* m : held)
    if (m != kept) Pool::put(m);
  const int64_t purges = pal.purges();
  const uint32_t purged = Pool::purge_free(pal);
  EXPECT_EQ(pal.purges(), purges + purged);
  // Pages 1..8 were touched; those the kept magazine is not on go back.
  EXPECT_EQ(purged, static_cast<uint32_t>(8 - (kept_last - kept_first + 1)));
  for (long page = 1; page < 9; ++page) {
    const bool on_kept = page >= kept_first && page <= kept_last;
    EXPECT_EQ(page_resident(chunk + page * kPageSize), on_kept) << "page " << page;
  }
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(kept->rounds[i], &kept->rounds[i]) << "the kept magazine is intact";
  EXPECT_EQ(Pool::purge_free(pal), 0u) << "a purged page is not purged again";
  Magazine<100>* again = Pool::get(pal);
  EXPECT_EQ(again, first) << "the lowest free magazine, on a purged page";
  EXPECT_EQ(again->count, 0u);
  again->rounds[0] = again;
  Pool::put(again);
  Pool::put(kept);
  EXPECT_GE(Pool::purge_free(pal), 1u) << "pages touched again are purged again";
}

TEST_F(LayerTest, WithoutMagazineMemoryTheMagazineLayerGoesStraightToTheHeap) {
  Depot<4>::trim(heap);  // no empty magazines in the depot either
  const std::vector<Magazine<4>*> held = drain_pool(pal);
  Mag4::Cache cache{};
  const auto& s = cache.slots[kClass];
  pal.fail_next_maps(1);
  void* p = Mag4::alloc_slow(cache, heap, kClass);
  ASSERT_NE(p, nullptr) << "the heap serves the block";
  EXPECT_EQ(pal.failed_maps(), 1) << "the magazine chunk was asked of the heap's Pal";
  EXPECT_EQ(block_class(p), kClass);
  EXPECT_EQ(s.loaded, nullptr);
  EXPECT_EQ(s.capacity, 0u) << "no magazine attached: the fast paths keep missing";
  EXPECT_FALSE(Mag4::try_free(cache, static_cast<FreeBlock*>(p), kClass));
  pal.fail_next_maps(1);
  Mag4::free_slow(cache, heap, static_cast<FreeBlock*>(p), kClass);
  EXPECT_EQ(pal.failed_maps(), 2);
  EXPECT_EQ(slab_of(p)->used, 0u) << "the block went straight home to its slab";
  Mag4::flush(cache, heap);
  refill_pool(held);
}

TEST_F(LayerTest, WithOneMagazineAndNoMemoryForASecondTheLayerServesFromTheHeapAndCachesFrees) {
  Depot<4>::trim(heap);
  std::vector<Magazine<4>*> held = drain_pool(pal);
  ASSERT_FALSE(held.empty());
  MagazinePool<4>::put(held.back());  // the pool holds exactly one magazine
  held.pop_back();
  Mag4::Cache cache{};
  const auto& s = cache.slots[kClass];
  pal.fail_next_maps(1);
  void* p = Mag4::alloc_slow(cache, heap, kClass);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pal.failed_maps(), 1) << "the second magazine was refused";
  ASSERT_NE(s.loaded, nullptr);
  EXPECT_EQ(s.previous, nullptr);
  EXPECT_EQ(s.count, 0u) << "the one magazine was not filled: the block came from the heap";
  EXPECT_TRUE(Mag4::try_free(cache, static_cast<FreeBlock*>(p), kClass)) << "the loaded magazine caches frees";
  // Once the Pal gives memory again, the next slow path attaches the second.
  void* q = Mag4::try_alloc(cache, kClass);
  EXPECT_EQ(q, p);
  EXPECT_EQ(Mag4::try_alloc(cache, kClass), nullptr);
  q = Mag4::alloc_slow(cache, heap, kClass);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(s.previous, nullptr);
  Mag4::free_slow(cache, heap, static_cast<FreeBlock*>(p), kClass);
  ASSERT_TRUE(Mag4::try_free(cache, static_cast<FreeBlock*>(q), kClass));
  Mag4::flush(cache, heap);
  refill_pool(held);
}

using Hot4 = HotLayer<4, FreeListLayer<8, 16>>;

TEST_F(LayerTest, HotArrayOverflowMovesTheOldestHalfDown) {
  Hot4::Cache cache{};
  auto* first = static_cast<FreeBlock*>(heap.alloc_block(kClass));
  EXPECT_FALSE(Hot4::try_free(cache, first, kClass)) << "uninitialised: slow path";
  Hot4::init(cache);
  std::vector<FreeBlock*> blocks = {first};
  for (int i = 0; i < 4; ++i) blocks.push_back(static_cast<FreeBlock*>(heap.alloc_block(kClass)));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Hot4::try_free(cache, blocks[i], kClass));
  ASSERT_FALSE(Hot4::try_free(cache, blocks[4], kClass));
  Hot4::free_slow(cache, heap, blocks[4], kClass);
  const uint32_t& count = cache.count[kClass];
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(cache.next.lists[kClass].count, 2u);
  EXPECT_EQ(cache.slots[kClass][0], blocks[2]) << "the two oldest moved down; the rest shifted";
  EXPECT_EQ(cache.slots[kClass][2], blocks[4]);
  // Allocation drains the hot array, then takes half an array from below.
  std::vector<void*> held;
  for (int i = 0; i < 3; ++i) held.push_back(Hot4::try_alloc(cache, kClass));
  EXPECT_EQ(held, (std::vector<void*>{blocks[4], blocks[3], blocks[2]}));
  EXPECT_EQ(Hot4::try_alloc(cache, kClass), nullptr);
  held.push_back(Hot4::alloc_slow(cache, heap, kClass));
  EXPECT_TRUE(held.back() == blocks[0] || held.back() == blocks[1]);
  EXPECT_EQ(count, 1u) << "two came up from below, one was returned";
  EXPECT_EQ(cache.next.lists[kClass].count, 0u);
  for (void* b : held) {
    if (!Hot4::try_free(cache, static_cast<FreeBlock*>(b), kClass))
      Hot4::free_slow(cache, heap, static_cast<FreeBlock*>(b), kClass);
  }
  Hot4::flush(cache, heap);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(cache.limit[kClass], 4u) << "flush leaves a live thread's cache usable";
}

TEST_F(LayerTest, HotArrayOverMagazinesOverflowsIntoTheLoadedMagazine) {
  using HotMag = HotLayer<4, Mag4>;
  HotMag::Cache cache{};
  HotMag::init(cache);
  for (int i = 0; i < 5; ++i) {
    auto* b = static_cast<FreeBlock*>(heap.alloc_block(kClass));
    if (!HotMag::try_free(cache, b, kClass)) HotMag::free_slow(cache, heap, b, kClass);
  }
  EXPECT_EQ(cache.count[kClass], 3u);
  EXPECT_EQ(cache.next.slots[kClass].count, 2u);
  HotMag::flush(cache, heap);
  heap.release_empty_slabs();
  EXPECT_EQ(manager.stats().slabs_in_use, 0);
}

TEST_F(LayerTest, AHotArrayOverMagazinesWithoutMagazineMemoryServesAndFreesThroughTheHeap) {
  using HotMag = HotLayer<4, Mag4>;
  Depot<4>::trim(heap);
  const std::vector<Magazine<4>*> held = drain_pool(pal);
  HotMag::Cache cache{};
  HotMag::init(cache);
  pal.fail_next_maps(1);
  auto* first = static_cast<FreeBlock*>(HotMag::alloc_slow(cache, heap, kClass));
  ASSERT_NE(first, nullptr) << "pop_many falls back to the heap";
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(cache.count[kClass], 0u);
  std::vector<FreeBlock*> blocks = {first};
  for (int i = 0; i < 4; ++i) blocks.push_back(static_cast<FreeBlock*>(heap.alloc_block(kClass)));
  SlabMeta* slab = slab_of(first);
  ASSERT_EQ(slab->used, 5u);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(HotMag::try_free(cache, blocks[i], kClass));
  pal.fail_next_maps(1);
  HotMag::free_slow(cache, heap, blocks[4], kClass);  // overflow: half the array moves down
  EXPECT_EQ(pal.failed_maps(), 2);
  EXPECT_EQ(cache.count[kClass], 3u);
  EXPECT_EQ(cache.next.slots[kClass].count, 0u) << "no magazine to take them";
  EXPECT_EQ(slab->used, 3u) << "push_many sent the two oldest home";
  HotMag::flush(cache, heap);
  refill_pool(held);
}

// The learner's sizes (config/tunables.h) reach a front end on its slow
// paths: a free list takes its new limit and refill batch at the next
// retune and refill, and spills what is over its new limit.
TEST_F(LayerTest, AFreeListTakesPublishedSizesAtItsRetuneAndRefill) {
  using FL = FreeListLayer<8, 16>;
  FL::Cache cache{};
  FL::init(cache);
  FreeList& list = cache.lists[kClass];
  EXPECT_EQ(list.limit, 16u) << "the layout while nothing is published";
  std::vector<void*> blocks;
  for (int i = 0; i < 16; ++i) {
    void* p = FL::try_alloc(cache, kClass);
    blocks.push_back(p != nullptr ? p : FL::alloc_slow(cache, heap, kClass));
  }
  for (void* p : blocks) ASSERT_TRUE(FL::try_free(cache, static_cast<FreeBlock*>(p), kClass));
  ASSERT_EQ(list.count, 16u);
  tunables::set(tunables::Tunable::kTinyCache, kClass, 6);
  tunables::set(tunables::Tunable::kTinyRefill, kClass, 3);
  tunables::published();
  EXPECT_EQ(list.limit, 16u) << "nothing changes before the slow path runs";
  FL::retune(cache, heap);
  EXPECT_EQ(list.limit, 6u);
  EXPECT_EQ(list.count, 6u) << "the 10 coldest blocks went home";
  EXPECT_EQ(cache.lists[kClass + 1].limit, 16u) << "a class with nothing published keeps its layout";
  blocks.clear();
  while (void* p = FL::try_alloc(cache, kClass)) blocks.push_back(p);
  blocks.push_back(FL::alloc_slow(cache, heap, kClass));
  EXPECT_EQ(list.count, 2u) << "a refill of 3 blocks, one handed out";
  // A full list spills down to its limit less one refill batch.
  for (void* p : blocks) FL::free_slow(cache, heap, static_cast<FreeBlock*>(p), kClass);
  EXPECT_LE(list.count, 6u);
  tunables::reset();
  FL::flush(cache, heap);
}

// A magazine takes the published capacity when it is loaded empty, and a
// refill fills it with the published batch; a full magazine keeps the size
// it was filled to, so the previous-is-full-or-empty exchange still holds.
TEST_F(LayerTest, AMagazineLoadedEmptyTakesThePublishedCapacityAndRefillBatch) {
  using Mag8 = MagazineLayer<8>;
  Mag8::Cache cache{};
  tunables::set(tunables::Tunable::kTinyCache, kClass, 5);
  tunables::set(tunables::Tunable::kTinyRefill, kClass, 3);
  tunables::published();
  void* p = Mag8::alloc_slow(cache, heap, kClass);
  auto& s = cache.slots[kClass];
  EXPECT_EQ(s.capacity, 5u);
  EXPECT_EQ(s.count, 2u) << "a refill of 3, one handed out";
  std::vector<void*> blocks = {p};
  while (void* q = Mag8::try_alloc(cache, kClass)) blocks.push_back(q);
  for (int i = 0; i < 7; ++i) blocks.push_back(heap.alloc_block(kClass));
  // 10 frees: loaded fills (5), swaps with the empty previous, fills again.
  for (void* q : blocks) {
    if (!Mag8::try_free(cache, static_cast<FreeBlock*>(q), kClass))
      Mag8::free_slow(cache, heap, static_cast<FreeBlock*>(q), kClass);
  }
  EXPECT_EQ(s.previous->count, 5u) << "full at its capacity";
  EXPECT_EQ(s.count, 5u);
  // A larger capacity published now: the full magazines keep 5; the next
  // magazine loaded empty takes 8 (the most a Magazine<8> holds, whatever
  // is published).
  tunables::set(tunables::Tunable::kTinyCache, kClass, 100);
  tunables::published();
  Mag8::retune(cache, heap);
  EXPECT_EQ(s.capacity, 5u);
  void* extra = heap.alloc_block(kClass);
  Mag8::free_slow(cache, heap, static_cast<FreeBlock*>(extra), kClass);
  EXPECT_EQ(s.capacity, 8u) << "the empty magazine from the depot, loaded at the new capacity";
  EXPECT_EQ(Depot<8>::stats(kClass).full, 1u) << "the full previous went to the depot with its 5 rounds";
  tunables::reset();
  Mag8::flush(cache, heap);
  Depot<8>::trim(heap);
}

}  // namespace
}  // namespace hakmem
