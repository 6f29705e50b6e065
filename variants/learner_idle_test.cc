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
#include <functional>
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

// A worker thread that runs `before`, then blocks, making no allocator
// call, until wake_and_join(); then runs `after` and exits. The learner
// thread sees it idle while it is parked.
class ParkedWorker {
 public:
  explicit ParkedWorker(std::function<void()> before, std::function<void()> after = [] {})
      : thread_([this, before = std::move(before), after = std::move(after)] {
          before();
          {
            std::unique_lock lock(m_);
            parked_ = true;
            cv_.notify_all();
            cv_.wait(lock, [&] { return wake_; });  // no allocator call while blocked
          }
          after();
        }) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return parked_; });
  }
  void wake_and_join() {
    {
      std::lock_guard lock(m_);
      wake_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool parked_ = false, wake_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

// A thread that frees mid and L25 blocks into its own caches and then
// blocks, making no call: the learner thread takes those caches back
// (pools/cache_gate.h) once it has been idle half a purge delay; without
// the learner they stay. The thread's next calls work from empty caches.
TEST(LearnerIdle, AnIdleThreadsMidAndL25CachesGoBackOnlyWithTheLearner) {
  const uint64_t taken_before = cache_gates().taken_bytes_total();
  const auto round = [] {
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i) blocks.push_back(A::malloc(8192));
    for (int i = 0; i < 8; ++i) blocks.push_back(A::malloc(96 * 1024));
    for (void* p : blocks) {
      ASSERT_NE(p, nullptr);
      memset(p, 2, 8192);
    }
    for (void* p : blocks) A::free(p);
  };
  ParkedWorker worker(round, round);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const uint64_t taken = cache_gates().taken_bytes_total() - taken_before;
  worker.wake_and_join();
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
  const ThreadHeap* heap = nullptr;
  HeapStats before;
  ParkedWorker worker([&] {
    for (unsigned size : {64u, 256u, 512u}) {
      std::vector<void*> blocks;
      for (int i = 0; i < 4096; ++i) blocks.push_back(A::malloc(size));
      for (void* p : blocks) {
        ASSERT_NE(p, nullptr);
        memset(p, 3, size);
      }
      for (void* p : blocks) A::free(p);
    }
    heap = A::thread_heap();
    before = heap->stats();
  });
  ASSERT_NE(heap, nullptr);
  ASSERT_GT(before.slabs_acquired, before.slabs_released) << "the worker keeps slabs: empty ones and its cache's";
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const HeapStats after = heap->stats();  // the heap lives until the worker exits
  worker.wake_and_join();
  if (LEARNER_ON) {
    EXPECT_GE(after.slabs_released - before.slabs_released, 3u) << "one kept empty slab of each of three classes";
  } else {
    EXPECT_EQ(after.slabs_released, before.slabs_released);
  }
}

}  // namespace
}  // namespace hakmem
