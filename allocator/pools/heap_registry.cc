// HeapRegistry: carving heaps from Pal-mapped chunks, the abandoned stack,
// and the process-wide registry.
#include "allocator/pools/heap_registry.h"

#include <new>

#include "allocator/config/layout.h"
#include "allocator/pal/pal.h"

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

void HeapRegistry::trim_all() {
  std::lock_guard lock(mutex_);
  for (ThreadHeap* heap = all_; heap != nullptr; heap = heap->next_in_registry) heap->trim_if_idle();
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
    }
  }
  return total;
}

ThreadHeap* acquire_heap() { return g_heaps.acquire(); }
void release_heap(ThreadHeap* heap) { g_heaps.release(heap); }
int active_heaps() { return g_heaps.active(); }
void trim_all_heaps() { g_heaps.trim_all(); }
int created_heaps() { return g_heaps.created(); }
ThreadHeap* late_heap() { return g_heaps.late(); }
HeapStats total_heap_stats() { return g_heaps.total_stats(); }
ClassStatsTable total_class_stats() { return g_heaps.total_class_stats(); }

}  // namespace hakmem
