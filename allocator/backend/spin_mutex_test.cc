// SpinMutex: mutual exclusion under contention, and a waiter that gave up
// spinning and sleeps is woken by the unlock.
#include "allocator/backend/spin_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace hakmem {
namespace {

TEST(SpinMutex, FourThreadsIncrementingUnderItLoseNoUpdate) {
  SpinMutex mutex;
  uint64_t counter = 0;  // plain: only the lock orders the increments
  constexpr int kThreads = 4, kEach = 200'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        std::lock_guard lock(mutex);
        ++counter;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kEach);
}

TEST(SpinMutex, AWaiterThatSleptIsWokenByTheUnlock) {
  SpinMutex mutex;
  mutex.lock();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    mutex.lock();  // spins out, then sleeps on the futex
    got.store(true);
    mutex.unlock();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // far past the spin
  EXPECT_FALSE(got.load());
  mutex.unlock();
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_TRUE(mutex.try_lock()) << "free again after the waiter's unlock";
  EXPECT_FALSE(mutex.try_lock());
  mutex.unlock();
}

TEST(SpinMutex, IsConstantInitialisable) {
  static constinit SpinMutex mutex;
  EXPECT_TRUE(mutex.try_lock());
  mutex.unlock();
}

}  // namespace
}  // namespace hakmem
