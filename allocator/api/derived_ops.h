// calloc and realloc in terms of an allocator's malloc, free and
// usable_size: one implementation for every variant, bound included.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "allocator/config/size_classes.h"

namespace hakmem {

template <class A>
void* calloc_of(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) [[unlikely]] {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = A::malloc(total);
  // Blocks above the slab range are fresh mappings, already zero.
  if (p != nullptr && total <= kSlabMaxSize) memset(p, 0, total);
  return p;
}

// realloc(p, 0) frees p and returns nullptr, as glibc does. On failure p is
// untouched and errno is ENOMEM.
template <class A>
void* realloc_of(void* p, size_t size) {
  if (p == nullptr) return A::malloc(size);
  if (size == 0) {
    A::free(p);
    return nullptr;
  }
  const size_t old_size = A::usable_size(p);
  // Stay in place when the block fits and at most half of it is wasted.
  if (size <= old_size && size > old_size / 2) return p;
  void* q = A::malloc(size);
  if (q == nullptr) return nullptr;
  memcpy(q, p, size < old_size ? size : old_size);
  A::free(p);
  return q;
}

}  // namespace hakmem
