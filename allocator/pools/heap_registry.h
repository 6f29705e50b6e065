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

  // Collects the inbox of every heap, live or abandoned, whose owner is not
  // using it, and releases its empty slabs (ThreadHeap::trim_if_idle).
  void trim_all();

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
int created_heaps();
ThreadHeap* late_heap();
void trim_all_heaps();
HeapStats total_heap_stats();
ClassStatsTable total_class_stats();

}  // namespace hakmem
