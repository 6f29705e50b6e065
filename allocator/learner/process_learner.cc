// The process's learner (see process_learner.h).
#include "allocator/learner/process_learner.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "allocator/config/options.h"
#include "allocator/config/tunables.h"
#include "allocator/learn/knob_file.h"
#include "allocator/pal/log.h"
#include "allocator/pal/pal.h"
#include "allocator/pal/small_file.h"
#include "allocator/pools/cache_gate.h"
#include "allocator/pools/heap_registry.h"
#include "allocator/pools/purge.h"

namespace hakmem {
namespace {

// 20 ms: ACE's reaction is HAKMEM_LEARN_DWELL_WINDOWS windows, and at 50 ms
// (150 ms) phase_change's working set phase (about 250 ms on two threads)
// was half over before the mid and L25 budgets grew; it took 250-330 ms
// against 130-155 ms with those budgets fixed at 4 MiB. At 20 ms it takes
// 140-170 ms, the RSS integral falls from 48-52 to 36-37 MiB*s, and the
// learner's CPU share rises from 0.6% to 1.0% (5 interleaved reps, preload).
constexpr uint64_t kDefaultIntervalMs = 20;

void pass();

constinit LearnerThread g_thread{&pass};
constinit Learner g_learner{};
constinit FrontEndHooks g_hooks{};
constinit uint64_t g_interval_ms = 0;
// Why frozen runs without its file's knobs (a constant string), or nullptr.
constinit char g_error[256] = "";

void pass() {
  const uint64_t now = os_pal().now_ms();
  global_purge().purge_expired(now);
  // Threads idle for half a purge delay give their mid and L25 caches back
  // (pools/cache_gate.h), and their heaps the empty slab kept per class;
  // mid blocks of other heaps empty into those heaps' inboxes, which the
  // next line collects, and the pages go at the next delay.
  uint64_t taken_bytes = 0;
  cache_gates().take_idle(os_pal(), now, tunables::purge_delay_ms() / 2, &taken_bytes);
  drain_idle_inboxes();
  if (g_hooks.decay_pass != nullptr) g_hooks.decay_pass(now);
  if (g_learner.mode() == LearnMode::kRules || g_learner.mode() == LearnMode::kOn)
    g_learner.step(process_snapshot(), now);
}

const char* learn_file() {
  const char* path = getenv("HAKMEM_LEARN_FILE");
  return path != nullptr && path[0] != '\0' ? path : nullptr;
}

// HAKMEM_LEARN=frozen: the file's knobs, or false (g_error says why).
bool load_frozen(const learn::KnobBounds& b, learn::Knobs* k) {
  const char* path = learn_file();
  if (path == nullptr) {
    snprintf(g_error, sizeof g_error, "HAKMEM_LEARN=frozen needs HAKMEM_LEARN_FILE");
    return false;
  }
  char text[learn::kKnobFileMax];
  if (read_small_file(path, text, sizeof text) < 0) {
    snprintf(g_error, sizeof g_error, "HAKMEM_LEARN_FILE=%s: %s", path, strerror(errno));
    return false;
  }
  char why[160];
  if (!learn::parse_knobs(text, b, k, why, sizeof why)) {
    snprintf(g_error, sizeof g_error, "HAKMEM_LEARN_FILE=%s: %s", path, why);
    return false;
  }
  return true;
}

void stop_at_exit() {
  g_thread.stop();
  const LearnMode mode = g_learner.mode();
  const char* path = learn_file();
  if (path == nullptr || (mode != LearnMode::kRules && mode != LearnMode::kOn)) return;
  char text[learn::kKnobFileMax];
  const size_t n = learn::format_knobs(g_learner.knobs(), text, sizeof text);
  if (n == 0 || !write_small_file(path, text, n))
    log_message("hakmem: could not write the learned knobs to HAKMEM_LEARN_FILE=%s: %s", path, strerror(errno));
}

void fork_prepare() { g_thread.fork_prepare(); }
void fork_parent() { g_thread.fork_parent(); }
void fork_child() {
  g_thread.fork_child();
  if (option_value(Option::kLearnAfterFork) == 0) g_learner_wanted.store(3, std::memory_order_relaxed);
}

[[gnu::cold, gnu::noinline]] void first_start(const FrontEndHooks& hooks) {
  int expected = 0;
  const auto mode = static_cast<LearnMode>(option_value(Option::kLearn));
  const auto asked = static_cast<uint64_t>(option_value(Option::kLearnIntervalMs));
  const uint64_t interval = asked != 0 ? asked : mode != LearnMode::kOff ? kDefaultIntervalMs : 0;
  if (!g_learner_wanted.compare_exchange_strong(expected, interval != 0 ? 2 : 1, std::memory_order_acq_rel)) return;
  g_hooks = hooks;
  g_interval_ms = interval;
  const learn::KnobBounds bounds = learn::bounds_from_options();
  learn::Knobs knobs = learn::default_knobs(bounds, hooks.layout.cache_blocks, hooks.layout.refill_blocks);
  if (mode == LearnMode::kFrozen && !load_frozen(bounds, &knobs)) log_message("hakmem: %s; the default knobs are used", g_error);
  // Off keeps the options' knobs unpublished: the pools read the options,
  // as they do with no learner at all.
  const uint64_t now = os_pal().now_ms();
  g_learner.begin(mode, bounds, knobs, mode == LearnMode::kOff ? Snapshot{} : process_snapshot(), now,
                  mode == LearnMode::kOff ? nullptr : &publish_to_process);
  if (interval == 0) return;
  add_fork_hooks({&fork_prepare, &fork_parent, &fork_child});
  g_thread.start(interval);  // stopped at exit by stop_learner_at_exit
}

}  // namespace

constinit std::atomic<int> g_learner_wanted{0};

// The thread stops, and the learned knobs are written, from this library's
// (or program's) destructor, not from an atexit registered at the lazy
// first start: that start runs inside whatever allocation call comes
// first, which can be the calloc glibc makes while it holds its
// exit-handler lock (every 32nd atexit), and atexit takes that lock again.
// g++'s cc1plus deadlocked so under HAKMEM_LEARN=on (atexit_probe.c).
// A forked child without the thread (3) still writes the knobs, as its
// inherited atexit did.
namespace {
[[gnu::destructor]] void stop_learner_at_exit() {
  if (g_learner_wanted.load(std::memory_order_acquire) >= 2) stop_at_exit();
}
}  // namespace

void start_learner_slow(const FrontEndHooks& hooks) {
  const int wanted = g_learner_wanted.load(std::memory_order_relaxed);
  if (wanted == 0) {
    first_start(hooks);
  } else if (wanted == 2 && !g_thread.running()) {
    g_thread.start(g_interval_ms);  // a forked child's
  }
}

LearnerThread& process_learner() { return g_thread; }
const Learner& process_learner_state() { return g_learner; }

LearnReport learn_report() {
  static constexpr const char* kModes[] = {"off", "rules", "on", "frozen"};
  const int decided = g_learner_wanted.load(std::memory_order_acquire);
  LearnReport r;
  r.mode = kModes[static_cast<unsigned>(decided == 0 ? LearnMode::kOff : g_learner.mode())];
  r.interval_ms = decided == 0 ? 0 : g_interval_ms;
  r.passes = static_cast<uint64_t>(g_thread.passes());
  r.cpu_ns = static_cast<uint64_t>(g_thread.cpu_ns());
  r.decisions = g_learner.trace().size();
  r.dropped = g_learner.trace().dropped();
  r.error = g_error[0] != '\0' ? g_error : nullptr;
  r.clock_ms = os_pal().now_ms();
  return r;
}

}  // namespace hakmem
