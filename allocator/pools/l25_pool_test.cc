// The L25 pool over a FakePal: its thread and shared caches, their byte
// bounds, and blocks freed by threads that did not allocate them (run
// under ThreadSanitizer by --config=tsan).
#include "allocator/pools/l25_pool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "allocator/backend/decay.h"
#include "allocator/config/options.h"
#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

constexpr unsigned k64K = l25_class_of(64 * 1024);
constexpr unsigned k128K = l25_class_of(128 * 1024);
constexpr unsigned k512K = l25_class_of(512 * 1024);

class L25PoolTest : public ::testing::Test {
 protected:
  // The shared caches are off by default; these tests exercise them.
  void SetUp() override {
    setenv("HAKMEM_L25_SHARED_CACHE_KIB", "8192", 1);
    options_reload();
  }
  void TearDown() override {
    unsetenv("HAKMEM_L25_SHARED_CACHE_KIB");
    unsetenv("HAKMEM_L25_THREAD_CACHE_KIB");
    options_reload();
  }
  // What Allocator::l25_free does, with `cache` as the thread's.
  void free_block(L25ThreadCache& cache, void* p) {
    const unsigned c = L25SpanManager::take_for_free(p)->size_class;
    if (!cache.push(p, c, pool)) pool.deallocate(p, c);
  }
  void* malloc_block(L25ThreadCache& cache, unsigned c) {
    if (void* p = cache.pop(c)) return p;
    return pool.allocate(c);
  }
  FakePal pal;
  L25SpanManager spans{&pal};
  L25Pool pool{&spans};
};

TEST_F(L25PoolTest, AThreadCacheServesItsOwnFreesWithoutTheSpans) {
  L25ThreadCache cache{};
  cache.init();
  void* p = malloc_block(cache, k64K);
  free_block(cache, p);
  const int64_t allocated = spans.stats().spans_allocated;
  for (int i = 0; i < 1000; ++i) {
    void* q = malloc_block(cache, k64K);
    ASSERT_EQ(q, p);
    free_block(cache, q);
  }
  EXPECT_EQ(spans.stats().spans_allocated, allocated) << "every malloc was a cache hit";
  EXPECT_EQ(cache.bytes(), 64u * 1024);
  cache.flush(pool);
  EXPECT_EQ(cache.bytes(), 0u);
  spans.check();
}

TEST_F(L25PoolTest, TheThreadCacheIsBoundedInBytesAndSkipsTheLargerClasses) {
  setenv("HAKMEM_L25_THREAD_CACHE_KIB", "256", 1);
  options_reload();
  L25ThreadCache cache{};
  cache.init();
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(malloc_block(cache, k64K));
  for (void* p : blocks) free_block(cache, p);
  EXPECT_EQ(cache.bytes(), 256u * 1024) << "four 64 KiB blocks fill 256 KiB";
  EXPECT_EQ(pool.stats().shared_frees, 4) << "the other four went to the shared cache";
  void* big = malloc_block(cache, k512K);
  free_block(cache, big);
  EXPECT_EQ(cache.bytes(), 256u * 1024) << "512 KiB is no per-thread class";
  EXPECT_EQ(pool.stats().shared_frees, 5);
  cache.flush(pool);
  pool.trim();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
  EXPECT_EQ(pal.mapped_bytes(), 0);
}

// The budget is shared by count limits: a class's limit doubles from 2 as
// its list overflows, and once the budget is spent the other classes give
// half their shares back, largest first, their coldest blocks first.
TEST_F(L25PoolTest, OtherSharesGiveHalfBackToAnOverflowingClass) {
  L25ThreadCache cache{};
  cache.init();  // 1 MiB
  std::vector<void*> small;
  for (int i = 0; i < 17; ++i) small.push_back(malloc_block(cache, k64K));
  for (void* p : small) free_block(cache, p);
  EXPECT_EQ(cache.limit[k64K], L25ThreadCache::kThreadSlots) << "2, 4, 8, 16";
  EXPECT_EQ(cache.bytes(), 1024u * 1024) << "16 blocks of 64 KiB spend the budget";
  EXPECT_EQ(pool.stats().shared_frees, 1) << "the 17th went to the shared cache";
  void* big = malloc_block(cache, k128K);
  free_block(cache, big);
  EXPECT_EQ(cache.limit[k64K], 8u);
  EXPECT_EQ(cache.limit[k128K], 2u);
  EXPECT_EQ(cache.reserved, 8u * 64 * 1024 + 2u * 128 * 1024);
  EXPECT_EQ(cache.bytes(), 8u * 64 * 1024 + 128u * 1024);
  EXPECT_EQ(pool.stats().shared_frees, 9) << "eight 64 KiB blocks went to the shared cache";
  EXPECT_EQ(malloc_block(cache, k64K), small[15]) << "the hottest blocks stayed";
  EXPECT_EQ(malloc_block(cache, k128K), big);
  free_block(cache, big);
  // The program moves back to 64 KiB: that class takes the whole budget
  // back, although its share is the largest all the way.
  free_block(cache, small[15]);
  std::vector<void*> more;
  for (int i = 0; i < 16; ++i) more.push_back(malloc_block(cache, k64K));  // 8 cached, 8 not
  for (void* p : more) free_block(cache, p);
  EXPECT_EQ(cache.limit[k64K], L25ThreadCache::kThreadSlots);
  EXPECT_EQ(cache.limit[k128K], 0u);
  EXPECT_EQ(cache.reserved, 1024u * 1024);
  EXPECT_EQ(cache.bytes(), 1024u * 1024);
  cache.flush(pool);
  EXPECT_EQ(cache.reserved, 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  pool.trim();
  spans.check();
}

// The fast paths: try_alloc's class comes from a table by the size's page;
// try_free keeps only a span in use whose list has room and leaves
// everything else (a bad free included) untouched for take_for_free.
TEST_F(L25PoolTest, TheFastPathsKeepOnlyLiveSpansWithRoom) {
  L25ThreadCache cache{};
  EXPECT_EQ(cache.try_alloc(64 * 1024), nullptr) << "a zeroed cache misses";
  void* p = malloc_block(cache, k64K);
  EXPECT_FALSE(cache.try_free(p)) << "a zeroed cache keeps nothing";
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25InUse);
  cache.init();
  free_block(cache, p);  // the slow path raises the limit to 2
  EXPECT_FALSE(cache.try_free(p)) << "a double free";
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25Cached);
  EXPECT_EQ(cache.try_alloc(60 * 1024 + 1), p) << "60 KiB + 1 is the 64 KiB class";
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25InUse);
  EXPECT_FALSE(cache.try_free(static_cast<char*>(p) + 4096)) << "an interior pointer";
  EXPECT_FALSE(cache.try_free(static_cast<char*>(p) + 16)) << "an interior pointer";
  EXPECT_FALSE(cache.try_free(l25_region_of(p))) << "the region's header";
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25InUse);
  EXPECT_TRUE(cache.try_free(p));
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25Cached);
  void* q = malloc_block(cache, k64K);
  EXPECT_EQ(q, p);
  void* r = malloc_block(cache, k64K);
  void* s = malloc_block(cache, k64K);
  EXPECT_TRUE(cache.try_free(q));
  EXPECT_TRUE(cache.try_free(r));
  EXPECT_FALSE(cache.try_free(s)) << "the list is at its limit";
  EXPECT_EQ(l25_span_of(s)->kind.load(), kL25InUse);
  free_block(cache, s);
  void* big = malloc_block(cache, k512K);
  EXPECT_FALSE(cache.try_free(big)) << "512 KiB is no per-thread class";
  free_block(cache, big);
  cache.flush(pool);
  pool.trim();
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
}

TEST_F(L25PoolTest, TheSharedCacheIsBoundedInBytes) {
  setenv("HAKMEM_L25_SHARED_CACHE_KIB", "1024", 1);
  options_reload();
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(pool.allocate(k512K));
  for (void* p : blocks) {
    L25SpanManager::take_for_free(p);
    pool.deallocate(p, k512K);
  }
  EXPECT_EQ(pool.stats().shared_bytes, 1024 * 1024);
  EXPECT_EQ(pool.stats().span_frees, 2);
  EXPECT_EQ(pool.allocate(k512K), blocks[1]) << "the shared cache is a stack";
  pool.flush_shared();
  EXPECT_EQ(pool.stats().shared_bytes, 0);
  spans.check();
}

// A span shorter than its class (l25_span_pages: as long as its request)
// cannot serve every request of its class, so the shared cache passes it on.
TEST_F(L25PoolTest, TheSharedCacheTakesOnlySpansOfTheirWholeClass) {
  const unsigned c = l25_class_of(300000);
  void* whole = pool.allocate(c);
  void* exact = pool.allocate(c, l25_span_pages(300000));
  EXPECT_EQ(L25SpanManager::checked_live_span(exact)->pages, l25_span_pages(300000));
  for (void* p : {whole, exact}) {
    L25SpanManager::take_for_free(p);
    pool.deallocate(p, c);
  }
  EXPECT_EQ(pool.stats().shared_frees, 1);
  EXPECT_EQ(pool.stats().span_frees, 1);
  EXPECT_EQ(pool.allocate(c, l25_span_pages(300000)), whole) << "a cached block of the class serves any request of it";
  spans.check();
}

TEST_F(L25PoolTest, CachedBlocksReadAsFreedAndInUseOnesAsLive) {
  L25ThreadCache cache{};
  cache.init();
  void* p = malloc_block(cache, k64K);
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25InUse);
  free_block(cache, p);
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25Cached);
  EXPECT_EQ(malloc_block(cache, k64K), p);
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25InUse);
  free_block(cache, p);
  cache.flush(pool);
  pool.flush_shared();
  EXPECT_EQ(l25_span_of(p)->kind.load(), kL25FreeHead);
}

// Remote frees: blocks allocated by one thread and freed by another go to
// the freeing thread's cache, then the shared caches and the spans; none
// is lost or handed out twice.
TEST_F(L25PoolTest, BlocksFreedByOtherThreadsComeBack) {
  constexpr int kRounds = 200;
  constexpr int kBatch = 16;
  std::atomic<void**> mailbox{nullptr};
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    L25ThreadCache cache{};
    cache.init();
    for (;;) {
      void** batch = mailbox.exchange(nullptr, std::memory_order_acquire);
      if (batch == nullptr) {
        if (done.load(std::memory_order_acquire) && mailbox.load(std::memory_order_acquire) == nullptr) break;
        std::this_thread::yield();
        continue;
      }
      for (int i = 0; i < kBatch; ++i) {
        auto* p = static_cast<unsigned char*>(batch[i]);
        ASSERT_EQ(p[0], static_cast<unsigned char>(i)) << "a block was overwritten while live";
        free_block(cache, p);
      }
      delete[] batch;
    }
    cache.flush(pool);
  });
  L25ThreadCache cache{};
  cache.init();
  for (int round = 0; round < kRounds; ++round) {
    auto** batch = new void*[kBatch];
    for (int i = 0; i < kBatch; ++i) {
      const unsigned c = (round * kBatch + i) % kL25Classes;
      auto* p = static_cast<unsigned char*>(malloc_block(cache, c));
      ASSERT_NE(p, nullptr);
      memset(p, i, 4096);
      batch[i] = p;
    }
    void** expected = nullptr;
    while (!mailbox.compare_exchange_weak(expected, batch, std::memory_order_release)) {
      expected = nullptr;
      std::this_thread::yield();
    }
  }
  done.store(true, std::memory_order_release);
  consumer.join();
  cache.flush(pool);
  pool.flush_shared();
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0) << "every block came back";
}

// Both threads allocate and free through the shared caches and the spans
// at once (TSan: the shared bins' locks and the page map's kind flips).
TEST_F(L25PoolTest, TwoThreadsChurnTheSharedCachesAtOnce) {
  auto churn = [this](unsigned seed) {
    L25ThreadCache cache{};
    cache.init();
    std::vector<void*> live;
    unsigned x = seed;
    for (int i = 0; i < 4000; ++i) {
      x = x * 1103515245 + 12345;
      if (live.size() < 32 && (x >> 16) % 3 != 0) {
        auto* p = static_cast<char*>(malloc_block(cache, (x >> 8) % kL25Classes));
        ASSERT_NE(p, nullptr);
        p[0] = 1;
        live.push_back(p);
      } else if (!live.empty()) {
        free_block(cache, live.back());
        live.pop_back();
      }
    }
    for (void* p : live) free_block(cache, p);
    cache.flush(pool);
  };
  std::thread a(churn, 1u), b(churn, 2u);
  a.join();
  b.join();
  pool.trim();
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
}

// The shared caches' decay pass runs while two threads churn them (run
// under ThreadSanitizer by --config=tsan): the purge lock, the bins' locks
// and the stamps, with the clock moving past the delay again and again.
TEST_F(L25PoolTest, PurgePassesRunWhileTwoThreadsChurnTheSharedCaches) {
  std::atomic<bool> done{false};
  std::thread purger([&] {
    while (!done.load(std::memory_order_relaxed)) {
      pal.advance_ms(Decay::granule_ms());
      pool.purge_expired(pal.now_ms());
    }
  });
  auto churn = [this](unsigned seed) {
    std::vector<void*> live;
    unsigned x = seed;
    for (int i = 0; i < 4000; ++i) {
      x = x * 1103515245 + 12345;
      const unsigned c = kL25Classes - 1 - (x >> 8) % 8;  // above the thread caches: the shared bins
      if (live.size() < 16 && (x >> 16) % 3 != 0) {
        auto* p = static_cast<char*>(pool.allocate(c));
        ASSERT_NE(p, nullptr);
        p[0] = 1;
        live.push_back(p);
      } else if (!live.empty()) {
        void* p = live.back();
        live.pop_back();
        pool.deallocate(p, L25SpanManager::take_for_free(p)->size_class);
      }
    }
    for (void* p : live) pool.deallocate(p, L25SpanManager::take_for_free(p)->size_class);
  };
  std::thread a(churn, 1u), b(churn, 2u);
  a.join();
  b.join();
  done = true;
  purger.join();
  pool.trim();
  spans.check();
  EXPECT_EQ(spans.stats().in_use_pages, 0);
  EXPECT_EQ(pool.stats().shared_bytes, 0);
}

// Decay of the shared caches (l25_pool.h): passes as the process-wide
// check would make them, one per granule.
class L25PoolDecayTest : public L25PoolTest {
 protected:
  void run_for(uint64_t ms) {
    for (uint64_t t = 0; t < ms; t += Decay::granule_ms()) {
      pal.advance_ms(Decay::granule_ms());
      pool.purge_expired(pal.now_ms());
    }
  }
  void free_shared(void* p) {
    L25SpanManager::take_for_free(p);
    pool.deallocate(p, k512K);
  }
};

TEST_F(L25PoolDecayTest, ASharedBlockUnusedPastTheDelayGoesBackAndIsPurged) {
  void* p = pool.allocate(k512K);
  ASSERT_NE(p, nullptr);
  free_shared(p);
  run_for(Decay::delay_ms() - 2 * Decay::granule_ms());
  EXPECT_EQ(pool.stats().shared_bytes, static_cast<int64_t>(l25_class_size(k512K))) << "kept within the delay";
  run_for(4 * Decay::granule_ms());
  EXPECT_EQ(pool.stats().shared_bytes, 0) << "unused past the delay: back to the spans";
  EXPECT_EQ(spans.stats().dirty_pages, static_cast<int64_t>(l25_class_pages(k512K))) << "still resident there";
  EXPECT_EQ(pal.purges(), 0);
  run_for(Decay::delay_ms() + 2 * Decay::granule_ms());
  EXPECT_EQ(spans.stats().dirty_pages, 0);
  EXPECT_GE(pal.purged_bytes(), static_cast<int64_t>(l25_class_size(k512K))) << "its pages went back to the OS";
  spans.check();
}

TEST_F(L25PoolDecayTest, ABlockReusedWithinTheDelayStaysCachedAndTheOldestGoFirst) {
  void* a = pool.allocate(k512K);
  void* b = pool.allocate(k512K);
  free_shared(a);
  run_for(Decay::delay_ms() / 2);
  free_shared(b);  // on top of a, half a delay younger
  run_for(Decay::delay_ms() / 2 + 4 * Decay::granule_ms());
  EXPECT_EQ(pool.stats().shared_bytes, static_cast<int64_t>(l25_class_size(k512K))) << "a left, b stays";
  EXPECT_EQ(pool.allocate(k512K), b);
  free_shared(b);  // used again: a fresh stamp
  run_for(Decay::delay_ms() / 2 + 4 * Decay::granule_ms());
  EXPECT_EQ(pool.stats().shared_bytes, static_cast<int64_t>(l25_class_size(k512K)))
      << "a block reused within the delay is not returned";
  run_for(Decay::delay_ms() / 2);
  EXPECT_EQ(pool.stats().shared_bytes, 0);
  spans.check();
}

}  // namespace
}  // namespace hakmem
