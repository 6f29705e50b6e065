#include "allocator/backend/superslab_manager.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "allocator/backend/class_map.h"
#include "allocator/config/options.h"
#include "allocator/pal/fake_pal.h"
#include "common/process.h"

namespace hakmem {
namespace {

constexpr unsigned kUsableSlots = kSlabsPerSuperSlab - kFirstBlockSlot;
constexpr uint64_t kGranuleMs = 7;  // of HAKMEM_PURGE_DELAY_MS=100: 100 / 15, rounded up (decay.h)
SlabOwner owner;

class SuperSlabManagerTest : public testing::Test {
 protected:
  void SetUp() override {
    setenv("HAKMEM_PURGE_DELAY_MS", "100", 1);
    setenv("HAKMEM_SUPERSLAB_CACHE", "1", 1);
    setenv("HAKMEM_DEBUG", "2", 1);
    options_reload();
  }
  void TearDown() override {
    manager.trim();
    EXPECT_EQ(pal.mapped_bytes(), 0);
    unsetenv("HAKMEM_PURGE_DELAY_MS");
    unsetenv("HAKMEM_SUPERSLAB_CACHE");
    unsetenv("HAKMEM_SUPERSLAB_KIB");
    unsetenv("HAKMEM_DEBUG");
    options_reload();
  }
  FakePal pal;
  SuperSlabManager manager{&pal};
};

TEST_F(SuperSlabManagerTest, ASlabIsCarvedFromAnAlignedSuperSlab) {
  SlabMeta* slab = manager.acquire_slab(3, &owner);
  ASSERT_NE(slab, nullptr);
  EXPECT_EQ(pal.maps(), 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(superslab_of(slab->start)) % kSuperSlabSize, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(slab->start) % kSlabSize, 0u);
  EXPECT_GE(slab->slot, kFirstBlockSlot);
  EXPECT_EQ(slab->capacity, class_capacity(3));
  EXPECT_EQ(slab->owner, &owner);
  manager.check(nullptr);
  manager.release_slab(slab);
}

TEST_F(SuperSlabManagerTest, EveryAddressInASlabMapsBackToItsMetadataAndClass) {
  SlabMeta* a = manager.acquire_slab(0, &owner);
  SlabMeta* b = manager.acquire_slab(kSlabClasses - 1, &owner);
  for (SlabMeta* slab : {a, b}) {
    for (size_t offset = 0; offset < kSlabSize; offset += 16) {
      const char* p = slab->start + offset;
      ASSERT_EQ(slab_of(p), slab) << offset;
      ASSERT_EQ(block_class(p), slab->size_class) << offset;
      ASSERT_FALSE(is_region_start(p));
    }
  }
  EXPECT_EQ(superslab_of(a->start)->region.slot_class[0], kHeaderClass);
  manager.release_slab(a);
  EXPECT_EQ(block_class(a->start), kFreeSlotClass);
  manager.release_slab(b);
}

TEST_F(SuperSlabManagerTest, ThirtyOneSlabsPerSuperSlab) {
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < kUsableSlots; ++i) slabs.push_back(manager.acquire_slab(i % kSlabClasses, &owner));
  EXPECT_EQ(pal.maps(), 1);
  slabs.push_back(manager.acquire_slab(0, &owner));
  EXPECT_EQ(pal.maps(), 2);
  EXPECT_EQ(manager.stats().slabs_in_use, static_cast<int64_t>(kUsableSlots + 1));
  manager.check(nullptr);
  for (SlabMeta* slab : slabs) manager.release_slab(slab);
  // Both SuperSlabs are empty; within the delay both stay mapped.
  EXPECT_EQ(pal.unmaps(), 0);
  EXPECT_EQ(manager.stats().superslabs_mapped, 2);
  manager.trim();
  EXPECT_EQ(pal.unmaps(), 2);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// The decay schedule: released slabs keep their pages until the delay has
// passed since the reading that closed their generation (at most one
// granule, 7 ms of 100, after the release), then the next pass purges
// every one of them, adjacent slots in one call.
TEST_F(SuperSlabManagerTest, DirtySlabsArePurgedOnceTheDelayHasPassed) {
  std::vector<SlabMeta*> slabs;
  for (int i = 0; i < 10; ++i) slabs.push_back(manager.acquire_slab(0, &owner));
  for (int i = 0; i < 5; ++i) manager.release_slab(slabs[i]);  // at t = 0
  manager.purge_expired(pal.now_ms());
  pal.advance_ms(kGranuleMs);
  manager.purge_expired(pal.now_ms());  // closes the releases' generation at t = 7
  pal.advance_ms(99);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.purges(), 0) << "nothing purged before the delay";
  EXPECT_EQ(manager.stats().dirty_free_slabs, 5);
  pal.advance_ms(1);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.purges(), 1) << "five adjacent slots, one call";
  EXPECT_EQ(pal.purged_bytes(), static_cast<int64_t>(5 * kSlabSize));
  EXPECT_EQ(manager.stats().dirty_free_slabs, 0);
  EXPECT_EQ(manager.stats().purged_slabs, 5);
  EXPECT_EQ(pal.unmaps(), 0) << "the SuperSlab is in use";
  for (int i = 5; i < 10; ++i) manager.release_slab(slabs[i]);
}

// Without a background thread the passes run on slab events: the clock is
// read once per kEventsPerClockRead of them (4).
TEST_F(SuperSlabManagerTest, SlabEventsTickThePurge) {
  static_assert(SuperSlabManager::kEventsPerClockRead == 4);
  std::vector<SlabMeta*> slabs;
  for (int i = 0; i < 12; ++i) slabs.push_back(manager.acquire_slab(0, &owner));  // events 1-12, t = 0
  manager.release_slab(slabs[0]);                                                 // 13
  pal.advance_ms(kGranuleMs);
  for (int i = 1; i <= 3; ++i) manager.release_slab(slabs[i]);  // the 16th reads t = 7: closes all four's generation
  pal.advance_ms(100);
  for (int i = 4; i <= 6; ++i) manager.release_slab(slabs[i]);
  EXPECT_EQ(pal.purges(), 0) << "no reading since t = 7";
  manager.release_slab(slabs[7]);  // the 20th reads t = 107
  EXPECT_EQ(pal.purges(), 1);
  EXPECT_EQ(pal.purged_bytes(), static_cast<int64_t>(4 * kSlabSize));
  EXPECT_EQ(manager.stats().dirty_free_slabs, 4) << "the four released at t = 107 are young";
  for (int i = 8; i < 12; ++i) manager.release_slab(slabs[i]);
}

// A slot reused before its delay starts it again when it is released
// again: never purged sooner than a delay after its last release, and
// purged at most a granule and two gaps between readings after that.
TEST_F(SuperSlabManagerTest, AReusedSlotStartsItsDelayAgain) {
  SlabMeta* keep = manager.acquire_slab(0, &owner);
  SlabMeta* slab = manager.acquire_slab(0, &owner);
  manager.release_slab(slab);
  uint64_t released_ms = 0;
  for (int ms = 1; ms <= 400 && pal.purges() == 0; ++ms) {
    pal.advance_ms(1);
    if (ms == 60) {
      EXPECT_EQ(manager.acquire_slab(0, &owner), slab) << "the dirty slot is reused";
      manager.release_slab(slab);
      released_ms = pal.now_ms();
    }
    manager.purge_expired(pal.now_ms());
  }
  EXPECT_EQ(pal.purges(), 1);
  EXPECT_GE(pal.now_ms(), released_ms + 100);
  EXPECT_LE(pal.now_ms(), released_ms + 100 + kGranuleMs + 2);
  manager.release_slab(keep);
}

TEST_F(SuperSlabManagerTest, EmptySuperSlabsBeyondTheCacheAreUnmappedOnceTheDelayHasPassed) {
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < 3 * kUsableSlots; ++i) slabs.push_back(manager.acquire_slab(0, &owner));
  EXPECT_EQ(pal.maps(), 3);
  for (SlabMeta* slab : slabs) manager.release_slab(slab);
  pal.advance_ms(kGranuleMs);
  manager.purge_expired(pal.now_ms());
  pal.advance_ms(99);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.unmaps(), 0);
  EXPECT_EQ(manager.stats().superslabs_mapped, 3);
  pal.advance_ms(1);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.unmaps(), 2) << "HAKMEM_SUPERSLAB_CACHE=1 keeps one";
  const SuperSlabStats s = manager.stats();
  EXPECT_EQ(s.superslabs_mapped, 1);
  EXPECT_EQ(s.dirty_free_slabs, 0) << "the kept one is purged";
  EXPECT_EQ(pal.purged_bytes(), static_cast<int64_t>(kUsableSlots * kSlabSize));
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kSuperSlabSize));
}

TEST_F(SuperSlabManagerTest, ZeroDelayPurgesAtReleaseAndUnmapsBeyondTheCache) {
  setenv("HAKMEM_PURGE_DELAY_MS", "0", 1);
  options_reload();
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < 2 * kUsableSlots; ++i) slabs.push_back(manager.acquire_slab(0, &owner));
  manager.release_slab(slabs[0]);
  EXPECT_EQ(pal.purges(), 1);
  EXPECT_EQ(manager.stats().dirty_free_slabs, 0);
  for (unsigned i = 1; i < slabs.size(); ++i) manager.release_slab(slabs[i]);
  EXPECT_EQ(pal.unmaps(), 1) << "the second empty SuperSlab, at once";
  EXPECT_EQ(manager.stats().superslabs_mapped, 1);
}

// SlabAge::kIdle: a slab whose last blocks sat idle in a cache for a delay
// goes back as with a zero delay, while other releases still wait it out.
TEST_F(SuperSlabManagerTest, AnIdleReleasePurgesAtOnceAndUnmapsBeyondTheCache) {
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < 2 * kUsableSlots; ++i) slabs.push_back(manager.acquire_slab(0, &owner));
  manager.release_slab(slabs[0]);
  manager.release_slab(slabs[1], SlabAge::kIdle);
  EXPECT_EQ(pal.purges(), 1) << "only the idle one";
  EXPECT_EQ(manager.stats().dirty_free_slabs, 1) << "the fresh one waits out the delay";
  for (unsigned i = 2; i < kUsableSlots; ++i) manager.release_slab(slabs[i], SlabAge::kIdle);
  EXPECT_EQ(pal.unmaps(), 0) << "the first empty SuperSlab is within the cache";
  for (unsigned i = kUsableSlots; i < slabs.size(); ++i) manager.release_slab(slabs[i], SlabAge::kIdle);
  EXPECT_EQ(pal.unmaps(), 1) << "the second empty SuperSlab, at once";
  EXPECT_EQ(manager.stats().superslabs_mapped, 1);
  EXPECT_EQ(manager.stats().dirty_free_slabs, 1);
  pal.advance_ms(kGranuleMs);
  manager.purge_expired(pal.now_ms());
  pal.advance_ms(100);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(manager.stats().dirty_free_slabs, 0) << "the fresh one, once the delay has passed";
  EXPECT_EQ(manager.stats().superslabs_mapped, 1) << "the cache keeps one";
}

// RSS on the real kernel (FakePal maps real memory; only its clock is
// set by the test): the pages of released slabs stay resident through the
// delay and are returned after it.
TEST_F(SuperSlabManagerTest, RssFallsOnceTheDelayHasPassed) {
  constexpr unsigned kSlabs = 4 * kUsableSlots;  // 7.75 MiB
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < kSlabs; ++i) {
    slabs.push_back(manager.acquire_slab(0, &owner));
    memset(slabs.back()->start, 1, kSlabSize);
  }
  for (SlabMeta* slab : slabs) manager.release_slab(slab);
  const std::optional<int64_t> held = lab::current_rss_bytes();
  ASSERT_TRUE(held.has_value());
  pal.advance_ms(kGranuleMs);
  manager.purge_expired(pal.now_ms());
  pal.advance_ms(99);
  manager.purge_expired(pal.now_ms());
  const int64_t before_delay = *lab::current_rss_bytes();
  EXPECT_GT(before_delay, *held - static_cast<int64_t>(kSlabs * kSlabSize / 4)) << "kept through the delay";
  pal.advance_ms(1);
  manager.purge_expired(pal.now_ms());
  const int64_t after = *lab::current_rss_bytes();
  EXPECT_LT(after, before_delay - static_cast<int64_t>(kSlabs * kSlabSize * 3 / 4)) << "returned after it";
}

TEST_F(SuperSlabManagerTest, ADirtySlotIsReusedBeforeAClean) {
  SlabMeta* a = manager.acquire_slab(0, &owner);
  SlabMeta* b = manager.acquire_slab(0, &owner);
  manager.release_slab(b);
  SlabMeta* c = manager.acquire_slab(5, &owner);
  EXPECT_EQ(c, b) << "the freed slot's pages are resident; it should be reused first";
  manager.release_slab(a);
  manager.release_slab(c);
}

TEST_F(SuperSlabManagerTest, MapFailureReturnsNullAndRecovers) {
  pal.fail_next_maps(1);
  EXPECT_EQ(manager.acquire_slab(0, &owner), nullptr);
  EXPECT_EQ(manager.stats().map_failures, 1);
  EXPECT_EQ(pal.failed_maps(), 1);
  SlabMeta* slab = manager.acquire_slab(0, &owner);
  ASSERT_NE(slab, nullptr);
  manager.release_slab(slab);
}

// Once a process has SuperSlabs, one mapping brings several: half as many
// as it has, at most kMaxMapBatch (fewer mmaps, so fewer waits of other
// threads' page faults on the kernel's mmap lock). Each is still its own
// SuperSlab: aligned, on the clean list, and unmapped on its own.
TEST_F(SuperSlabManagerTest, LaterSuperSlabsAreMappedInBatchesAndUnmappedOneByOne) {
  std::vector<SlabMeta*> slabs;
  std::vector<SuperSlab*> seen;
  // 40 SuperSlabs' worth of slabs: mapped 1, 1, 1, 1 (4 of them), 2, 3, 4, 6, 8, 8, 8 at most.
  for (unsigned i = 0; i < 40 * kUsableSlots; ++i) {
    SlabMeta* slab = manager.acquire_slab(i % kSlabClasses, &owner);
    ASSERT_NE(slab, nullptr);
    slabs.push_back(slab);
    SuperSlab* ss = superslab_of(slab->start);
    if (seen.empty() || seen.back() != ss) seen.push_back(ss);
  }
  EXPECT_EQ(manager.stats().superslabs_mapped, 43) << "the last batch of 8 brought 3 not yet used";
  EXPECT_EQ(pal.maps(), 11);
  EXPECT_EQ(seen.size(), 40u) << "every SuperSlab filled before the next is used";
  for (SuperSlab* ss : seen) EXPECT_EQ(reinterpret_cast<uintptr_t>(ss) % kSuperSlabSize, 0u);
  manager.check(nullptr);
  // The one slab of the 20th SuperSlab (in the middle of a batch) goes
  // back: trim unmaps that SuperSlab alone, and its neighbours still work.
  manager.release_slab(slabs[19 * kUsableSlots]);
  const int64_t unmaps = pal.unmaps();
  for (unsigned i = 19 * kUsableSlots + 1; i < 20 * kUsableSlots; ++i) manager.release_slab(slabs[i]);
  manager.trim();
  EXPECT_EQ(pal.unmaps() - unmaps, 4) << "the 20th and the 3 unused of the last batch";
  EXPECT_EQ(manager.stats().superslabs_mapped, 39);
  for (unsigned i = 18 * kUsableSlots; i < 19 * kUsableSlots; ++i) {
    *reinterpret_cast<volatile char*>(slabs[i]->start) = 1;  // the neighbours stay mapped
  }
  manager.check(nullptr);
  for (unsigned i = 0; i < slabs.size(); ++i) {
    if (i / kUsableSlots != 19) manager.release_slab(slabs[i]);
  }
}

// A batch the OS refuses is asked for again as one SuperSlab.
TEST_F(SuperSlabManagerTest, ARefusedBatchFallsBackToOneSuperSlab) {
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < 4 * kUsableSlots; ++i) slabs.push_back(manager.acquire_slab(0, &owner));
  ASSERT_EQ(manager.stats().superslabs_mapped, 4);
  pal.fail_next_maps(1);
  SlabMeta* slab = manager.acquire_slab(0, &owner);
  ASSERT_NE(slab, nullptr);
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(manager.stats().superslabs_mapped, 5) << "one, not the batch of 2";
  EXPECT_EQ(manager.stats().map_failures, 0);
  manager.check(nullptr);
  manager.release_slab(slab);
  for (SlabMeta* s : slabs) manager.release_slab(s);
}

// Issue 11, defect 5: a SuperSlab whose unmap failed was counted as
// unmapped and dropped from the lists, so its 2 MiB stayed mapped with no
// one to reuse or return them. Now it stays mapped, counted, empty and
// usable, and the next trim unmaps it.
TEST_F(SuperSlabManagerTest, AFailedUnmapKeepsTheSuperSlabCountedAndUsable) {
  SlabMeta* slab = manager.acquire_slab(0, &owner);
  ASSERT_NE(slab, nullptr);
  EXPECT_EQ(manager.stats().superslabs_mapped, 1);
  pal.fail_next_unmaps(1);
  manager.release_slab(slab);
  manager.trim();  // the unmap fails (HAKMEM_DEBUG=2 checks the counts)
  SuperSlabStats s = manager.stats();
  EXPECT_EQ(pal.failed_unmaps(), 1);
  EXPECT_EQ(s.unmap_failures, 1);
  EXPECT_EQ(s.superslabs_mapped, 1) << "still mapped";
  EXPECT_EQ(s.superslabs_unmapped, 0);
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kSuperSlabSize));
  manager.check(&owner);
  // Usable: the next slab comes from it, without a new mapping.
  SlabMeta* again = manager.acquire_slab(3, &owner);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(superslab_of(again), superslab_of(slab));
  EXPECT_EQ(pal.maps(), 1);
  manager.release_slab(again);
  manager.trim();  // now it succeeds
  s = manager.stats();
  EXPECT_EQ(s.superslabs_mapped, 0);
  EXPECT_EQ(s.superslabs_unmapped, 1);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST_F(SuperSlabManagerTest, ReleasingASlabTwiceIsFatal) {
  SlabMeta* slab = manager.acquire_slab(0, &owner);
  SlabMeta* keep = manager.acquire_slab(0, &owner);
  manager.release_slab(slab);
  EXPECT_DEATH(manager.release_slab(slab), "release of slab");
  manager.release_slab(keep);
}

// A 1 MiB SuperSlab: 2 MiB-aligned like every other, 15 slabs in its
// first half, the second half unmapped and foreign in the class map;
// carved, freed, purged after the delay and unmapped like a 2 MiB one.
TEST_F(SuperSlabManagerTest, OneMiBSuperSlabsCarveFreePurgeAndUnmap) {
  setenv("HAKMEM_SUPERSLAB_KIB", "1024", 1);
  options_reload();
  constexpr unsigned kSmallSlots = 15;
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < kSmallSlots; ++i) slabs.push_back(manager.acquire_slab(i % kSlabClasses, &owner));
  EXPECT_EQ(pal.maps(), 1);
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kSmallSuperSlabSize));
  SuperSlab* ss = superslab_of(slabs[0]->start);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ss) % kSuperSlabSize, 0u);
  for (SlabMeta* slab : slabs) {
    EXPECT_EQ(superslab_of(slab->start), ss);
    EXPECT_LT(slab->start, reinterpret_cast<char*>(ss) + kSmallSuperSlabSize);
    unsigned code = ClassMap::lookup(slab->start + kSlabSize - 16);
    ClassMap::strip_debug_tiny(&code);  // HAKMEM_DEBUG=2 tags tiny slabs
    EXPECT_EQ(code, slab->size_class);
    EXPECT_EQ(slab_of(slab->start + 100), slab);
  }
  EXPECT_EQ(ClassMap::lookup(reinterpret_cast<char*>(ss) + kSmallSuperSlabSize), ClassMap::kForeign)
      << "the unmapped half is not hakmem's";
  slabs.push_back(manager.acquire_slab(0, &owner));  // the sixteenth: a second SuperSlab
  EXPECT_EQ(pal.maps(), 2);
  EXPECT_EQ(manager.stats().superslab_bytes, static_cast<int64_t>(2 * kSmallSuperSlabSize));
  manager.check(nullptr);
  for (SlabMeta* slab : slabs) manager.release_slab(slab);
  pal.advance_ms(kGranuleMs);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.unmaps(), 0) << "within the delay";
  pal.advance_ms(100);
  manager.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.unmaps(), 1) << "the cache keeps one";
  EXPECT_EQ(pal.purged_bytes(), static_cast<int64_t>(kSmallSlots * kSlabSize)) << "the kept one, purged";
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kSmallSuperSlabSize));
  EXPECT_EQ(manager.stats().superslab_bytes, static_cast<int64_t>(kSmallSuperSlabSize));
  manager.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
  EXPECT_EQ(manager.stats().superslab_bytes, 0);
}

// The learner's entry point: tiny classes on 1 MiB SuperSlabs, mid ones on
// 2 MiB, in one manager. The size decides new mappings only: a free slot
// serves any class, whatever its SuperSlab's size.
TEST_F(SuperSlabManagerTest, OneAndTwoMiBSuperSlabsInOneManager) {
  ASSERT_TRUE(manager.set_superslab_kib(0, kTinyClasses - 1, 1024));
  EXPECT_EQ(manager.superslab_bytes_for(0), kSmallSuperSlabSize);
  EXPECT_EQ(manager.superslab_bytes_for(kTinyClasses), kSuperSlabSize);
  std::vector<SlabMeta*> slabs;
  for (unsigned i = 0; i < 15; ++i) slabs.push_back(manager.acquire_slab(3, &owner));
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kSmallSuperSlabSize));
  slabs.push_back(manager.acquire_slab(kTinyClasses + 5, &owner));  // none free: a 2 MiB one
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kSmallSuperSlabSize + kSuperSlabSize));
  slabs.push_back(manager.acquire_slab(3, &owner));  // a free slot of the 2 MiB one
  EXPECT_EQ(pal.maps(), 2);
  EXPECT_EQ(superslab_of(slabs.back()->start), superslab_of(slabs[15]->start));
  EXPECT_EQ(manager.stats().superslab_bytes, static_cast<int64_t>(kSmallSuperSlabSize + kSuperSlabSize));
  manager.check(nullptr);
  for (SlabMeta* slab : slabs) {
    unsigned code = ClassMap::lookup(slab->start);
    ClassMap::strip_debug_tiny(&code);
    EXPECT_EQ(code, slab->size_class);
    manager.release_slab(slab);
  }
  manager.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
  // Back to the option.
  ASSERT_TRUE(manager.set_superslab_kib(0, kTinyClasses - 1, 0));
  EXPECT_EQ(manager.superslab_bytes_for(0), kSuperSlabSize);
}

TEST_F(SuperSlabManagerTest, SuperSlabSizesOutOfRangeAreRefused) {
  EXPECT_FALSE(manager.set_superslab_kib(0, kSlabClasses, 1024)) << "no such class";
  EXPECT_FALSE(manager.set_superslab_kib(5, 3, 1024)) << "an empty range";
  EXPECT_FALSE(manager.set_superslab_kib(0, 0, 1536)) << "neither 1 nor 2 MiB";
  EXPECT_FALSE(manager.set_superslab_kib(0, 0, 4096));
  EXPECT_EQ(manager.superslab_bytes_for(0), kSuperSlabSize) << "unchanged";
  setenv("HAKMEM_SUPERSLAB_KIB", "1536", 1);  // in the table's range, not a size
  options_reload();
  testing::internal::CaptureStderr();
  EXPECT_EQ(manager.superslab_bytes_for(0), kSuperSlabSize);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("HAKMEM_SUPERSLAB_KIB=1536 is neither 1024 nor 2048"),
            std::string::npos);
}

}  // namespace
}  // namespace hakmem
