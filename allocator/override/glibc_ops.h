// The members of the malloc family that glibc adds to C's (posix_memalign,
// memalign, valloc, pvalloc, reallocarray), with glibc 2.36's semantics, in
// terms of an allocator's malloc, realloc and aligned_alloc: one
// implementation for every variant's library. Where glibc differs from what
// the names suggest, the comment says what glibc does; the preloaded
// semantics test (variants/preload) runs the same checks against glibc.
#pragma once

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "allocator/config/layout.h"
#include "allocator/pal/pal.h"

namespace hakmem {

// realloc(p, count * size), except that an overflowing product fails with
// ENOMEM and leaves p alone.
template <class A>
void* reallocarray_of(void* p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) [[unlikely]] {
    errno = ENOMEM;
    return nullptr;
  }
  return A::realloc(p, total);
}

// memalign, and aligned_alloc, which glibc 2.36 exports as the same
// function: an alignment up to 16 (0 and 3 included) is plain malloc; a
// larger one that is not a power of two is rounded up to the next; above
// SIZE_MAX / 2 + 1 none can be, so EINVAL. A power of two too large to map
// is ENOMEM.
template <class A>
void* memalign_of(size_t align, size_t size) {
  if (align <= kMinAlign) return A::malloc(size);
  if (align > SIZE_MAX / 2 + 1) [[unlikely]] {
    errno = EINVAL;
    return nullptr;
  }
  return A::aligned_alloc(std::bit_ceil(align), size);
}

// posix_memalign: the alignment must be a power-of-two multiple of
// sizeof(void*), else EINVAL. The error is the return value; *memptr is
// written only on success. errno is as glibc 2.36 leaves it: untouched by
// EINVAL, ENOMEM after ENOMEM (the failed allocation sets it).
template <class A>
int posix_memalign_of(void** memptr, size_t align, size_t size) {
  if (align % sizeof(void*) != 0 || !std::has_single_bit(align)) return EINVAL;
  void* p = memalign_of<A>(align, size);
  if (p == nullptr) return ENOMEM;
  *memptr = p;
  return 0;
}

// valloc: memalign to the page.
template <class A>
void* valloc_of(size_t size) {
  return memalign_of<A>(kPageSize, size);
}

// pvalloc: valloc of the size rounded up to whole pages (at least one, so
// pvalloc(0) is a page too); a size whose rounding overflows is ENOMEM.
template <class A>
void* pvalloc_of(size_t size) {
  size_t rounded;
  if (__builtin_add_overflow(size, kPageSize - 1, &rounded)) [[unlikely]] {
    errno = ENOMEM;
    return nullptr;
  }
  rounded &= ~(kPageSize - 1);
  return memalign_of<A>(kPageSize, rounded == 0 ? kPageSize : rounded);
}

}  // namespace hakmem
