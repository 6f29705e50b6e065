// C++'s operators new and delete for an allocator. new is malloc (or
// aligned_alloc, for a std::align_val_t) while that succeeds. When it
// fails, as the standard requires, new calls the program's new_handler and
// retries for as long as one is installed, then throws std::bad_alloc; the
// nothrow forms do the same and return nullptr instead (also when the
// handler throws). delete is free, whatever size or alignment it is told:
// every block knows its own.
//
// The success path is the allocator's inlined fast path plus one test of
// its result; everything else is in new_failed, out of line.
#pragma once

#include <cstddef>
#include <new>

#include "allocator/config/layout.h"

namespace hakmem {
namespace detail {

template <class A>
void* allocate_aligned(size_t size, size_t align) {
  return align <= kMinAlign ? A::malloc(size) : A::aligned_alloc(align, size);
}

// The new_handler loop of [new.delete.single]: runs after a first failure.
template <class A>
[[gnu::noinline, gnu::cold]] void* new_failed(size_t size, size_t align) {
  for (;;) {
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();  // frees memory, installs another handler, or throws
    if (void* p = allocate_aligned<A>(size, align)) return p;
  }
}

template <class A>
[[gnu::noinline, gnu::cold]] void* new_nothrow_failed(size_t size, size_t align) noexcept {
  try {
    return new_failed<A>(size, align);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace detail

template <class A>
[[gnu::always_inline]] inline void* new_of(size_t size) {
  if (void* p = A::malloc(size)) [[likely]]
    return p;
  return detail::new_failed<A>(size, kMinAlign);
}

template <class A>
[[gnu::always_inline]] inline void* new_nothrow_of(size_t size) noexcept {
  if (void* p = A::malloc(size)) [[likely]]
    return p;
  return detail::new_nothrow_failed<A>(size, kMinAlign);
}

template <class A>
inline void* new_aligned_of(size_t size, std::align_val_t align) {
  if (void* p = detail::allocate_aligned<A>(size, static_cast<size_t>(align))) [[likely]]
    return p;
  return detail::new_failed<A>(size, static_cast<size_t>(align));
}

template <class A>
inline void* new_aligned_nothrow_of(size_t size, std::align_val_t align) noexcept {
  if (void* p = detail::allocate_aligned<A>(size, static_cast<size_t>(align))) [[likely]]
    return p;
  return detail::new_nothrow_failed<A>(size, static_cast<size_t>(align));
}

}  // namespace hakmem
