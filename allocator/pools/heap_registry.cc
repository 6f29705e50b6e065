// HeapRegistry: carving heaps from Pal-mapped chunks, the abandoned stack,
// and the process-wide registry.
#include "allocator/pools/heap_registry.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <new>

#include "allocator/backend/large.h"
#include "allocator/config/layout.h"
#include "allocator/pal/log.h"
#include "allocator/pal/pal.h"
#include "allocator/pools/cache_gate.h"
#include "allocator/pools/l25_pool.h"

namespace hakmem {
namespace {

constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kHeapSpan = align_up(sizeof(ThreadHeap), 64);

constinit HeapRegistry g_heaps{&g_superslabs};

}  // namespace

ThreadHeap* HeapRegistry::carve_locked() {
  if (chunk_cursor_ == nullptr || chunk_cursor_ + kHeapSpan > chunk_end_) {
    auto* chunk = static_cast<char*>(superslabs_->pal().map(kChunkSize, kPageSize));
    if (chunk == nullptr) return nullptr;
    chunk_cursor_ = chunk;
    chunk_end_ = chunk + kChunkSize;
  }
  void* mem = chunk_cursor_;
  chunk_cursor_ += kHeapSpan;
  created_.fetch_add(1, std::memory_order_relaxed);
  return new (mem) ThreadHeap(superslabs_);
}

ThreadHeap* HeapRegistry::acquire() {
  active_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  if (ThreadHeap* heap = abandoned_; heap != nullptr) {
    abandoned_ = heap->next_abandoned;
    heap->next_abandoned = nullptr;
    lock.unlock();
    heap->adopt();
    return heap;
  }
  ThreadHeap* heap = carve_locked();
  if (heap == nullptr) {
    active_.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  heap->next_in_registry = all_;
  all_ = heap;
  return heap;
}

void HeapRegistry::release(ThreadHeap* heap) {
  active_.fetch_sub(1, std::memory_order_relaxed);
  heap->abandon();
  std::lock_guard lock(mutex_);
  heap->next_abandoned = abandoned_;
  abandoned_ = heap;
}

ThreadHeap* HeapRegistry::late() {
  if (ThreadHeap* heap = late_.load(std::memory_order_acquire)) [[likely]]
    return heap;
  std::lock_guard lock(mutex_);
  if (ThreadHeap* heap = late_.load(std::memory_order_relaxed)) return heap;
  ThreadHeap* heap = carve_locked();
  if (heap == nullptr) return nullptr;
  heap->next_in_registry = all_;
  all_ = heap;
  late_.store(heap, std::memory_order_release);
  return heap;
}

void HeapRegistry::fork_prepare() {
  mutex_.lock();
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) heap->claim_for_fork();
  superslabs_->lock_for_fork();
}

void HeapRegistry::fork_parent() {
  superslabs_->unlock_after_fork();
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) heap->release_after_fork();
  mutex_.unlock();
}

void HeapRegistry::fork_child(ThreadHeap* survivor) {
  superslabs_->reset_lock_in_child();
  new (&mutex_) std::mutex;
  // Rebuilt from scratch: a heap popped by a thread that had not adopted it
  // yet at fork time is in neither the stack nor any thread's hands.
  ThreadHeap* const late = late_.load(std::memory_order_relaxed);
  abandoned_ = nullptr;
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) {
    heap->reset_busy_in_child();
    if (heap == survivor || heap == late) continue;
    heap->mark_abandoned_in_child();
    heap->next_abandoned = abandoned_;
    abandoned_ = heap;
  }
  active_.store(survivor != nullptr ? 1 : 0, std::memory_order_relaxed);
  // Their inboxes are collected and their empty slabs released now.
  for (ThreadHeap* heap = abandoned_; heap != nullptr; heap = heap->next_abandoned) heap->trim_if_idle();
}

void HeapRegistry::trim_all() {
  std::lock_guard lock(mutex_);
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) heap->trim_if_idle();
}

void HeapRegistry::drain_idle_inboxes() {
  std::lock_guard lock(mutex_);
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) heap->collect_if_idle();
}

HeapStats HeapRegistry::total_stats() {
  HeapStats total;
  std::lock_guard lock(mutex_);
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) {
    const HeapStats s = heap->stats();
    total.refills += s.refills;
    total.refilled_blocks += s.refilled_blocks;
    total.spilled_blocks += s.spilled_blocks;
    total.remote_blocks_sent += s.remote_blocks_sent;
    total.remote_blocks_received += s.remote_blocks_received;
    total.slabs_acquired += s.slabs_acquired;
    total.slabs_released += s.slabs_released;
  }
  return total;
}

ClassStatsTable HeapRegistry::total_class_stats() {
  ClassStatsTable total{};
  std::lock_guard lock(mutex_);
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) {
    for (unsigned c = 0; c < kSlabClasses; ++c) {
      const ClassStats s = heap->class_stats(c);
      total[c].refills += s.refills;
      total[c].refilled_blocks += s.refilled_blocks;
      total[c].spilled_blocks += s.spilled_blocks;
      total[c].freed_blocks += s.freed_blocks;
      total[c].spills += s.spills;
      total[c].turns += s.turns;
    }
  }
  return total;
}

namespace {

constexpr unsigned kMaxForkHooks = 8;
// The forking thread's heap, asked of the allocator in the child (its TLS
// is the allocator's, above this layer).
constinit std::atomic<ThreadHeap* (*)()> g_fork_survivor_fn{nullptr};
ThreadHeap* g_fork_survivor() {
  ThreadHeap* (*fn)() = g_fork_survivor_fn.load(std::memory_order_relaxed);
  return fn != nullptr ? fn() : nullptr;
}
constinit ForkHooks g_fork_hooks[kMaxForkHooks]{};
constinit std::atomic<unsigned> g_fork_hook_count{0};
constinit unsigned g_fork_hooks_taken = 0;  // how many prepare() ran: parent/child undo those
// Held from prepare to parent/child, and by add_fork_hooks: a set added
// while a fork is under way waits for it, so every lock a front end can
// hold at fork time belongs to a set prepare() runs.
constinit std::atomic<bool> g_fork_hooks_lock{false};
constinit std::atomic<bool> g_fork_handlers_installed{false};

void lock_fork_hooks() {
  while (g_fork_hooks_lock.exchange(true, std::memory_order_acquire)) sched_yield();
}
void unlock_fork_hooks() { g_fork_hooks_lock.store(false, std::memory_order_release); }

void prepare_fork() {
  lock_fork_hooks();
  cache_gates().lock_for_fork();  // first: a collector holding it takes the heaps' and pools' locks
  g_heaps.fork_prepare();
  g_l25_pool.lock_for_fork();
  global_large().lock_for_fork();
  g_fork_hooks_taken = g_fork_hook_count.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < g_fork_hooks_taken; ++i) g_fork_hooks[i].prepare();
}

void after_fork_in_parent() {
  for (unsigned i = g_fork_hooks_taken; i-- > 0;) g_fork_hooks[i].parent();
  global_large().unlock_after_fork();
  g_l25_pool.unlock_after_fork();
  g_heaps.fork_parent();
  cache_gates().unlock_after_fork();
  unlock_fork_hooks();
}

void after_fork_in_child() {
  for (unsigned i = g_fork_hooks_taken; i-- > 0;) g_fork_hooks[i].child();
  g_l25_pool.reset_locks_in_child();
  global_large().reset_lock_in_child();
  g_heaps.fork_child(g_fork_survivor());
  cache_gates().reset_in_child();
  g_fork_hooks_lock.store(false, std::memory_order_relaxed);
}

}  // namespace

void add_fork_hooks(const ForkHooks& hooks) {
  lock_fork_hooks();
  const unsigned i = g_fork_hook_count.load(std::memory_order_relaxed);
  if (i == kMaxForkHooks) fatal("more than %u sets of fork hooks", kMaxForkHooks);
  g_fork_hooks[i] = hooks;
  g_fork_hook_count.store(i + 1, std::memory_order_relaxed);
  unlock_fork_hooks();
}

void install_fork_handlers(ThreadHeap* (*survivor)()) {
  if (g_fork_handlers_installed.load(std::memory_order_acquire)) [[likely]]
    return;
  if (g_fork_handlers_installed.exchange(true, std::memory_order_acq_rel)) return;
  g_fork_survivor_fn.store(survivor, std::memory_order_release);
  if (pthread_atfork(prepare_fork, after_fork_in_parent, after_fork_in_child) != 0) {
    fatal("pthread_atfork failed: fork would hang children");
  }
}

ThreadHeap* acquire_heap() { return g_heaps.acquire(); }
void release_heap(ThreadHeap* heap) { g_heaps.release(heap); }
int active_heaps() { return g_heaps.active(); }
void trim_all_heaps() { g_heaps.trim_all(); }
void drain_idle_inboxes() { g_heaps.drain_idle_inboxes(); }
int created_heaps() { return g_heaps.created(); }
ThreadHeap* late_heap() { return g_heaps.late(); }
HeapStats total_heap_stats() { return g_heaps.total_stats(); }
ClassStatsTable total_class_stats() { return g_heaps.total_class_stats(); }

}  // namespace hakmem
