// Size classes: what block size serves a request, in O(1).
//
// 40 classes from 16 B to 32 KiB:
//   16..128 in steps of 16 (8 classes): small requests are the most common,
//     and exact 16-byte steps waste at most 15 bytes each;
//   then 4 classes per doubling up to 32 KiB (32 classes): internal waste is
//     bounded by 20% (129 B -> 160 B is the worst case), as in jemalloc.
// Every power of two from 16 B to 32 KiB is a class, so a block of such a
// class sits at a multiple of its size inside a 64 KiB-aligned slab: this is
// how aligned allocation is served without a separate mechanism.
//
// Classes 0..19 (up to 1 KiB) are "tiny": the variants' front ends cache
// them per thread. Classes 20..39 are "mid": every variant caches them per
// thread in one MidCache (frontend/mid_cache.h), bounded in bytes. Larger
// requests are mapped directly.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "allocator/config/layout.h"

namespace hakmem {

inline constexpr unsigned kTinyClasses = 20;
inline constexpr unsigned kSlabClasses = 40;
inline constexpr unsigned kMidClasses = kSlabClasses - kTinyClasses;
inline constexpr size_t kTinyMaxSize = 1024;
inline constexpr size_t kSlabMaxSize = 32768;

// Class ids that are not size classes, stored in the SuperSlab's per-slot
// class byte so free() can tell what a pointer's slot holds.
inline constexpr uint8_t kUnmappedSlotClass = 0xF8;  // beyond a 1 MiB SuperSlab: not mapped
inline constexpr uint8_t kLargeClass = 0xFD;   // slot belongs to a large mapping
inline constexpr uint8_t kHeaderClass = 0xFE;  // slot 0: the SuperSlab header
inline constexpr uint8_t kFreeSlotClass = 0xFF;  // slot not allocated to any class

// A class's size and ceil(2^32 / size), side by side so is_block_offset
// finds both from one table address.
struct BlockDivisor {
  uint32_t size;
  uint32_t reciprocal;
};

namespace detail {

// Block size of class c, from the scheme above.
constexpr uint32_t compute_class_size(unsigned c) {
  if (c < 8) return 16 * (c + 1);
  const unsigned doubling = (c - 8) / 4;  // 0 for (128, 256]
  const unsigned quarter = (c - 8) % 4;   // which quarter of the doubling
  const uint32_t base = 128u << doubling;
  return base + (base / 4) * (quarter + 1);
}

constexpr auto make_class_sizes() {
  std::array<uint32_t, kSlabClasses> sizes{};
  for (unsigned c = 0; c < kSlabClasses; ++c) sizes[c] = compute_class_size(c);
  return sizes;
}

// Tiny lookup table indexed by ceil(size / 16), for sizes 0..1024.
constexpr auto make_tiny_class_table() {
  std::array<uint8_t, kTinyMaxSize / 16 + 1> table{};
  unsigned c = 0;
  for (unsigned i = 0; i < table.size(); ++i) {
    const uint32_t size = i * 16;
    while (compute_class_size(c) < size) ++c;
    table[i] = static_cast<uint8_t>(c);
  }
  return table;
}

// Mid lookup table indexed by ceil(size / 256), for sizes 1025..32768:
// every mid class is a multiple of 256 B, so no size in one 256-byte step
// straddles two classes.
constexpr auto make_mid_class_table() {
  std::array<uint8_t, kSlabMaxSize / 256 + 1> table{};
  unsigned c = kTinyClasses;
  for (unsigned i = kTinyMaxSize / 256 + 1; i < table.size(); ++i) {
    while (compute_class_size(c) < i * 256) ++c;
    table[i] = static_cast<uint8_t>(c);
  }
  return table;
}

// A class's size and ceil(2^32 / size): see is_block_offset.
constexpr auto make_block_divisors() {
  std::array<BlockDivisor, kSlabClasses> d{};
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    const uint64_t size = compute_class_size(c);
    d[c] = {static_cast<uint32_t>(size), static_cast<uint32_t>(((uint64_t{1} << 32) + size - 1) / size)};
  }
  return d;
}

}  // namespace detail

inline constexpr std::array<uint32_t, kSlabClasses> kClassSize = detail::make_class_sizes();
inline constexpr std::array<uint8_t, kTinyMaxSize / 16 + 1> kTinyClassOf =
    detail::make_tiny_class_table();

inline constexpr std::array<uint8_t, kSlabMaxSize / 256 + 1> kMidClassOf = detail::make_mid_class_table();
inline constexpr std::array<BlockDivisor, kSlabClasses> kBlockDivisor = detail::make_block_divisors();

static_assert(kClassSize[kTinyClasses - 1] == kTinyMaxSize);
static_assert(kClassSize[kSlabClasses - 1] == kSlabMaxSize);

// Class of a tiny request (size <= kTinyMaxSize); size 0 maps to 16 B.
[[gnu::always_inline]] inline unsigned tiny_class_of(size_t size) {
  return kTinyClassOf[(size + 15) >> 4];
}

// Class of any slab-served request (size <= kSlabMaxSize). Above 128 B the
// class is the doubling (from the top bit of size-1) and the quarter within
// it (the next two bits): two shifts, no loop, no table.
constexpr unsigned slab_class_of(size_t size) {
  if (size <= 128) return size == 0 ? 0 : static_cast<unsigned>((size - 1) >> 4);
  const size_t s = size - 1;
  const unsigned top = static_cast<unsigned>(std::bit_width(s)) - 1;  // >= 7
  const unsigned quarter = static_cast<unsigned>((s >> (top - 2)) & 3);
  return 8 + (top - 7) * 4 + quarter;
}

// Class of a mid request (kTinyMaxSize < size <= kSlabMaxSize): one table
// load, where slab_class_of takes a bit scan and four shifts.
[[gnu::always_inline]] inline unsigned mid_class_of(size_t size) {
  return kMidClassOf[(size + 255) >> 8];
}

// Whether `offset` bytes into a slab of class c (offset < kSlabSize) is where
// a block starts: the block index by a multiply with ceil(2^32 / size)
// instead of a division (a 32-bit div is 10-40 cycles; this is two
// multiplies). Exact for every offset below 2^16: the multiply overshoots
// offset / size by at most offset * size / (size * 2^32) < 2^-16, less than
// the 1 / size a non-multiple falls short of the next integer
// (size_classes_test checks every offset of every class).
[[gnu::always_inline]] constexpr bool is_block_offset(uint32_t offset, unsigned c) {
  const BlockDivisor& d = kBlockDivisor[c];
  const auto index = static_cast<uint32_t>((uint64_t{offset} * d.reciprocal) >> 32);
  return index * d.size == offset;
}

// Blocks in one slab of class c.
constexpr uint32_t class_capacity(unsigned c) {
  return static_cast<uint32_t>(kSlabSize / kClassSize[c]);
}

}  // namespace hakmem
