// HotLayer<Slots, Next>: a small array of block pointers per tiny class,
// inline in the thread's cache (no pointer to chase), in front of any lower
// layer that offers pop_many / push_many (MagazineLayer, FreeListLayer).
//
//   alloc: hot has a block -> pop; else take Slots/2 from Next, pop
//   free:  hot has room -> push; else move the Slots/2 oldest to Next, push
//
// Invariants, per class: count <= limit; limit is Slots once the thread is
// initialised and 0 before (so a zeroed cache fails both fast paths);
// slots[0, count) are free blocks of the class, slots[count-1] the hottest.
#pragma once

#include <cstdint>
#include <cstring>

#include "allocator/config/size_classes.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

template <uint32_t Slots, class Next>
struct HotLayer {
  static_assert(Slots >= 2 && Slots % 2 == 0);

  struct Hot {
    uint32_t count;
    uint32_t limit;
    void* slots[Slots];
  };
  struct Cache {
    Hot hot[kTinyClasses];
    typename Next::Cache next;
  };

  [[gnu::always_inline]] static void* try_alloc(Cache& cache, unsigned size_class) {
    Hot& h = cache.hot[size_class];
    if (h.count != 0) [[likely]]
      return h.slots[--h.count];
    return nullptr;
  }

  [[gnu::always_inline]] static bool try_free(Cache& cache, FreeBlock* block, unsigned size_class) {
    Hot& h = cache.hot[size_class];
    if (h.count < h.limit) [[likely]] {
      h.slots[h.count++] = block;
      return true;
    }
    return false;
  }

  static void init(Cache& cache) {
    for (Hot& h : cache.hot) h.limit = Slots;
    Next::init(cache.next);
  }

  static void* alloc_slow(Cache& cache, ThreadHeap& heap, unsigned size_class) {
    Hot& h = cache.hot[size_class];
    const uint32_t got = Next::pop_many(cache.next, heap, size_class, h.slots, Slots / 2);
    if (got == 0) return nullptr;
    h.count = got - 1;
    return h.slots[got - 1];
  }

  static void free_slow(Cache& cache, ThreadHeap& heap, FreeBlock* block, unsigned size_class) {
    Hot& h = cache.hot[size_class];
    if (h.count >= h.limit) {
      constexpr uint32_t kHalf = Slots / 2;
      Next::push_many(cache.next, heap, size_class, h.slots, kHalf);
      memmove(h.slots, h.slots + kHalf, (h.count - kHalf) * sizeof(void*));
      h.count -= kHalf;
    }
    h.slots[h.count++] = block;
  }

  // Empties the cache; it stays usable (a live thread may be trimmed).
  static void flush(Cache& cache, ThreadHeap& heap) {
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      Hot& h = cache.hot[c];
      Next::push_many(cache.next, heap, c, h.slots, h.count);
      h.count = 0;
    }
    Next::flush(cache.next, heap);
  }

  static void trim_shared(ThreadHeap& heap) {
    if constexpr (requires { Next::trim_shared(heap); }) Next::trim_shared(heap);
  }

  static uint32_t pop_many(Cache& cache, ThreadHeap& heap, unsigned size_class, void** out, uint32_t n) {
    return Next::pop_many(cache.next, heap, size_class, out, n);
  }
  static void push_many(Cache& cache, ThreadHeap& heap, unsigned size_class, void* const* in, uint32_t n) {
    Next::push_many(cache.next, heap, size_class, in, n);
  }
};

}  // namespace hakmem
