// The process's learner thread (see process_learner.h).
#include "allocator/learner/process_learner.h"

#include <cstdlib>

#include "allocator/config/options.h"
#include "allocator/pal/pal.h"
#include "allocator/pools/heap_registry.h"
#include "allocator/pools/purge.h"

namespace hakmem {
namespace {

void purge_pass() { global_purge().purge_expired(os_pal().now_ms()); }

constinit LearnerThread g_learner{&purge_pass};

void stop_at_exit() { g_learner.stop(); }
void fork_prepare() { g_learner.fork_prepare(); }
void fork_parent() { g_learner.fork_parent(); }
void fork_child() {
  g_learner.fork_child();
  if (option_value(Option::kLearnAfterFork) == 0) g_learner_wanted.store(3, std::memory_order_relaxed);
}

[[gnu::cold, gnu::noinline]] void first_start() {
  int expected = 0;
  const bool wanted = option_value(Option::kLearnIntervalMs) > 0;
  if (!g_learner_wanted.compare_exchange_strong(expected, wanted ? 2 : 1, std::memory_order_acq_rel)) return;
  if (!wanted) return;
  add_fork_hooks({&fork_prepare, &fork_parent, &fork_child});
  atexit(&stop_at_exit);
  g_learner.start(static_cast<uint64_t>(option_value(Option::kLearnIntervalMs)));
}

}  // namespace

constinit std::atomic<int> g_learner_wanted{0};

void start_learner_slow() {
  const int wanted = g_learner_wanted.load(std::memory_order_relaxed);
  if (wanted == 0) {
    first_start();
  } else if (wanted == 2 && !g_learner.running()) {
    g_learner.start(static_cast<uint64_t>(option_value(Option::kLearnIntervalMs)));  // a forked child's
  }
}

LearnerThread& process_learner() { return g_learner; }

}  // namespace hakmem
