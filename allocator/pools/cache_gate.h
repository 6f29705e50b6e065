// CacheGate: how the learner thread takes back the private caches of a
// thread that has gone idle (its mid cache and its L25 thread cache), while
// that thread may wake up at any moment, with no atomic read-modify-write
// and no fence on the thread's own path.
//
// Why. A thread that stops calling the allocator keeps whatever its caches
// hold: two threads of phase_change kept 4.9 MiB of mid and L25 blocks
// through a 1 s pause (issue 13), which the learner could not return. Its
// heap's inbox can be collected by anyone (the busy marker, thread_heap.h),
// but its caches are popped and pushed with plain loads and stores, which
// no other thread may touch while the owner might.
//
// The handshake, an asymmetric Dekker pair (the scheme of userspace RCU's
// membarrier flavour):
//   owner, around each call that may touch its caches (Allocator's mid and
//   L25 paths; try_enter/leave, GateScope):
//     enter: inside = 1; a compiler barrier; parked? -> out (inside = 0),
//            wait until it is 0, in again
//     leave: inside = 0, a release store
//   collector (the learner thread's pass, take_idle), for an owner whose
//   activity (its heap's refills and spills: activity()) has not moved for
//   idle_ms and that is not inside:
//     parked = 1; Pal::barrier_all_threads (membarrier: every running
//     thread of the process passes a full fence); inside still 0 -> the
//     owner is outside and sees parked before it touches a cache again:
//     take the caches; parked = 0 (release)
// The membarrier stands in for the fence the owner would need between its
// store of inside and its load of parked: either the collector sees the
// owner inside, or the owner sees parked and waits. The owner pays two
// stores, a load, a test and a branch per call, on words of its own (9
// instructions with a sequence counter for the activity instead: 11 more
// per operation on 2-8 KiB mixed_lifo, callgrind). An owner whose caches
// keep hitting, with no refill or spill, looks idle and is taken now and
// then: it refills a batch per class once per idle_ms, which costs it next
// to nothing. tcmalloc takes an idle per-CPU cache through rseq's restart
// instead; jemalloc and mimalloc never take an idle thread's cache
// (jemalloc's tcache GC runs on the thread's own events).
//
// Not covered: the tiny front ends' caches. Their fast path is a pop with no
// bracket (the gate's instruction rows must not move), so an idle thread
// keeps its tiny blocks and the slabs they pin.
//
// Invariants:
//   inside == 1 <=> the owner is inside a bracketed call (brackets never nest)
//   parked == 1 only while the collector holds the registry's lock
//   the collector touches an owner's caches only while parked == 1 and
//     inside == 0 after the barrier
//   a gate is in the registry from its thread's first slow path until its
//     exit hook removes it (remove waits for a collector that is using it)
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "allocator/backend/spin_mutex.h"
#include "allocator/pal/pal.h"

namespace hakmem {

struct CacheGate {
  std::atomic<uint32_t> inside{0};  // the owner's: 1 while inside
  std::atomic<uint32_t> parked{0};  // the collector's: 1 while it may take
  // Set before add(): the owner's state; what gives its caches back
  // (returns the bytes they held), called with the owner parked outside;
  // and a count that moves while the owner works (its heap's refills and
  // spills), read at any time.
  void* owner = nullptr;
  uint64_t (*take)(void* owner) = nullptr;
  uint64_t (*activity)(void* owner) = nullptr;
  pthread_t thread{};  // the owner (a forked child keeps only its own gate)
  CacheGate* next = nullptr;
  // The collector's, under the registry's lock: the activity it last saw,
  // since when, and whether it has taken the caches since it last moved.
  uint64_t seen_activity = 0;
  uint64_t seen_ms = 0;
  bool seen = false;
  bool taken = false;

  // In; false if a collector has parked this gate: the caller is inside
  // all the same and must call wait_while_parked() before it touches a
  // cache (so that its fast path keeps no frame for the call).
  [[gnu::always_inline]] bool try_enter() {
    inside.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the collector's membarrier does the rest
    return parked.load(std::memory_order_acquire) == 0;
  }
  [[gnu::always_inline]] void enter() {
    if (!try_enter()) [[unlikely]]
      wait_while_parked();
  }
  [[gnu::always_inline]] void leave() { inside.store(0, std::memory_order_release); }
  bool is_inside() const { return inside.load(std::memory_order_relaxed) != 0; }  // the owner's own view
  // Inside and parked: out, wait for the collector, in again.
  [[gnu::noinline, gnu::cold]] void wait_while_parked();
};

// An owner's bracket around one call.
class GateScope {
 public:
  [[gnu::always_inline]] explicit GateScope(CacheGate& gate) : gate_(gate) { gate.enter(); }
  [[gnu::always_inline]] ~GateScope() { gate_.leave(); }
  GateScope(const GateScope&) = delete;
  GateScope& operator=(const GateScope&) = delete;

 private:
  CacheGate& gate_;
};

// Every running thread's gate.
class CacheGateRegistry {
 public:
  constexpr CacheGateRegistry() = default;

  // The owner, at its first slow path (owner, take and thread set).
  void add(CacheGate* gate);
  // The owner, at exit, before it flushes its caches itself.
  void remove(CacheGate* gate);

  // The learner's pass: takes the caches of every owner whose activity has
  // not moved for at least idle_ms (as seen by this pass and earlier ones),
  // that is outside, and whose caches it has not taken since; one barrier
  // per owner taken. Returns the owners taken; *bytes += what their caches held.
  // Nothing when `pal` cannot make the barrier.
  unsigned take_idle(Pal& pal, uint64_t now_ms, uint64_t idle_ms, uint64_t* bytes);

  // fork (heap_registry.cc's handlers, before any heap or pool lock: a
  // collector holds this lock while it spills to the late heap and the
  // pools): held across fork; in the child only the forking thread's gate
  // stays.
  void lock_for_fork() { lock_.lock(); }
  void unlock_after_fork() { lock_.unlock(); }
  void reset_in_child();

  unsigned size();
  // Owners taken and the bytes their caches held, since the process began.
  uint64_t taken_total() const { return taken_.load(std::memory_order_relaxed); }
  uint64_t taken_bytes_total() const { return taken_bytes_.load(std::memory_order_relaxed); }

 private:
  SpinMutex lock_;
  CacheGate* head_ = nullptr;
  std::atomic<uint64_t> taken_{0};
  std::atomic<uint64_t> taken_bytes_{0};
};

CacheGateRegistry& cache_gates();

}  // namespace hakmem
