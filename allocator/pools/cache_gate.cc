// CacheGate and its registry (see cache_gate.h).
#include "allocator/pools/cache_gate.h"

#include <sched.h>

#include <new>

namespace hakmem {
namespace {
constinit CacheGateRegistry g_gates;
}  // namespace

CacheGateRegistry& cache_gates() { return g_gates; }

void CacheGate::wait_while_parked() {
  // A collector is deciding or taking: step outside, so that it may, and
  // come back once it is done (it takes a few lists; spin, then yield).
  do {
    inside.store(0, std::memory_order_release);
    for (unsigned spins = 0; parked.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 64) __builtin_ia32_pause();
      else sched_yield();
    }
    inside.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } while (parked.load(std::memory_order_acquire) != 0);
}

void CacheGateRegistry::add(CacheGate* gate) {
  lock_.lock();
  gate->seen = false;
  gate->taken = false;
  gate->next = head_;
  head_ = gate;
  lock_.unlock();
}

void CacheGateRegistry::remove(CacheGate* gate) {
  lock_.lock();
  for (CacheGate** at = &head_; *at != nullptr; at = &(*at)->next) {
    if (*at == gate) {
      *at = gate->next;
      break;
    }
  }
  gate->next = nullptr;
  lock_.unlock();
}

unsigned CacheGateRegistry::take_idle(Pal& pal, uint64_t now_ms, uint64_t idle_ms, uint64_t* bytes) {
  unsigned taken = 0;
  uint64_t taken_bytes = 0;
  lock_.lock();
  for (CacheGate* g = head_; g != nullptr; g = g->next) {
    const uint64_t a = g->activity(g->owner);
    if (!g->seen || a != g->seen_activity || g->inside.load(std::memory_order_acquire) != 0) {
      // Inside now, or busy since the last look: idle from now at best.
      g->seen = true;
      g->seen_activity = a;
      g->seen_ms = now_ms;
      g->taken = false;
      continue;
    }
    if (g->taken || now_ms - g->seen_ms < idle_ms) continue;
    g->parked.store(1, std::memory_order_seq_cst);
    if (!pal.barrier_all_threads()) {
      g->parked.store(0, std::memory_order_release);
      break;  // no barrier, no handshake: nothing can be taken safely
    }
    if (g->inside.load(std::memory_order_acquire) == 0) {
      taken_bytes += g->take(g->owner);
      g->taken = true;
      ++taken;
    }
    g->parked.store(0, std::memory_order_release);
  }
  lock_.unlock();
  taken_.fetch_add(taken, std::memory_order_relaxed);
  taken_bytes_.fetch_add(taken_bytes, std::memory_order_relaxed);
  *bytes += taken_bytes;
  return taken;
}

void CacheGateRegistry::reset_in_child() {
  // The lock was held across fork by the forking thread: a fresh one. The
  // other threads do not exist here; their caches stay where they are.
  new (&lock_) SpinMutex();
  const pthread_t self = pthread_self();
  CacheGate* kept = nullptr;
  for (CacheGate* g = head_; g != nullptr; g = g->next) {
    if (pthread_equal(g->thread, self)) {
      kept = g;
      break;
    }
  }
  head_ = kept;
  if (kept != nullptr) {
    kept->next = nullptr;
    kept->parked.store(0, std::memory_order_relaxed);
    kept->seen = false;
  }
}

unsigned CacheGateRegistry::size() {
  unsigned n = 0;
  lock_.lock();
  for (CacheGate* g = head_; g != nullptr; g = g->next) ++n;
  lock_.unlock();
  return n;
}

}  // namespace hakmem
