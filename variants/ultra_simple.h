// ultra_simple: the seed design's front end. One bounded thread-local free
// list per tiny class; a miss refills 64 blocks from the thread heap; a
// free into a full list (128) spills the 64 coldest blocks back.
#pragma once

#include <cstdint>
#include <string_view>

#include "allocator/api/allocator.h"
#include "allocator/frontend/free_list.h"

namespace hakmem::variants {

struct UltraSimple {
  static constexpr std::string_view kName = "ultra_simple";
  static constexpr uint32_t kRefill = 64;
  static constexpr uint32_t kLimit = 2 * kRefill;

  struct Cache {
    FreeList lists[kTinyClasses];
  };

  [[gnu::always_inline]] static void* try_alloc(Cache& cache, unsigned size_class) {
    return cache.lists[size_class].pop();
  }

  [[gnu::always_inline]] static bool try_free(Cache& cache, FreeBlock* block, unsigned size_class) {
    return cache.lists[size_class].push(block);
  }

  static void init(Cache& cache) {
    for (FreeList& list : cache.lists) list.limit = kLimit;
  }

  static void* alloc_slow(Cache& cache, ThreadHeap& heap, unsigned size_class) {
    FreeList& list = cache.lists[size_class];
    list.push_chain(heap.refill(size_class, kRefill));
    return list.pop();
  }

  static void free_slow(Cache& cache, ThreadHeap& heap, FreeBlock* block, unsigned size_class) {
    FreeList& list = cache.lists[size_class];
    if (list.count >= list.limit) heap.spill(list.split_after(kLimit - kRefill));
    list.push(block);
  }

  static void flush(Cache& cache, ThreadHeap& heap) {
    for (FreeList& list : cache.lists) heap.spill(list.take_all());
  }
};

using UltraSimpleAllocator = Allocator<UltraSimple>;

}  // namespace hakmem::variants
