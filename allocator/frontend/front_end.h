// What a front end is: the compile-time interface every variant's policy
// type satisfies, checked by a concept so a new variant fails to compile
// with a clear message instead of deep inside a template.
//
// A front end caches tiny blocks (classes below kTinyClasses) per thread.
// Its Cache is thread-local, zero-initialised, and must need no constructor
// or destructor (so thread-local access costs no guard). A zeroed Cache must
// make try_alloc return nullptr and try_free return false: that is how the
// first call on a thread reaches the slow path, where init() runs.
#pragma once

#include <concepts>
#include <string_view>
#include <type_traits>

#include "allocator/backend/superslab.h"
#include "allocator/config/tunables.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

template <class P>
concept FrontEndPolicy =
    std::is_trivially_default_constructible_v<typename P::Cache> &&
    std::is_trivially_destructible_v<typename P::Cache> &&
    requires(typename P::Cache& cache, ThreadHeap& heap, FreeBlock* block, unsigned size_class) {
      { P::kName } -> std::convertible_to<std::string_view>;
      // Fast paths: a hit or nullptr / false.
      { P::try_alloc(cache, size_class) } -> std::same_as<void*>;
      { P::try_free(cache, block, size_class) } -> std::same_as<bool>;
      // Slow paths: refill from / spill to the thread heap.
      { P::alloc_slow(cache, heap, size_class) } -> std::same_as<void*>;
      { P::free_slow(cache, heap, block, size_class) } -> std::same_as<void>;
      // Lifecycle: set limits on a zeroed cache; give every block back.
      { P::init(cache) } -> std::same_as<void>;
      { P::flush(cache, heap) } -> std::same_as<void>;
      // The learner's sizes (config/tunables.h): the layout it starts from,
      // and a live cache taking published ones on a slow path.
      { P::kTinyLayout } -> std::convertible_to<tunables::TinyLayout>;
      { P::retune(cache, heap) } -> std::same_as<void>;
    };

}  // namespace hakmem
