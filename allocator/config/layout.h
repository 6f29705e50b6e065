// Address-space geometry shared by every layer: how big a SuperSlab and a
// slab are, and the minimum alignment malloc promises.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hakmem {

// A SuperSlab is 2 MiB, aligned to 2 MiB: masking any interior address with
// ~kSuperSlabMask finds its header. 2 MiB matches the x86-64 huge page, so a
// SuperSlab can later be backed by one THP without straddling two.
inline constexpr unsigned kSuperSlabShift = 21;
inline constexpr size_t kSuperSlabSize = size_t{1} << kSuperSlabShift;
inline constexpr uintptr_t kSuperSlabMask = kSuperSlabSize - 1;

// A slab is 64 KiB: 4096 blocks of 16 B down to 2 blocks of 32 KiB. Slot 0
// of each SuperSlab holds the header, so 31 slots carry blocks.
inline constexpr unsigned kSlabShift = 16;
inline constexpr size_t kSlabSize = size_t{1} << kSlabShift;
inline constexpr unsigned kSlabsPerSuperSlab = kSuperSlabSize / kSlabSize;
inline constexpr unsigned kFirstBlockSlot = 1;

// x86-64 malloc must return memory aligned for max_align_t.
inline constexpr size_t kMinAlign = 16;

inline constexpr size_t align_up(size_t n, size_t align) {
  return (n + align - 1) & ~(align - 1);
}

}  // namespace hakmem
