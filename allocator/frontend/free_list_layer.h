// FreeListLayer<Refill, Limit>: one bounded free list per tiny class.
// A miss refills `Refill` blocks from the thread heap; a free into a full
// list (Limit) spills the Limit - Refill coldest blocks back. Also usable as
// the lower layer of a HotLayer (pop_many / push_many).
//
// Refill and Limit are the layout; the learner may publish others per
// class (config/tunables.h). A list's limit is read at the thread's start
// and at each retune, the refill batch at each refill: slow paths only.
#pragma once

#include <cstdint>

#include "allocator/config/size_classes.h"
#include "allocator/config/tunables.h"
#include "allocator/frontend/free_list.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

template <uint32_t Refill, uint32_t Limit>
struct FreeListLayer {
  static_assert(Refill >= 1 && Limit > Refill);

  struct Cache {
    FreeList lists[kTinyClasses];
  };
  static constexpr tunables::TinyLayout kTinyLayout{Limit, Refill};

  [[gnu::always_inline]] static void* try_alloc(Cache& cache, unsigned size_class) {
    return cache.lists[size_class].pop();
  }

  [[gnu::always_inline]] static bool try_free(Cache& cache, FreeBlock* block, unsigned size_class) {
    return cache.lists[size_class].push(block);
  }

  static void init(Cache& cache) {
    for (unsigned c = 0; c < kTinyClasses; ++c) cache.lists[c].limit = tunables::tiny_cache(c, Limit);
  }

  // The learner published new sizes: each list takes its new limit and
  // spills the coldest blocks beyond it.
  static void retune(Cache& cache, ThreadHeap& heap) {
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      FreeList& list = cache.lists[c];
      list.limit = tunables::tiny_cache(c, Limit);
      if (list.count > list.limit) heap.spill(list.split_after(list.limit));
    }
  }

  static void* alloc_slow(Cache& cache, ThreadHeap& heap, unsigned size_class) {
    FreeList& list = cache.lists[size_class];
    list.push_chain(heap.refill(size_class, refill_of(list, size_class)));
    return list.pop();
  }

  static void free_slow(Cache& cache, ThreadHeap& heap, FreeBlock* block, unsigned size_class) {
    FreeList& list = cache.lists[size_class];
    if (list.count >= list.limit) {
      const uint32_t refill = refill_of(list, size_class);
      heap.spill(list.split_after(list.limit > refill ? list.limit - refill : 0));
    }
    list.push(block);
  }

  static void flush(Cache& cache, ThreadHeap& heap) {
    for (FreeList& list : cache.lists) heap.spill(list.take_all());
  }

  // Lower-layer interface: up to n blocks into out[] (0 only on OOM).
  static uint32_t pop_many(Cache& cache, ThreadHeap& heap, unsigned size_class, void** out, uint32_t n) {
    FreeList& list = cache.lists[size_class];
    if (list.head == nullptr) {
      const uint32_t refill = refill_of(list, size_class);
      list.push_chain(heap.refill(size_class, refill > n ? refill : n));
    }
    uint32_t got = 0;
    while (got < n && list.head != nullptr) out[got++] = list.pop();
    return got;
  }

  // Lower-layer interface: takes in[0, n).
  static void push_many(Cache& cache, ThreadHeap& heap, unsigned size_class, void* const* in, uint32_t n) {
    FreeList& list = cache.lists[size_class];
    for (uint32_t i = 0; i < n; ++i) {
      auto* block = static_cast<FreeBlock*>(in[i]);
      if (!list.push(block)) free_slow(cache, heap, block, size_class);
    }
  }

 private:
  // The class's refill batch, within the list's limit (at least 1).
  static uint32_t refill_of(const FreeList& list, unsigned size_class) {
    const uint32_t refill = tunables::tiny_refill(size_class, Refill);
    return refill < list.limit ? refill : (list.limit != 0 ? list.limit : 1);
  }
};

}  // namespace hakmem
