// The heap registry: where thread heaps come from and where they go when
// their thread exits. Heaps are never unmapped (a slab's owner pointer must
// stay valid while other threads still hold its blocks); an abandoned heap
// is adopted by the next new thread instead.
#pragma once

#include <atomic>
#include <mutex>

#include "allocator/backend/superslab_manager.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

// Heaps live in chunks mapped through the backend's Pal (never from malloc:
// this code runs inside malloc), in one list, plus a stack of abandoned ones.
class HeapRegistry {
 public:
  // Heaps take their slabs from `superslabs`, and their own memory from the
  // same Pal (superslabs->pal()).
  constexpr explicit HeapRegistry(SuperSlabManager* superslabs) : superslabs_(superslabs) {}
  HeapRegistry(const HeapRegistry&) = delete;
  HeapRegistry& operator=(const HeapRegistry&) = delete;

  // A heap for the calling thread: an abandoned one if any (its slabs and
  // all), else a new one. nullptr only if the Pal refuses memory for the
  // heap itself; the registry is unchanged then, and a later call retries.
  ThreadHeap* acquire();

  // The calling thread is done with `heap` (its front end already flushed).
  void release(ThreadHeap* heap);

  // The heap for threads past their exit destructor (Allocator::late_malloc):
  // one per registry, made on first use, never released or counted active.
  // Its callers share it; its busy marker serialises them. nullptr only if
  // the Pal refuses memory for it (a later call retries).
  ThreadHeap* late();

  // fork. Lock order (prepare takes them in this order; the parent
  // releases them in reverse; the child makes them anew):
  //   1. this registry's mutex;
  //   2. every heap's busy marker, in registry order (waiting for owners and
  //      collectors to leave);
  //   3. the SuperSlab manager's mutex;
  //   4. the L25 pool's shared-cache locks in class order, then its span
  //      manager's (taken by the process-wide handlers right after this
  //      registry's: l25_pool.h; a shared cache never holds its lock
  //      while it calls the span manager);
  //   5. the large cache's mutex (global_large(), taken by the same
  //      handlers right after the L25 pool's);
  //   6. the front ends' shared locks, through the hooks they added
  //      (add_fork_hooks: a magazine pool's mutex, then its depot's bins).
  // Nothing that holds one of these waits for an earlier one, so prepare
  // cannot deadlock. In the child, `survivor` (the forking thread's heap,
  // or nullptr) stays active and every other heap but the late heap is
  // abandoned, for new threads to adopt: their threads do not exist there.
  void fork_prepare();
  void fork_parent();
  void fork_child(ThreadHeap* survivor);

  // Collects the inbox of every heap, live or abandoned, whose owner is not
  // using it, and releases its empty slabs (ThreadHeap::trim_if_idle).
  void trim_all();

  // Collects the inbox of every heap whose owner is not using it
  // (ThreadHeap::collect_if_idle): the learner thread's pass.
  void drain_idle_inboxes();

  // Heaps owned by running threads (acquired and not yet released).
  int active() const { return active_.load(std::memory_order_relaxed); }

  // Heaps ever made (the late heap included); heaps are never unmapped.
  int created() const { return created_.load(std::memory_order_relaxed); }

  // Sum of every heap's statistics, live and abandoned.
  HeapStats total_stats();
  ClassStatsTable total_class_stats();

 private:
  ThreadHeap* carve_locked();

  SuperSlabManager* superslabs_;
  std::mutex mutex_;
  ThreadHeap* all_ = nullptr;
  ThreadHeap* abandoned_ = nullptr;
  char* chunk_cursor_ = nullptr;
  char* chunk_end_ = nullptr;
  std::atomic<ThreadHeap*> late_{nullptr};
  std::atomic<int> active_{0};
  std::atomic<int> created_{0};
};

// The process-wide registry, on global_superslabs(); these functions are
// the whole of its use.
ThreadHeap* acquire_heap();
void release_heap(ThreadHeap* heap);
int active_heaps();

// Shared front-end state with locks of its own (a magazine pool and depot)
// joins the fork handlers: prepare() after the core's locks, parent() and
// child() before them. Up to 8 sets; no allocation (this runs in malloc).
struct ForkHooks {
  void (*prepare)();
  void (*parent)();
  void (*child)();
};
void add_fork_hooks(const ForkHooks& hooks);

// Registers the process's fork handlers (pthread_atfork), once: prepare
// takes every lock in HeapRegistry's order, the parent releases them, the
// child makes them anew and reclaims the heaps of threads it does not have.
// `survivor` names the calling thread's heap (the allocator's TLS); in the
// child it is asked for the forking thread's. Called by a thread's first
// slow path after its heap is set: pthread_atfork may allocate. A second
// allocator type in the same process (a test binary) shares the handlers:
// the registry and its heaps are process-wide.
void install_fork_handlers(ThreadHeap* (*survivor)());
int created_heaps();
ThreadHeap* late_heap();
void trim_all_heaps();
void drain_idle_inboxes();
HeapStats total_heap_stats();
ClassStatsTable total_class_stats();

}  // namespace hakmem
