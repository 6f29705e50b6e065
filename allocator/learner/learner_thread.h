// The learner thread (issue 13): one background thread per process that
// wakes every HAKMEM_LEARN_INTERVAL_MS and runs a pass, so a process that
// makes no call still returns memory once the purge delay has passed.
//
// Life cycle:
//   - start(): from an allocator's slow path, once the calling thread's
//     heap is set (pthread_create allocates its TLS through malloc, which
//     may be hakmem: that call finds a thread already set up). Idempotent;
//     a second caller while one starts returns at once.
//   - stop(): wakes the thread and joins it (at exit, or a test). It may be
//     started again.
//   - fork: the thread does not exist in the child. fork_prepare holds the
//     thread's mutex across fork (so the child's copy is not held by a
//     thread it lacks), and the child marks it stopped; whether the child
//     starts its own is the caller's choice (HAKMEM_LEARN_FORK).
// The pass itself is a function the caller passes: the learner owns only
// the thread, the wake-ups and the accounting (passes, CPU time).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

namespace hakmem {

class LearnerThread {
 public:
  // One wake-up's work. It reads its own clock (the pools' Pal), so its
  // readings and the pools' never disagree.
  using Pass = void (*)();

  constexpr explicit LearnerThread(Pass pass) : pass_(pass) {}
  LearnerThread(const LearnerThread&) = delete;
  LearnerThread& operator=(const LearnerThread&) = delete;

  // Starts the thread waking every `interval_ms` (>= 1), unless it runs.
  // False when pthread_create refused (it is then not running).
  bool start(uint64_t interval_ms);
  // Wakes it and waits for it to end; nothing if it is not running.
  void stop();
  bool running() const { return state_.load(std::memory_order_acquire) == kRunning; }

  int64_t passes() const { return passes_.load(std::memory_order_relaxed); }
  // CPU time the thread has used, in ns (CLOCK_THREAD_CPUTIME_ID at its
  // last pass, and at its end).
  int64_t cpu_ns() const { return cpu_ns_.load(std::memory_order_relaxed); }

  // fork handlers (see above).
  void fork_prepare() { pthread_mutex_lock(&mutex_); }
  void fork_parent() { pthread_mutex_unlock(&mutex_); }
  void fork_child();

 private:
  enum : int { kStopped, kStarting, kRunning };
  static void* main(void* self);
  void loop();

  Pass pass_;
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake_ = PTHREAD_COND_INITIALIZER;
  pthread_t thread_{};
  uint64_t interval_ms_ = 0;  // under mutex_
  bool stop_requested_ = false;  // under mutex_
  std::atomic<int> state_{kStopped};
  std::atomic<int64_t> passes_{0};
  std::atomic<int64_t> cpu_ns_{0};
};

}  // namespace hakmem
