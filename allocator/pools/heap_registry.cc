// Heap registry: heaps live in PAL-mapped chunks (never from malloc: this
// code runs inside malloc), in one list, plus a stack of abandoned ones.
#include "allocator/pools/heap_registry.h"

#include <atomic>
#include <mutex>
#include <new>

#include "allocator/backend/superslab_manager.h"
#include "allocator/config/layout.h"
#include "allocator/pal/pal.h"

namespace hakmem {
namespace {

constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kHeapSpan = align_up(sizeof(ThreadHeap), 64);

struct Registry {
  std::mutex mutex;
  ThreadHeap* all = nullptr;
  ThreadHeap* abandoned = nullptr;
  char* chunk_cursor = nullptr;
  char* chunk_end = nullptr;
};

constinit Registry g_registry;
constinit std::atomic<int> g_active_heaps{0};

ThreadHeap* carve_heap_locked() {
  Registry& r = g_registry;
  if (r.chunk_cursor == nullptr || r.chunk_cursor + kHeapSpan > r.chunk_end) {
    auto* chunk = static_cast<char*>(os_pal().map(kChunkSize, kPageSize));
    if (chunk == nullptr) return nullptr;
    r.chunk_cursor = chunk;
    r.chunk_end = chunk + kChunkSize;
  }
  void* mem = r.chunk_cursor;
  r.chunk_cursor += kHeapSpan;
  return new (mem) ThreadHeap(&global_superslabs());
}

}  // namespace

ThreadHeap* acquire_heap() {
  g_active_heaps.fetch_add(1, std::memory_order_relaxed);
  Registry& r = g_registry;
  std::unique_lock lock(r.mutex);
  if (ThreadHeap* heap = r.abandoned; heap != nullptr) {
    r.abandoned = heap->next_abandoned;
    heap->next_abandoned = nullptr;
    lock.unlock();
    heap->adopt();
    return heap;
  }
  ThreadHeap* heap = carve_heap_locked();
  if (heap == nullptr) {
    g_active_heaps.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  heap->next_in_registry = r.all;
  r.all = heap;
  return heap;
}

int active_heaps() { return g_active_heaps.load(std::memory_order_relaxed); }

void release_heap(ThreadHeap* heap) {
  g_active_heaps.fetch_sub(1, std::memory_order_relaxed);
  heap->abandon();
  Registry& r = g_registry;
  std::lock_guard lock(r.mutex);
  heap->next_abandoned = r.abandoned;
  r.abandoned = heap;
}

HeapStats total_heap_stats() {
  HeapStats total;
  Registry& r = g_registry;
  std::lock_guard lock(r.mutex);
  for (ThreadHeap* heap = r.all; heap != nullptr; heap = heap->next_in_registry) {
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

}  // namespace hakmem
