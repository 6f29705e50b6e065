// The learner thread returns memory while the program makes no call
// (HAKMEM_LEARN_INTERVAL_MS, allocator/learner/process_learner.h). Built
// twice: with the thread (LEARNER_ON=1, interval 5 ms) and without (0),
// both with a purge delay of 50 ms, on ultra_simple, whose free list sends
// blocks past its limit home so their slabs empty.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <thread>
#include <vector>

#include "allocator/backend/superslab_manager.h"
#include "allocator/learner/process_learner.h"
#include "allocator/pools/cache_gate.h"
#include "allocator/pools/thread_heap.h"
#include "hakmem/variant.h"

namespace hakmem {
namespace {

using A = ThisVariant;

TEST(LearnerIdle, FreedSlabsArePurgedWhileTheProgramSleepsOnlyWithTheLearner) {
  std::vector<void*> blocks;
  for (int i = 0; i < 20'000; ++i) {
    void* p = A::malloc(1024);
    ASSERT_NE(p, nullptr);
    memset(p, 1, 1024);
    blocks.push_back(p);
  }
  for (void* p : blocks) A::free(p);
  const SuperSlabStats freed = global_superslabs().stats();
  ASSERT_GT(freed.dirty_free_slabs, 100) << "the freed slabs wait out the delay, resident";
  // No call into the allocator from here: only a learner thread can purge.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const SuperSlabStats later = global_superslabs().stats();
  if (LEARNER_ON) {
    EXPECT_EQ(later.dirty_free_slabs, 0) << "purged by the learner thread";
    EXPECT_GT(process_learner().passes(), 10);
    EXPECT_TRUE(process_learner().running());
  } else {
    EXPECT_EQ(later.dirty_free_slabs, freed.dirty_free_slabs) << "nobody ran a purge pass";
    EXPECT_FALSE(process_learner().running());
  }
}

// A thread that frees mid and L25 blocks into its own caches and then
// blocks, making no call: the learner thread takes those caches back
// (pools/cache_gate.h) once it has been idle half a purge delay; without
// the learner they stay. The thread's next calls work from empty caches.
TEST(LearnerIdle, AnIdleThreadsMidAndL25CachesGoBackOnlyWithTheLearner) {
  const uint64_t taken_before = cache_gates().taken_bytes_total();
  std::mutex m;
  std::condition_variable cv;
  bool freed = false, wake = false;
  std::thread worker([&] {
    for (int round = 0; round < 2; ++round) {
      std::vector<void*> blocks;
      for (int i = 0; i < 64; ++i) blocks.push_back(A::malloc(8192));
      for (int i = 0; i < 8; ++i) blocks.push_back(A::malloc(96 * 1024));
      for (void* p : blocks) {
        ASSERT_NE(p, nullptr);
        memset(p, 2, 8192);
      }
      for (void* p : blocks) A::free(p);
      if (round == 1) break;
      std::unique_lock lock(m);
      freed = true;
      cv.notify_all();
      cv.wait(lock, [&] { return wake; });  // no allocator call while blocked
    }
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return freed; });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const uint64_t taken = cache_gates().taken_bytes_total() - taken_before;
  {
    std::lock_guard lock(m);
    wake = true;
  }
  cv.notify_all();
  worker.join();
  if (LEARNER_ON) {
    EXPECT_GE(taken, 64u * 8192) << "the worker's cached blocks, at least its mid ones";
  } else {
    EXPECT_EQ(taken, 0u);
  }
}

// A thread that frees tiny blocks and then blocks: its heap keeps one empty
// slab per class (pools/thread_heap.h), and its tiny cache cannot be taken
// (no gate on the tiny fast path), so nothing a pass collects or drains
// frees those slabs. The learner's take releases them once the thread has
// been idle half a purge delay; without the learner they stay.
TEST(LearnerIdle, AnIdleThreadsKeptEmptySlabsGoBackOnlyWithTheLearner) {
  std::mutex m;
  std::condition_variable cv;
  bool freed = false, wake = false;
  const ThreadHeap* heap = nullptr;
  HeapStats before;
  std::thread worker([&] {
    for (unsigned size : {64u, 256u, 512u}) {
      std::vector<void*> blocks;
      for (int i = 0; i < 4096; ++i) blocks.push_back(A::malloc(size));
      for (void* p : blocks) {
        ASSERT_NE(p, nullptr);
        memset(p, 3, size);
      }
      for (void* p : blocks) A::free(p);
    }
    std::unique_lock lock(m);
    heap = A::thread_heap();
    before = heap->stats();
    freed = true;
    cv.notify_all();
    cv.wait(lock, [&] { return wake; });  // no allocator call while blocked
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return freed; });
  }
  ASSERT_NE(heap, nullptr);
  ASSERT_GT(before.slabs_acquired, before.slabs_released) << "the worker keeps slabs: empty ones and its cache's";
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const HeapStats after = heap->stats();  // the heap lives until the worker exits
  {
    std::lock_guard lock(m);
    wake = true;
  }
  cv.notify_all();
  worker.join();
  if (LEARNER_ON) {
    EXPECT_GE(after.slabs_released - before.slabs_released, 3u) << "one kept empty slab of each of three classes";
  } else {
    EXPECT_EQ(after.slabs_released, before.slabs_released);
  }
}

}  // namespace
}  // namespace hakmem
