// L25 size classes: what span size serves a request above the slab range
// (32 KiB < size <= 2 MiB), in O(1).
//
// 48 classes, 8 per doubling: (32 KiB, 64 KiB] in steps of 4 KiB, (64, 128]
// in 8 KiB, ... (1, 2 MiB] in 128 KiB. Every class is a whole number of
// 4 KiB pages (a span of the L25 pool, backend/l25_spans.h), and a request
// wastes less than one step over the doubling's base:
//   class(s) - s < step = base / 8 < s / 8          (under 12.5%)
// The top of each doubling is a power of two, so 64 KiB .. 2 MiB requests
// fit their class exactly.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "allocator/config/layout.h"
#include "allocator/config/size_classes.h"

namespace hakmem {

inline constexpr size_t kL25PageSize = 4096;
inline constexpr unsigned kL25PageShift = 12;
inline constexpr size_t kL25MaxSize = size_t{2} << 20;
inline constexpr unsigned kL25ClassesPerDoubling = 8;
inline constexpr unsigned kL25Classes = 48;  // six doublings from 32 KiB to 2 MiB

// Bytes of L25 class c.
constexpr size_t l25_class_size(unsigned c) {
  const size_t base = kSlabMaxSize << (c / kL25ClassesPerDoubling);
  return base + (base / kL25ClassesPerDoubling) * (c % kL25ClassesPerDoubling + 1);
}

// Pages of a span of class c.
constexpr uint32_t l25_class_pages(unsigned c) { return static_cast<uint32_t>(l25_class_size(c) >> kL25PageShift); }

// Class of a request kSlabMaxSize < size <= kL25MaxSize: the doubling from
// the top bit of size - 1, the eighth within it from the next three bits.
constexpr unsigned l25_class_of(size_t size) {
  const size_t s = size - 1;
  const unsigned top = static_cast<unsigned>(std::bit_width(s)) - 1;  // >= 15
  const unsigned eighth = static_cast<unsigned>((s >> (top - 3)) & 7);
  return (top - 15) * kL25ClassesPerDoubling + eighth;
}

// Class of a request kSlabMaxSize < size <= kL25TableMaxSize by one table
// load: every class boundary is a whole page, so the page index of
// size - 1 decides the class. For the per-thread cache's fast path
// (pools/l25_pool.h), where it replaces l25_class_of's bit arithmetic.
inline constexpr size_t kL25TableMaxSize = size_t{256} << 10;
inline constexpr auto kL25ClassOfPage = [] {
  std::array<uint8_t, kL25TableMaxSize / kL25PageSize> table{};
  for (size_t page = kSlabMaxSize / kL25PageSize; page < table.size(); ++page)
    table[page] = static_cast<uint8_t>(l25_class_of((page << kL25PageShift) + 1));
  return table;
}();
[[gnu::always_inline]] constexpr unsigned l25_table_class_of(size_t size) {
  return kL25ClassOfPage[(size - 1) >> kL25PageShift];
}

// Pages of the span that serves a request of kSlabMaxSize < size <=
// kL25MaxSize bytes. Up to kL25TableMaxSize, its class's: those are the
// classes the per-thread cache keeps, and a block cached there must hold
// any request of its class. Above, the request's own pages, as glibc and
// tcmalloc size a big block: a class's rounding (up to 12.5%, 128 KiB of a
// 2 MiB class) costs address space, and RSS too once the span is carved
// from pages a bigger block left resident (mid_churn, 1 thread, seed 42,
// no purge during the run: resident rounding 3.1 MiB at the first top of
// the working set with class-long spans, 0.4 with these).
constexpr uint32_t l25_span_pages(size_t size) {
  return size <= kL25TableMaxSize ? l25_class_pages(l25_class_of(size))
                                  : static_cast<uint32_t>((size + kL25PageSize - 1) >> kL25PageShift);
}

static_assert(kSlabMaxSize == size_t{1} << 15, "l25_class_of counts doublings from 2^15");
static_assert(l25_class_size(0) == kSlabMaxSize + 4096);
static_assert(l25_class_size(kL25Classes - 1) == kL25MaxSize);
static_assert(l25_class_of(kSlabMaxSize + 1) == 0 && l25_class_of(kL25MaxSize) == kL25Classes - 1);

namespace detail {
constexpr bool l25_table_is_sound() {
  for (unsigned c = 0; c < kL25Classes; ++c) {
    const size_t size = l25_class_size(c);
    const size_t below = c == 0 ? kSlabMaxSize : l25_class_size(c - 1);
    if (size % kL25PageSize != 0 || size <= below) return false;
    // The worst request of the class is one byte over the class below.
    if ((size - (below + 1)) * 8 >= below + 1) return false;
    if (l25_class_of(size) != c || l25_class_of(below + 1) != c) return false;
  }
  return true;
}
// The table agrees with l25_class_of at both ends of every page it covers.
constexpr bool l25_page_table_is_sound() {
  for (size_t page = kSlabMaxSize / kL25PageSize; page < kL25TableMaxSize / kL25PageSize; ++page) {
    const size_t first = (page << kL25PageShift) + 1;
    const size_t last = (page + 1) << kL25PageShift;
    if (l25_table_class_of(first) != l25_class_of(first) || l25_table_class_of(last) != l25_class_of(last))
      return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::l25_table_is_sound(), "L25 classes: whole pages, increasing, under 12.5% waste");
static_assert(detail::l25_page_table_is_sound(), "kL25ClassOfPage agrees with l25_class_of");

}  // namespace hakmem
