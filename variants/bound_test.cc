// bound's arena over the fake PAL: mapped once, through the Pal it is
// given, each class in its own region; and what happens when that Pal
// refuses. (The conformance suite covers the variant itself.)
//
// bound never returns memory, so every arena here stays reserved until the
// process exits: address space only (MAP_NORESERVE, pages never touched).
#include "variants/bound.h"

#include <gtest/gtest.h>

#include "allocator/pal/fake_pal.h"

namespace hakmem::variants {
namespace {

TEST(BoundArena, IsMappedOnceThroughItsPalWithEachClassInItsOwnRegion) {
  FakePal pal;
  BoundArena arena{&pal};
  EXPECT_FALSE(arena.reserved());
  ASSERT_TRUE(arena.reserve());
  ASSERT_TRUE(arena.reserve());
  EXPECT_EQ(pal.maps(), 1) << "a second reserve() maps nothing";
  EXPECT_EQ(pal.unaccounted_maps(), 1) << "a sparse reservation: MAP_NORESERVE, outside the overcommit accounting";
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(BoundArena::kArenaSize));
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    auto* a = static_cast<char*>(arena.bump(c));
    auto* b = static_cast<char*>(arena.bump(c));
    EXPECT_EQ(BoundArena::class_of(a), c);
    EXPECT_EQ(b - a, static_cast<ptrdiff_t>(kClassSize[c])) << "class " << c;
    const size_t natural = kClassSize[c] & (~size_t{kClassSize[c]} + 1);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % natural, 0u) << "class " << c;
  }
}

TEST(BoundArena, AReservationThePalRefusesChangesNothingAndCanBeRetried) {
  FakePal pal;
  BoundArena arena{&pal};
  pal.fail_next_maps(1);
  EXPECT_FALSE(arena.reserve());
  EXPECT_FALSE(arena.reserved());
  EXPECT_EQ(pal.failed_maps(), 1);
  EXPECT_EQ(pal.maps(), 0);
  ASSERT_TRUE(arena.reserve());
  EXPECT_EQ(pal.maps(), 1);
  EXPECT_EQ(BoundArena::class_of(arena.bump(7)), 7u);
}

// Bound allocators of their own, on arenas over fake PALs.
constinit FakePal g_pal;
constinit BoundArena g_arena{&g_pal};
using TestBound = BasicBoundAllocator<g_arena>;

// Only ever asked to map in a death test's child, so the parent's arena
// stays unreserved however often and in whatever order tests run.
constinit FakePal g_refusing_pal;
constinit BoundArena g_refused_arena{&g_refusing_pal};
using RefusedBound = BasicBoundAllocator<g_refused_arena>;

TEST(BoundAllocator, MapsItsArenaThroughItsPalOnTheFirstAllocationOnly) {
  void* p = TestBound::malloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(g_arena.reserved());
  EXPECT_EQ(g_pal.maps(), 1);
  void* q = TestBound::malloc(5000);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(TestBound::usable_size(q), kClassSize[slab_class_of(5000)]);
  TestBound::free(p);
  EXPECT_EQ(TestBound::malloc(100), p) << "the free list serves it again";
  TestBound::free(p);
  TestBound::free(q);
  EXPECT_EQ(g_pal.maps(), 1);
}

TEST(BoundAllocatorDeathTest, ReportsAndStopsWhenThePalRefusesItsArena) {
  EXPECT_DEATH(
      {
        g_refusing_pal.fail_next_maps(1);
        RefusedBound::malloc(16);
      },
      "bound: cannot reserve its 10240 MiB arena");
  EXPECT_FALSE(g_refused_arena.reserved());
}

}  // namespace
}  // namespace hakmem::variants
