// The L25 span manager over a FakePal: carving, coalescing, resizing in
// place, purging and unmapping, each checked against the page map's
// invariants (L25SpanManager::check).
#include "allocator/backend/l25_spans.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "allocator/backend/class_map.h"
#include "allocator/config/options.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

constexpr unsigned k40K = l25_class_of(40 * 1024);  // 10 pages
constexpr unsigned k64K = l25_class_of(64 * 1024);  // 16 pages

// free(): the check every free passes, then back to the manager.
void free_span(L25SpanManager& spans, void* p) {
  L25SpanManager::take_for_free(p);
  spans.release(&p, 1);
}

class L25SpansTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("HAKMEM_PURGE_DELAY_MS");
    unsetenv("HAKMEM_L25_REGION_CACHE");
    options_reload();
  }
  // Two live spans, 16 and 10 pages, each followed by a live guard so that
  // freeing one leaves a hole of exactly its length.
  struct TwoHoles {
    char* big;
    void* guard1;
    char* small;
    void* guard2;
  };
  TwoHoles carve_two_holes() {
    TwoHoles h;
    h.big = static_cast<char*>(spans.allocate(k64K));  // 16 pages
    h.guard1 = spans.allocate(k40K);
    h.small = static_cast<char*>(spans.allocate(k40K));  // 10 pages
    h.guard2 = spans.allocate(k40K);
    return h;
  }
  FakePal pal;
  L25SpanManager spans{&pal};
};

TEST_F(L25SpansTest, SpansAreCarvedFromOneRegionAndFoundByAddress) {
  std::vector<char*> blocks;
  for (int i = 0; i < 100; ++i) {
    auto* p = static_cast<char*>(spans.allocate(k40K));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kL25PageSize, 0u);
    EXPECT_EQ(ClassMap::lookup(p), ClassMap::kL25Span);
    EXPECT_EQ(ClassMap::lookup(p + 40959), ClassMap::kL25Span);
    EXPECT_EQ(L25SpanManager::checked_live_span(p)->pages, 10u);
    memset(p, i, 40960);
    blocks.push_back(p);
  }
  EXPECT_EQ(pal.maps(), 1) << "100 blocks of 40 KiB share one 32 MiB region";
  for (size_t i = 1; i < blocks.size(); ++i) EXPECT_EQ(blocks[i], blocks[i - 1] + 40960) << "carved in address order";
  spans.check();
  for (char* p : blocks) free_span(spans, p);
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
}

TEST_F(L25SpansTest, AFreedSpanCoalescesWithBothNeighbours) {
  auto* a = static_cast<char*>(spans.allocate(k40K));
  auto* b = static_cast<char*>(spans.allocate(k40K));
  auto* c = static_cast<char*>(spans.allocate(k40K));
  auto* guard = static_cast<char*>(spans.allocate(k40K));  // keeps c's right side in use
  free_span(spans, a);
  free_span(spans, c);
  spans.check();
  const int64_t spans_free_before = spans.stats().free_pages;
  free_span(spans, b);  // a, b and c become one free span of 30 pages
  spans.check();
  EXPECT_EQ(spans.stats().free_pages, spans_free_before + 10);
  // Served by the 30-page span (best fit: the region's long rest is bigger).
  auto* big = static_cast<char*>(spans.allocate(l25_class_of(120 * 1024)));  // 30 pages
  EXPECT_EQ(big, a) << "the three freed spans merged into one";
  free_span(spans, big);
  free_span(spans, guard);
  spans.check();
}

TEST_F(L25SpansTest, BestFitTakesTheSmallestFreeSpanThatHolds) {
  const auto [a, g1, b, g2] = carve_two_holes();
  free_span(spans, a);
  free_span(spans, b);
  EXPECT_EQ(spans.allocate(l25_class_of(36 * 1024)), b) << "9 pages fit the 10-page hole best";
  EXPECT_EQ(spans.allocate(l25_class_of(48 * 1024)), a) << "12 pages fit the 16-page hole";
  spans.check();
  auto* rest = spans.allocate(l25_class_of(16 * 1024 + kSlabMaxSize));  // 12 pages: not the 4 left of a
  EXPECT_NE(rest, a + 48 * 1024);
  spans.check();
  for (void* p : {static_cast<void*>(a), g1, static_cast<void*>(b), g2, rest}) free_span(spans, p);
  spans.check();
}

TEST_F(L25SpansTest, GrowsIntoAFreeNeighbourAndShrinksInPlace) {
  auto* p = static_cast<char*>(spans.allocate(k40K));
  memset(p, 0x5A, 40960);
  // The rest of the region follows p: grow step by step to 2 MiB.
  for (size_t size = 44 * 1024; size <= kL25MaxSize; size += 4096) {
    const unsigned c = l25_class_of(size);
    ASSERT_TRUE(spans.resize(p, c)) << size;
    ASSERT_EQ(L25SpanManager::checked_live_span(p)->pages, l25_class_pages(c));
  }
  EXPECT_EQ(p[40959], 0x5A);
  spans.check();
  EXPECT_EQ(pal.maps(), 1);
  ASSERT_TRUE(spans.resize(p, k40K));
  EXPECT_EQ(L25SpanManager::checked_live_span(p)->pages, 10u);
  EXPECT_GE(spans.stats().shrunk_in_place, 1);
  spans.check();
  // The pages it gave back serve the next block, right after it.
  EXPECT_EQ(spans.allocate(k40K), p + 40960);
  spans.check();
}

TEST_F(L25SpansTest, ATakenNeighbourRefusesToGrow) {
  auto* p = static_cast<char*>(spans.allocate(k40K));
  void* q = spans.allocate(k40K);  // right after p
  ASSERT_EQ(q, p + 40960);
  EXPECT_FALSE(spans.resize(p, k64K));
  EXPECT_EQ(L25SpanManager::checked_live_span(p)->pages, 10u) << "a refused grow changes nothing";
  EXPECT_EQ(spans.stats().grow_refused, 1);
  // A neighbour too short refuses too: q freed, but 10 pages short of 32.
  void* r = spans.allocate(k40K);
  free_span(spans, q);
  EXPECT_FALSE(spans.resize(p, l25_class_of(128 * 1024)));
  EXPECT_TRUE(spans.resize(p, l25_class_of(80 * 1024))) << "20 pages: 10 more, exactly q's";
  spans.check();
  free_span(spans, p);
  free_span(spans, r);
  spans.check();
}

// realloc's mark (a growing block moved here) belongs to the block: its
// span keeps it while in use, grown in place or not, and a carve of the
// same pages for someone else starts without it, though the free span's
// resident count used the same field meanwhile.
TEST_F(L25SpansTest, TheGrownMarkStaysWithItsBlockAndACarveClearsIt) {
  auto* p = static_cast<char*>(spans.allocate(k40K));
  EXPECT_FALSE(L25SpanManager::grown(p)) << "a fresh carve";
  L25SpanManager::mark_grown(p);
  EXPECT_TRUE(L25SpanManager::grown(p));
  ASSERT_TRUE(spans.resize(p, k64K)) << "the rest of the region follows p";
  EXPECT_TRUE(L25SpanManager::grown(p)) << "grown in place, still the same block";
  memset(p, 1, 64 * 1024);  // resident: the freed span's count is 16, written over the mark
  free_span(spans, p);
  spans.check();
  auto* again = static_cast<char*>(spans.allocate(k64K));
  ASSERT_EQ(again, p) << "best fit: the same pages";
  EXPECT_FALSE(L25SpanManager::grown(again));
  spans.check();
  free_span(spans, again);
}

// Issue 12: 70,000 live 40 KB blocks took 70,000 mappings.
TEST_F(L25SpansTest, SeventyThousandLiveBlocksTakeUnderAThousandMappings) {
  std::vector<void*> blocks;
  blocks.reserve(70000);
  for (int i = 0; i < 70000; ++i) {
    void* p = spans.allocate(l25_class_of(40000));
    ASSERT_NE(p, nullptr) << i;
    blocks.push_back(p);
  }
  EXPECT_LT(pal.maps(), 1000);
  EXPECT_EQ(pal.maps(), spans.stats().regions_mapped);
  for (void* p : blocks) free_span(spans, p);
  spans.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0) << "every region unmapped by trim";
  EXPECT_EQ(spans.stats().regions_mapped, 0);
}

// Issue 12 follow-up: a span freed next to untouched pages merges with them
// (dirty and clean spans used to stay apart), and only its own pages count
// as resident.
TEST_F(L25SpansTest, AFreedSpanMergesWithTheUntouchedRestAndOnlyItsPagesCountAsDirty) {
  void* a = spans.allocate(k40K);
  auto* b = static_cast<char*>(spans.allocate(k64K));  // 16 pages; the untouched rest follows
  free_span(spans, b);
  spans.check();
  EXPECT_EQ(spans.stats().dirty_pages, 16);
  EXPECT_EQ(spans.stats().free_pages, static_cast<int64_t>(kL25UsablePages) - 10) << "b and the rest are one span";
  // A 2 MiB block starts at b: its 16 resident pages first, then fresh ones.
  void* big = spans.allocate(kL25Classes - 1);
  EXPECT_EQ(big, b);
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  free_span(spans, big);
  EXPECT_EQ(spans.stats().dirty_pages, 512);
  spans.trim();
  // Two calls: the span's resident pages, and the page-map pages under its
  // interior entries (the region's whole untouched rest is one free span).
  EXPECT_EQ(pal.purges(), 2);
  EXPECT_GT(spans.stats().map_pages_purged, 0);
  EXPECT_EQ(pal.purged_bytes(), (512 + spans.stats().map_pages_purged) * static_cast<int64_t>(kL25PageSize))
      << "only the resident pages are purged";
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  spans.check();
  free_span(spans, a);
}

TEST_F(L25SpansTest, ACarveTakesTheResidentEndOfAFreeSpan) {
  void* a = spans.allocate(k40K);
  auto* b = static_cast<char*>(spans.allocate(k64K));
  auto* c = static_cast<char*>(spans.allocate(k64K));
  void* guard = spans.allocate(k40K);  // keeps c from the untouched rest
  free_span(spans, b);
  spans.trim();  // b's pages go back
  free_span(spans, c);  // b (purged) and c (resident) merge: 32 pages
  spans.check();
  EXPECT_EQ(spans.stats().dirty_pages, 16);
  EXPECT_EQ(spans.allocate(k64K), c) << "the back half, whose pages are resident";
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  EXPECT_EQ(spans.allocate(k64K), b);
  spans.check();
  for (void* p : {a, static_cast<void*>(b), static_cast<void*>(c), guard}) free_span(spans, p);
  spans.check();
}

// Resident first (mid_churn's peak RSS): a block goes where freed pages are
// still resident, even when a clean free span would fit it better, and
// into the middle of a free span when that is where they are.
TEST_F(L25SpansTest, ACarveReusesResidentPagesBeforeABetterFittingCleanSpan) {
  const auto [x, g1, y, g2] = carve_two_holes();  // 16 and 10 pages
  free_span(spans, y);
  spans.trim();  // y's 10 pages go back: a clean hole that fits 9 pages best
  free_span(spans, x);  // 16 resident pages
  spans.check();
  EXPECT_EQ(spans.allocate(l25_class_of(36 * 1024)), x) << "the resident hole, not the clean best fit";
  EXPECT_EQ(spans.stats().dirty_pages, 7);
  spans.check();
  EXPECT_EQ(spans.allocate(l25_class_of(36 * 1024)), y) << "no resident run of 9 pages left: the best fit";
  spans.check();
  for (void* p : {static_cast<void*>(x), g1, static_cast<void*>(y), g2}) free_span(spans, p);
  spans.check();
}

TEST_F(L25SpansTest, ACarveTakesAResidentRunInTheMiddleOfAFreeSpan) {
  void* a = spans.allocate(k40K);
  auto* b1 = static_cast<char*>(spans.allocate(k64K));
  auto* b2 = static_cast<char*>(spans.allocate(k64K));
  auto* b3 = static_cast<char*>(spans.allocate(k64K));
  void* guard = spans.allocate(k40K);  // keeps b3 from the untouched rest
  ASSERT_NE(a, nullptr);
  ASSERT_NE(guard, nullptr);
  free_span(spans, b1);
  free_span(spans, b3);
  spans.trim();         // b1 and b3 clean
  free_span(spans, b2);  // one free span of 48 pages, its middle 16 resident
  spans.check();
  EXPECT_EQ(spans.stats().dirty_pages, 16);
  EXPECT_EQ(spans.allocate(k40K), b2) << "the resident middle, split three ways";
  EXPECT_EQ(spans.stats().dirty_pages, 6);
  EXPECT_EQ(spans.stats().free_pages, static_cast<int64_t>(kL25UsablePages) - 3 * 10);
  spans.check();
  // What is left: b1 (16 clean pages) on the left, and on the right the 6
  // resident pages with b3 after them, 22 pages.
  EXPECT_EQ(spans.allocate(k64K), b1) << "no resident run of 16 pages: the exact fit";
  EXPECT_EQ(spans.allocate(l25_class_of(88 * 1024)), b2 + 40 * 1024) << "22 pages: the right side";
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  spans.check();
}

// Spans above the thread-cached classes are as long as their request
// (l25_span_pages), shorter than their class.
TEST_F(L25SpansTest, ASpanCanBeAsLongAsItsRequestAboveTheCachedClasses) {
  constexpr uint32_t kPages = 74;  // a 300,000-byte request; its class (320 KiB) is 80 pages
  static_assert(l25_span_pages(300000) == kPages && l25_class_pages(l25_class_of(300000)) == 80);
  auto* p = static_cast<char*>(spans.allocate_pages(kPages));
  ASSERT_NE(p, nullptr);
  const L25Span* span = L25SpanManager::checked_live_span(p);
  EXPECT_EQ(span->pages, kPages);
  EXPECT_EQ(span->size_class, l25_class_of(300000));
  auto* next = static_cast<char*>(spans.allocate_pages(kPages));
  EXPECT_EQ(next, p + kPages * kL25PageSize) << "no class rounding between them";
  spans.check();
  ASSERT_TRUE(spans.resize_pages(next, 70));
  EXPECT_EQ(L25SpanManager::checked_live_span(next)->pages, 70u);
  EXPECT_EQ(L25SpanManager::checked_live_span(next)->size_class, l25_class_of(70 * kL25PageSize));
  ASSERT_TRUE(spans.resize_pages(next, 101));
  EXPECT_EQ(L25SpanManager::checked_live_span(next)->pages, 101u);
  spans.check();
  free_span(spans, p);
  free_span(spans, next);
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
}

TEST_F(L25SpansTest, OfTheSpansLongerThanAnyClassTheShortestIsCutFirst) {
  constexpr unsigned k2M = kL25Classes - 1;  // 512 pages
  constexpr unsigned k512K = l25_class_of(512 * 1024);  // 128 pages
  auto* x = static_cast<char*>(spans.allocate(k2M));
  void* y = spans.allocate(k512K);
  auto* guard = static_cast<char*>(spans.allocate(k40K));
  free_span(spans, x);
  free_span(spans, y);  // a 640-page hole, and the region's rest after guard
  spans.trim();         // both clean: no preference for resident pages decides
  ASSERT_TRUE(spans.resize(guard, k64K));  // puts the rest back at its bin's front
  EXPECT_EQ(spans.allocate(k2M), x) << "the 640-page hole, not the rest";
  spans.check();
}

// Ticks the decay: kEventsPerClockRead slow events read the clock once.
void tick(L25SpanManager& spans) {
  for (unsigned i = 0; i < L25SpanManager::kEventsPerClockRead; ++i) free_span(spans, spans.allocate(k40K));
}

TEST_F(L25SpansTest, DirtySpansArePurgedOnlyOnceThePurgeDelayHasPassed) {
  setenv("HAKMEM_PURGE_DELAY_MS", "100", 1);
  options_reload();
  std::vector<void*> blocks;
  std::vector<void*> guards;
  for (int i = 0; i < 12; ++i) {
    blocks.push_back(spans.allocate(k64K));  // 16 pages each
    guards.push_back(spans.allocate(k40K));  // keeps the freed spans apart
  }
  for (void* p : blocks) free_span(spans, p);
  EXPECT_EQ(spans.stats().dirty_pages, 12 * 16);
  pal.advance_ms(99);
  for (int i = 0; i < 5; ++i) tick(spans);
  EXPECT_EQ(pal.purges(), 0) << "nothing before the delay";
  pal.advance_ms(2);
  tick(spans);  // closes the generation the spans were freed in
  pal.advance_ms(100);
  tick(spans);
  // The ticks' own blocks reuse one freed span (dirty first, best fit):
  // freed again, a block merges with the rest of that span and keeps the
  // rest's older stamp, so all twelve spans are purged once the delay has
  // passed, and only the last tick's block, freed after the pass that ran
  // on its allocation's clock read, is dirty (its 10 pages).
  EXPECT_GE(pal.purges(), 12);
  EXPECT_EQ(spans.stats().dirty_pages, 10);
  spans.check();
  for (void* g : guards) free_span(spans, g);
  spans.trim();
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  spans.check();
}

// Issue 13: a dirty free span that something next to it is freed into now
// and then, more often than the delay, must still be purged. A merge took
// the new stamp for all its pages, so a span fed every ~125 ms (the
// learner taking an idle thread's L25 cache) kept 31680 KiB resident for
// good after growth's settle step.
TEST_F(L25SpansTest, ADirtySpanFedByFreshFreesStillExpires) {
  setenv("HAKMEM_PURGE_DELAY_MS", "100", 1);
  options_reload();
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(spans.allocate(k64K));  // adjacent, 16 pages each
  void* guard = spans.allocate(k40K);
  spans.purge_expired(pal.now_ms());
  free_span(spans, blocks[0]);
  const int64_t first_dirty = spans.stats().dirty_pages;
  EXPECT_EQ(first_dirty, 16);
  // Its neighbours follow one by one, 60 ms apart: each merges into it.
  for (int i = 1; i < 8; ++i) {
    pal.advance_ms(60);
    spans.purge_expired(pal.now_ms());
    free_span(spans, blocks[i]);
  }
  // 480 ms after the first free: the first pages are far past the delay.
  pal.advance_ms(60);
  spans.purge_expired(pal.now_ms());
  EXPECT_GE(pal.purges(), 1) << "the first pages freed waited " << 7 * 60 + 60 << " ms, past the 100 ms delay";
  EXPECT_LT(spans.stats().dirty_pages, 8 * 16);
  spans.check();
  free_span(spans, guard);
  spans.trim();
}

// Issue 12 follow-up (settle): carves write head entries all over the page
// map, and an empty region kept those map pages resident after its spans
// were purged. Once the delay has passed, the purge of a free span also
// returns the map pages that hold only its interior entries, and the map
// stays right for the carves that follow.
TEST_F(L25SpansTest, ThePurgeOfALongFreeSpanReturnsThePageMapPagesInsideIt) {
  setenv("HAKMEM_PURGE_DELAY_MS", "100", 1);
  options_reload();
  std::vector<void*> blocks;
  for (int i = 0; i < 400; ++i) blocks.push_back(spans.allocate(k40K));  // 4000 pages: ~47 map pages of heads
  for (void* p : blocks) free_span(spans, p);  // one free span: the whole region
  spans.check();
  pal.advance_ms(50);
  spans.purge_expired(pal.now_ms());
  EXPECT_EQ(spans.stats().map_pages_purged, 0) << "nothing before the delay";
  pal.advance_ms(200);
  spans.purge_expired(pal.now_ms());
  pal.advance_ms(200);
  spans.purge_expired(pal.now_ms());
  const int64_t map_pages = spans.stats().map_pages_purged;
  // The span covers every usable page; its interior entries fill the map
  // but for the head's page and the tail's.
  const int64_t whole_map_pages = static_cast<int64_t>(sizeof(L25Region::spans) / kPageSize);
  EXPECT_GE(map_pages, whole_map_pages - 2);
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  spans.check();
  // The purged entries read as kNone (zero): carving and freeing go on.
  std::vector<void*> again;
  for (int i = 0; i < 100; ++i) again.push_back(spans.allocate(k64K));
  spans.check();
  for (void* p : again) free_span(spans, p);
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
}

TEST_F(L25SpansTest, ASpanReusedWithinTheDelayIsNeverPurged) {
  setenv("HAKMEM_PURGE_DELAY_MS", "100", 1);
  options_reload();
  void* guard = spans.allocate(k40K);
  for (int round = 0; round < 50; ++round) {
    void* p = spans.allocate(k64K);
    free_span(spans, p);
    pal.advance_ms(10);  // 500 ms in all, 10 ms free each time
  }
  EXPECT_EQ(pal.purges(), 0);
  free_span(spans, guard);
}

TEST_F(L25SpansTest, WithNoDelayAFreedSpanIsPurgedAtOnce) {
  setenv("HAKMEM_PURGE_DELAY_MS", "0", 1);
  options_reload();
  void* guard = spans.allocate(k40K);
  void* p = spans.allocate(k64K);
  void* after = spans.allocate(k40K);  // keeps p from the untouched rest (whose map pages would go too)
  free_span(spans, p);
  EXPECT_EQ(pal.purges(), 1);
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  spans.check();
  free_span(spans, guard);
  free_span(spans, after);
}

TEST_F(L25SpansTest, EmptyRegionsBeyondTheCacheAreUnmappedAfterTheDelay) {
  setenv("HAKMEM_L25_REGION_CACHE", "0", 1);
  setenv("HAKMEM_PURGE_DELAY_MS", "100", 1);
  options_reload();
  FakePal other;
  L25SpanManager second{&other};  // ticks on another manager do not reach this one
  void* p = spans.allocate(kL25Classes - 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pal.maps(), 1);
  free_span(spans, p);
  EXPECT_EQ(pal.unmaps(), 0) << "kept through the delay";
  EXPECT_EQ(spans.stats().regions_mapped, 1);
  pal.advance_ms(200);
  spans.purge_expired(pal.now_ms());
  pal.advance_ms(200);
  spans.purge_expired(pal.now_ms());
  EXPECT_EQ(pal.unmaps(), 1);
  EXPECT_EQ(ClassMap::lookup(p), ClassMap::kForeign) << "cleared before the unmap";
  EXPECT_EQ(spans.stats().regions_mapped, 0);
}

TEST_F(L25SpansTest, AnEmptyRegionIsKeptByDefault) {
  void* p = spans.allocate(k40K);
  free_span(spans, p);
  EXPECT_EQ(pal.unmaps(), 0);
  EXPECT_EQ(spans.allocate(k40K), p);
  EXPECT_EQ(pal.maps(), 1);
}

TEST_F(L25SpansTest, ARefusedMapIsNullAndARefusedUnmapKeepsTheRegion) {
  pal.fail_next_maps(1);
  EXPECT_EQ(spans.allocate(k40K), nullptr);
  EXPECT_EQ(spans.stats().map_failures, 1);
  void* p = spans.allocate(k40K);
  ASSERT_NE(p, nullptr);
  free_span(spans, p);
  pal.fail_next_unmaps(1);
  spans.trim();
  EXPECT_EQ(spans.stats().unmap_failures, 1);
  EXPECT_EQ(spans.stats().regions_mapped, 1);
  EXPECT_EQ(ClassMap::lookup(p), ClassMap::kL25Span) << "still mapped, still ours";
  spans.check();
  EXPECT_EQ(spans.allocate(k40K), p) << "the region serves again";
  free_span(spans, p);
  spans.trim();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

TEST_F(L25SpansTest, RandomChurnKeepsEveryInvariant) {
  std::mt19937_64 rng(12);
  std::vector<std::pair<char*, unsigned>> live;
  for (int step = 0; step < 20000; ++step) {
    const unsigned op = rng() % 8;
    if (op < 4 || live.empty()) {
      // Half the blocks in class spans, half as long as a request (l25_span_pages).
      const size_t size = kSlabMaxSize + 1 + rng() % (kL25MaxSize - kSlabMaxSize);
      auto* p = static_cast<char*>(op < 2 ? spans.allocate(l25_class_of(size)) : spans.allocate_pages(l25_span_pages(size)));
      ASSERT_NE(p, nullptr);
      const unsigned c = L25SpanManager::checked_live_span(p)->size_class;
      p[0] = static_cast<char>(c);
      live.emplace_back(p, c);
    } else if (op < 7) {
      const size_t i = rng() % live.size();
      ASSERT_EQ(live[i].first[0], static_cast<char>(live[i].second));
      free_span(spans, live[i].first);
      live[i] = live.back();
      live.pop_back();
    } else {
      auto& [p, c] = live[rng() % live.size()];
      const size_t size = kSlabMaxSize + 1 + rng() % (kL25MaxSize - kSlabMaxSize);
      if (spans.resize_pages(p, l25_span_pages(size))) c = L25SpanManager::checked_live_span(p)->size_class;
      p[0] = static_cast<char>(c);
    }
    if (step % 1000 == 0) spans.check();
  }
  spans.check();
  for (auto& [p, c] : live) free_span(spans, p);
  spans.trim();
  spans.check();
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

}  // namespace
}  // namespace hakmem
