// calloc, realloc and aligned_alloc in terms of an allocator's malloc,
// free and usable_size: one implementation for every variant, bound
// included. What differs between allocators is a parameter of the
// allocator type, named where it is used below.
#pragma once

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "allocator/config/l25_classes.h"
#include "allocator/config/size_classes.h"

namespace hakmem {

// calloc. Uses, if A has it,
//   A::dirty_bytes(p, n): how many of the first n bytes of p, a block
//     A::malloc(n) just returned, may be non-zero (a fresh mapping: none;
//     a recycled block: all, or what its allocator knows was written).
//     Without it every block is cleared whole.
template <class A>
void* calloc_of(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) [[unlikely]] {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = A::malloc(total);
  if (p == nullptr) return p;
  if constexpr (requires { A::dirty_bytes(p, total); }) memset(p, 0, A::dirty_bytes(p, total));
  else memset(p, 0, total);
  return p;
}

// realloc(p, 0) frees p and returns nullptr, as glibc does. On failure p is
// untouched and errno is ENOMEM. Uses, if A has them,
//   A::resize_in_place(p, size): resizes p where it is, or false;
//   A::growth_request(p, size, old_size): how many bytes to allocate when
//     p (old_size usable) must move to hold size > old_size bytes, at
//     least size (more is headroom for the next growth);
//   A::mark_grown(q): q is the block p moved to, to hold more than p did;
//   A::free_moved(p): frees p, whose contents were just copied elsewhere,
//     instead of A::free(p).
template <class A>
void* realloc_of(void* p, size_t size) {
  if (p == nullptr) return A::malloc(size);
  if (size == 0) {
    A::free(p);
    return nullptr;
  }
  const size_t old_size = A::usable_size(p);
  // Stay in place when the block fits and at most half of it is wasted;
  // an allocator whose blocks can give their unneeded tail back where
  // they are (hakmem's L25 spans: whole pages) does so.
  if (size <= old_size && size > old_size / 2) {
    if constexpr (requires { A::shrink_tail(p, size); }) A::shrink_tail(p, size);
    return p;
  }
  // The allocator's one hook for resizing where the block is (an L25 span
  // growing into its free neighbour, a large mapping), if it has one.
  if constexpr (requires { A::resize_in_place(p, size); }) {
    if (A::resize_in_place(p, size)) return p;
  }
  // A block that must move to grow may get room to grow again in place
  // (headroom), if A says so; the plain size is the fallback.
  void* q = nullptr;
  if constexpr (requires { A::growth_request(p, size, old_size); }) {
    if (size > old_size) {
      if (const size_t want = A::growth_request(p, size, old_size); want > size) q = A::malloc(want);
    }
  }
  if (q == nullptr) q = A::malloc(size);
  if (q == nullptr) return nullptr;
  memcpy(q, p, size < old_size ? size : old_size);
  // A block that moved to grow remembers it, if A keeps such a mark.
  if constexpr (requires { A::mark_grown(q); }) {
    if (size > old_size) A::mark_grown(q);
  }
  // The allocator may treat the block moved out of apart from a plain free
  // (hakmem: an L25 block goes to the spans past every cache).
  if constexpr (requires { A::free_moved(p); }) A::free_moved(p);
  else A::free(p);
  return q;
}

// aligned_alloc (C11; also memalign and posix_memalign's core). Needs
//   A::kNaturalAlignMax: a power of two up to which every power-of-two
//     request is served by a block aligned to its size (a power-of-two
//     class placed at multiples of its size);
//   A::aligned_large(size, align): a block for what exceeds that, or
//     nullptr if the allocator cannot serve it.
// An alignment that is not a power of two fails with EINVAL; no memory
// fails with ENOMEM.
template <class A>
void* aligned_alloc_of(size_t align, size_t size) {
  static_assert(std::has_single_bit(A::kNaturalAlignMax) && A::kNaturalAlignMax >= kMinAlign);
  if (align == 0 || !std::has_single_bit(align)) {
    errno = EINVAL;
    return nullptr;
  }
  if (align <= kMinAlign) return A::malloc(size);
  if (size <= A::kNaturalAlignMax && align <= A::kNaturalAlignMax) {
    // Rounding up to a power of two is all it takes; never past the limit,
    // since both operands are within it and it is a power of two.
    return A::malloc(std::bit_ceil(size > align ? size : align));
  }
  void* p = A::aligned_large(size, align);
  if (p == nullptr) errno = ENOMEM;
  return p;
}

}  // namespace hakmem
