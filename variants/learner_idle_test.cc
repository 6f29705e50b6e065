// The learner thread returns memory while the program makes no call
// (HAKMEM_LEARN_INTERVAL_MS, allocator/learner/process_learner.h). Built
// twice: with the thread (LEARNER_ON=1, interval 5 ms) and without (0),
// both with a purge delay of 50 ms, on ultra_simple, whose free list sends
// blocks past its limit home so their slabs empty.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "allocator/backend/superslab_manager.h"
#include "allocator/learner/process_learner.h"
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

}  // namespace
}  // namespace hakmem
