// The process's learner thread (issue 13), as far as it goes so far: with
// HAKMEM_LEARN_INTERVAL_MS > 0 it wakes every that many ms and runs every
// pool's purge pass (PurgeScheduler::purge_expired, pools/purge.h), so a
// process that has stopped calling malloc and free still returns what the
// purge delay held back. Without it, such a process kept its memory until
// its next call. The controllers of //allocator/learn are to join it.
//
// Started by maybe_start_learner(), which the allocator calls from its
// purge check (a cold path, every 8th cold event of a thread, after the
// thread's heap is set: pthread_create allocates through malloc), so the
// first thread that does real work starts it. Stopped at exit (atexit).
// A forked child has no learner thread; with HAKMEM_LEARN_AFTER_FORK=1 its
// next purge check starts one, with 0 it runs without.
#pragma once

#include <atomic>

#include "allocator/learner/learner_thread.h"

namespace hakmem {

// 0: not decided yet; 1: the options ask for no learner; 2: wanted (the
// thread runs, or a fork left the child without it); 3: a forked child that
// runs without one (HAKMEM_LEARN_AFTER_FORK=0).
extern std::atomic<int> g_learner_wanted;
void start_learner_slow();

// Starts the process's learner thread if the options ask for one and it is
// not running: inline, one relaxed load and a branch when the options ask
// for none (the default), so the purge check that calls it gains nothing.
inline void maybe_start_learner() {
  if (g_learner_wanted.load(std::memory_order_relaxed) != 1) [[unlikely]]
    start_learner_slow();
}

// The process's learner (tests read its passes and CPU time).
LearnerThread& process_learner();

}  // namespace hakmem
