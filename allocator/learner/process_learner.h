// The process's learner (issue 13): HAKMEM_LEARN's mode, the learner
// thread, and what the harness reads of them (hak_learn_report).
//
//   off     fixed knobs (the options'); no thread unless
//           HAKMEM_LEARN_INTERVAL_MS asks for one (then it only purges)
//   rules   the baseline controller (learn/controller.h, rules_step)
//   on      ACE (ace_step)
//   frozen  the knobs in HAKMEM_LEARN_FILE, fixed; a file that cannot be
//           read or parsed gets one line on stderr, and the run goes on
//           with the options' knobs (hak_learn_report says why)
// Under rules and on, with HAKMEM_LEARN_FILE set, the knobs in force at
// exit are written to that file, for a later frozen run.
//
// Each pass of the learner thread (every HAKMEM_LEARN_INTERVAL_MS, 20 ms
// by default when the mode is not off):
//   - every pool's purge pass (PurgeScheduler::purge_expired), so memory
//     is returned while the program sleeps;
//   - the mid and L25 caches of threads whose caches have not turned over
//     for half a purge delay are taken back (CacheGateRegistry::take_idle),
//     their blocks home through the late heap and to the L25 pool, and
//     their heaps release the empty slab they keep per class;
//   - the inboxes of heaps whose owners are not in them are collected
//     (HeapRegistry::drain_idle_inboxes), so blocks freed to a thread that
//     has gone quiet go home;
//   - the front end's shared decay (a magazine depot's idle magazines go
//     home, through the late heap);
//   - under rules and on, a snapshot and one controller step; changed
//     knobs are published (config/tunables.h), and threads take them at
//     their next purge check.
//
// Started by maybe_start_learner(), which the allocator calls from its
// purge check (a cold path, every 8th cold event of a thread, after the
// thread's heap is set: pthread_create allocates through malloc), so the
// first thread that does real work starts it. Stopped at exit (a
// destructor: an atexit from inside malloc can deadlock, process_learner.cc).
// A forked child has no learner thread; with HAKMEM_LEARN_AFTER_FORK=1 its
// next purge check starts one, with 0 it runs without.
#pragma once

#include <atomic>
#include <cstdint>

#include "allocator/config/tunables.h"
#include "allocator/learner/learner.h"
#include "allocator/learner/learner_thread.h"

namespace hakmem {

// What the allocator tells the learner about its front end when it starts
// it: the tiny layout the knobs start from, and the front end's shared
// decay pass (nullptr when it has none).
struct FrontEndHooks {
  tunables::TinyLayout layout;
  void (*decay_pass)(uint64_t now_ms);
};

// 0: not decided yet; 1: no learner thread is wanted; 2: wanted (the
// thread runs, or a fork left the child without it); 3: a forked child
// that runs without one (HAKMEM_LEARN_AFTER_FORK=0).
extern std::atomic<int> g_learner_wanted;
void start_learner_slow(const FrontEndHooks& hooks);

// Starts the process's learner if the options ask for one and it is not
// running: inline, one relaxed load and a branch once decided and off
// (the default), so the purge check that calls it gains nothing.
inline void maybe_start_learner(const FrontEndHooks& hooks) {
  if (g_learner_wanted.load(std::memory_order_relaxed) != 1) [[unlikely]]
    start_learner_slow(hooks);
}

// What the C ABI's hak_learn_report says (api/c_api.h).
struct LearnReport {
  const char* mode;
  uint64_t interval_ms, passes, cpu_ns, decisions, dropped;
  const char* error;
  uint64_t clock_ms;
};
LearnReport learn_report();

// The process's learner thread and learner (tests read passes, CPU time,
// the trace).
LearnerThread& process_learner();
const Learner& process_learner_state();

}  // namespace hakmem
