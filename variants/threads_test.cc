// Threads and their heaps over time, compiled once per variant by
// hakmem_variant() against hakmem::ThisVariant: memory freed into an idle
// owner comes back without the owner's help, trim works from any thread,
// and the full invariant checks stay race-free with several threads.
// A malloc after a thread's exit destructor takes no heap.
// (Issue 11, defects 6, 7 and 2; each test is the defect's probe.)
#include <gtest/gtest.h>
#include <limits.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "allocator/backend/superslab.h"
#include "allocator/backend/superslab_manager.h"
#include "allocator/config/options.h"
#include "allocator/config/scoped_option.h"
#include "allocator/pools/heap_registry.h"
#include "common/sanitizer.h"
#include "hakmem/variant.h"

namespace hakmem {
namespace {

using A = ThisVariant;

#define SKIP_IF_SINGLE_THREAD() \
  if (A::kLimits.single_thread) GTEST_SKIP() << A::kName << " serves one thread by design"

int64_t slabs_in_use() { return global_superslabs().stats().slabs_in_use; }

// The probe: a worker frees 100k blocks of 200 B that this thread
// allocated, and this thread makes no allocator call afterwards. Before
// the fix 346 slabs (21 MiB) stayed in use until the owner's next refill.
// What may stay: the blocks pushed since the last drain (below the
// threshold, HAKMEM_INBOX_DRAIN_KIB) and one kept slab.
TEST(Threads, BlocksFreedIntoAnIdleOwnerComeBackWithoutItsHelp) {
  SKIP_IF_SINGLE_THREAD();
  A::trim();
  const int64_t before = slabs_in_use();
  std::vector<void*> blocks(100000);
  for (void*& p : blocks) p = A::malloc(200);
  const int64_t full = slabs_in_use();
  ASSERT_GT(full - before, 300) << "100k blocks of 200 B fill over 300 slabs of 64 KiB";
  std::thread([&] {
    for (void* p : blocks) A::free(p);
  }).join();
  // No call into the allocator from this thread between the frees and here.
  const int64_t after = slabs_in_use();
  const int64_t threshold_slabs = option_value(Option::kInboxDrainKib) * 1024 / static_cast<int64_t>(kSlabSize);
  EXPECT_LE(after - before, threshold_slabs + 2)
      << "before " << before << ", full " << full << ", after the worker freed everything " << after;
}

// malloc_trim / hak_trim from a thread that owns none of the memory: every
// heap's inbox is collected and its empty slabs go back. Automatic drains
// are off (the largest threshold) so that only trim can bring them back.
TEST(Threads, TrimFromAnotherThreadCollectsEveryInbox) {
  SKIP_IF_SINGLE_THREAD();
  const ScopedOption no_auto_drain("HAKMEM_INBOX_DRAIN_KIB", "1048576");
  A::trim();
  const int64_t before = slabs_in_use();
  std::vector<void*> blocks(20000);
  std::atomic<int> stage{0};
  std::thread owner([&] {
    for (void*& p : blocks) p = A::malloc(200);
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();  // idle, alive
  });
  while (stage.load() != 1) std::this_thread::yield();
  const int64_t full = slabs_in_use();
  std::thread([&] {
    for (void* p : blocks) A::free(p);
  }).join();  // at exit this thread's cache goes home: into the owner's inbox
  const int64_t after_free = slabs_in_use();
  std::thread([] {
    A::free(A::malloc(16));  // a heap, so that trim empties the depot too
    A::trim();
  }).join();  // a third thread trims
  const int64_t after_trim = slabs_in_use();
  stage.store(2);
  owner.join();
  EXPECT_GT(after_free - before, (full - before) / 2) << "the threshold is off: the blocks wait in the inbox";
  EXPECT_LE(after_trim - before, 1) << "before " << before << ", full " << full << ", freed " << after_free
                                    << ", trimmed " << after_trim;
}

// HAKMEM_DEBUG=2 verifies the heap and its SuperSlabs after every slow
// path. With several threads that must read only what the caller may read
// (its own slabs' counters, and what the SuperSlab lock guards): under
// ThreadSanitizer this test reports the race otherwise. Blocks cross
// threads both ways so that slabs of both owners share SuperSlabs.
TEST(Threads, FullInvariantChecksWithTwoThreads) {
  SKIP_IF_SINGLE_THREAD();
  const ScopedOption checks("HAKMEM_DEBUG", "2");
  constexpr int kRounds = 40;
  constexpr int kBlocks = 500;
  std::vector<void*> handoff[2];
  std::atomic<int> turn[2] = {0, 0};
  auto worker = [&](int me) {
    std::mt19937_64 rng(me);
    const int other = 1 - me;
    for (int round = 0; round < kRounds; ++round) {
      std::vector<void*> mine;
      for (int i = 0; i < kBlocks; ++i) {
        const size_t size = 8 + rng() % (rng() % 4 == 0 ? 20000 : 1000);
        mine.push_back(A::malloc(size));
      }
      for (size_t i = 0; i < mine.size(); i += 2) A::free(mine[i]);
      std::vector<void*> give;
      for (size_t i = 1; i < mine.size(); i += 2) give.push_back(mine[i]);
      // Hand every other block over, then free what the other thread gave.
      while (turn[me].load() != 0) std::this_thread::yield();
      handoff[me] = std::move(give);
      turn[me].store(1);
      while (turn[other].load() != 1) std::this_thread::yield();
      std::vector<void*> taken = std::move(handoff[other]);
      turn[other].store(0);
      for (void* p : taken) A::free(p);
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
}

// A program's pthread key destructor that runs after hakmem's (its key is
// made later, so its destructor comes later in each round) and allocates:
// before the fix that malloc took a heap again, and in the last round
// (PTHREAD_DESTRUCTOR_ITERATIONS) nothing gave it back: one heap, and the
// slabs it held, lost per thread. Now it is served by the late heap.
pthread_key_t g_late_key;
thread_local int t_rounds = 0;
std::atomic<int> g_late_failures{0};

void allocate_in_every_round(void* value) {
  // Both a tiny and a mid block, kept across rounds and freed in the last.
  void** blocks = static_cast<void**>(value);
  auto* tiny = static_cast<char*>(A::malloc(40));
  auto* mid = static_cast<char*>(A::malloc(5000));
  if (tiny == nullptr || mid == nullptr) g_late_failures.fetch_add(1);
  tiny[0] = 't';
  mid[4999] = 'm';
  A::free(blocks[0]);
  A::free(blocks[1]);
  blocks[0] = tiny;
  blocks[1] = mid;
  if (++t_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_late_key, blocks);  // again next round
    return;
  }
  A::free(tiny);
  A::free(mid);
  delete[] blocks;
}

TEST(Threads, AMallocAfterTheExitDestructorTakesNoHeap) {
  SKIP_IF_SINGLE_THREAD();
  if (lab::kUnderThreadSanitizer) {
    GTEST_SKIP() << "ThreadSanitizer finishes the thread in the last destructor round itself; instrumented code "
                    "cannot run after it";
  }
  A::free(A::malloc(16));  // this thread's heap, and hakmem's exit key, exist before ours
  ASSERT_EQ(pthread_key_create(&g_late_key, allocate_in_every_round), 0);
  const int heaps_before = active_heaps();
  const int made_before = created_heaps();
  for (int i = 0; i < 50; ++i) {
    std::thread([] {
      A::free(A::malloc(200));
      pthread_setspecific(g_late_key, new void* [2] { A::malloc(300), A::malloc(3000) });
    }).join();
  }
  EXPECT_EQ(g_late_failures.load(), 0);
  EXPECT_EQ(active_heaps(), heaps_before) << "a malloc after the exit destructor must not keep a heap";
  EXPECT_LE(created_heaps() - made_before, 2) << "one heap for the threads in turn, one late heap";
  pthread_key_delete(g_late_key);
}

}  // namespace
}  // namespace hakmem
