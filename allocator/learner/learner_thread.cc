// LearnerThread (see learner_thread.h).
#include "allocator/learner/learner_thread.h"

#include <time.h>

namespace hakmem {

bool LearnerThread::start(uint64_t interval_ms) {
  int expected = kStopped;
  if (!state_.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) return true;
  pthread_mutex_lock(&mutex_);
  interval_ms_ = interval_ms < 1 ? 1 : interval_ms;
  stop_requested_ = false;
  pthread_mutex_unlock(&mutex_);
  if (pthread_create(&thread_, nullptr, &LearnerThread::main, this) != 0) {
    state_.store(kStopped, std::memory_order_release);
    return false;
  }
  state_.store(kRunning, std::memory_order_release);
  return true;
}

void LearnerThread::stop() {
  int expected = kRunning;
  if (!state_.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) return;
  pthread_mutex_lock(&mutex_);
  stop_requested_ = true;
  pthread_cond_signal(&wake_);
  pthread_mutex_unlock(&mutex_);
  pthread_join(thread_, nullptr);
  state_.store(kStopped, std::memory_order_release);
}

void LearnerThread::fork_child() {
  // The thread is the parent's; the child has only the forking thread.
  const pthread_mutex_t fresh_mutex = PTHREAD_MUTEX_INITIALIZER;
  const pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
  mutex_ = fresh_mutex;
  wake_ = fresh_cond;
  state_.store(kStopped, std::memory_order_release);
}

void* LearnerThread::main(void* self) {
  static_cast<LearnerThread*>(self)->loop();
  return nullptr;
}

namespace {

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

void LearnerThread::loop() {
  pthread_mutex_lock(&mutex_);
  while (!stop_requested_) {
    timespec deadline{};
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    const uint64_t ns = static_cast<uint64_t>(deadline.tv_nsec) + interval_ms_ * 1'000'000;
    deadline.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
    deadline.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    while (!stop_requested_ && pthread_cond_clockwait(&wake_, &mutex_, CLOCK_MONOTONIC, &deadline) == 0) {
    }
    if (stop_requested_) break;
    // The pass runs without the mutex: it takes the pools' locks, and a
    // fork waits for those (fork_prepare takes this one after them).
    pthread_mutex_unlock(&mutex_);
    pass_();
    passes_.fetch_add(1, std::memory_order_relaxed);
    cpu_ns_.store(thread_cpu_ns(), std::memory_order_relaxed);
    pthread_mutex_lock(&mutex_);
  }
  pthread_mutex_unlock(&mutex_);
  cpu_ns_.store(thread_cpu_ns(), std::memory_order_relaxed);
}

}  // namespace hakmem
