// The class map: one byte per 64 KiB slot of the address space saying what
// hakmem has there, so free() and malloc_usable_size() can classify any
// pointer without dereferencing it. A pointer hakmem never allocated (the
// stack, a static, libc's) reads "foreign" instead of making free() read a
// "header" at p & ~(2 MiB - 1), which crashed for a static address and
// misread anything else (issue 11, defect 3).
//
//   lookup(p) = table[p >> 16] - 1      (one load, off the free fast path's
//                                        old header load: same cost)
//   table byte 0                  -> kForeign   (nothing of hakmem here)
//   slab in use, class c          -> c          (c + kDebugTiny for a tiny
//                                                slab acquired under
//                                                HAKMEM_DEBUG >= 1, so its
//                                                frees miss the fast path)
//   SuperSlab slot 0              -> kHeaderClass
//   SuperSlab slot not in use     -> kFreeSlot
//   first 2 MiB of a large block  -> kLargeClass
//   rest of a large mapping       -> kLargeBody (a pointer there is interior)
//   an L25 region (32 MiB)        -> kL25Span   (its page map says the rest:
//                                                backend/l25_spans.h)
//
// Invariant: for every slot of every live hakmem mapping the byte is set as
// above; every other byte is 0. The backend writes it when it maps, hands
// out, takes back and unmaps (clearing before the unmap, so a new mapping
// at the same address cannot be cleared by a late writer).
//
// The table covers the 47-bit user address space: 2^31 bytes reserved once
// with Pal::map_unaccounted and touched lazily (one page per 256 MiB of
// address space hakmem uses). Pointers at or above 2^47 are not user
// addresses on x86-64 and are not supported.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "allocator/config/layout.h"
#include "allocator/config/size_classes.h"

namespace hakmem {

class ClassMap {
 public:
  static constexpr unsigned kForeign = ~0u;
  static constexpr unsigned kFreeSlot = 0xFC;
  static constexpr unsigned kLargeBody = 0xFB;
  static constexpr unsigned kL25Span = 0xFA;
  static constexpr unsigned kDebugTiny = 0x40;  // added to a tiny class: checked frees
  static constexpr unsigned kAddressBits = 47;
  static constexpr size_t kTableSize = size_t{1} << (kAddressBits - kSlabShift);

  // What hakmem has at p's slot (see above); kForeign before any mapping.
  [[gnu::always_inline]] static unsigned lookup(const void* p) {
    const uint8_t* table = table_.load(std::memory_order_relaxed);
    if (table == nullptr) [[unlikely]]
      return kForeign;
    // Relaxed atomic (a plain byte load on x86-64): the byte of a range one
    // thread unmaps is written by the next thread the kernel maps it for.
    uint8_t& byte = const_cast<uint8_t&>(table[reinterpret_cast<uintptr_t>(p) >> kSlabShift]);
    return unsigned{std::atomic_ref<uint8_t>(byte).load(std::memory_order_relaxed)} - 1;
  }

  // A tiny class tagged kDebugTiny (its slab's frees are checked) back to
  // the class; true if it was tagged.
  static bool strip_debug_tiny(unsigned* code) {
    if (*code - kDebugTiny >= kTinyClasses) return false;
    *code -= kDebugTiny;
    return true;
  }

  // Reserves the table unless it is already. False if the OS refused.
  static bool reserve() {
    if (table_.load(std::memory_order_acquire) != nullptr) [[likely]]
      return true;
    return reserve_slow();
  }

  // Marks every slot of [start, start + bytes) as `code` (what lookup()
  // will return; kForeign clears). start is slot-aligned or the range is
  // widened to whole slots. The table must be reserved.
  static void set(const void* start, size_t bytes, unsigned code);

 private:
  static bool reserve_slow();

  static inline constinit std::atomic<uint8_t*> table_{nullptr};
};

// Aborts with the one-line report of an invalid free (or size query):
//   hakmem: invalid free of 0x...: double free | not allocated by hakmem | interior pointer
[[noreturn, gnu::cold, gnu::noinline]] void report_invalid_free(const void* p, const char* what);

inline constexpr const char* kDoubleFree = "double free";
inline constexpr const char* kNotAllocated = "not allocated by hakmem";
inline constexpr const char* kInteriorPointer = "interior pointer";

}  // namespace hakmem
