// SuperSlabs and slabs: the shapes of memory hakmem hands out, and how an
// address finds its metadata by masking (no per-block header).
//
//   SuperSlab (2 MiB or 1 MiB mapped, always 2 MiB-aligned)
//   +-----------+-----------+-- ... --+-----------+-- ... --+-----------+
//   | slot 0:   | slot 1:   |         | slot 15:  | slot 16 |  slot 31: |
//   | header    | slab      |         | slab      |   ...   |  slab     |
//   +-----------+-----------+-- ... --+-----------+-- ... --+-----------+
//     64 KiB each; a slab holds blocks of one size class.
//     A 1 MiB SuperSlab maps slots 0-15 only (15 slabs); a 2 MiB one all
//     32 (31 slabs).
//
//   block p -> header   = p & ~(2 MiB - 1)
//           -> slot     = (p >> 16) & 31
//           -> class    = header->slot_class[slot]      (one byte, one line)
//           -> metadata = header->slabs[slot]
//
// The size is chosen per SuperSlab when it is mapped (the manager's
// set_superslab_kib, per size class; HAKMEM_SUPERSLAB_KIB by default), and
// nothing on the way from a pointer to its metadata depends on it: every
// SuperSlab starts at a 2 MiB boundary, so the mask above finds the header
// of both, and a 1 MiB one leaves the upper half of its 2 MiB window
// unmapped. That half may hold anything the kernel puts there (never
// another hakmem region, which starts at a 2 MiB boundary), and the class
// map (class_map.h) marks only the slots a SuperSlab maps, so a pointer
// into the other half reads "foreign" like any pointer hakmem never made,
// and free() of a block needs no more than before: one class-map load.
// What a 1 MiB SuperSlab buys is a smaller unit of mapping and return, for
// programs or classes that use few slabs; what it costs is one header page
// per 15 slabs instead of per 31, and twice the mappings.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "allocator/config/layout.h"
#include "allocator/config/size_classes.h"

namespace hakmem {

// A free block: its first word links it into a free list.
struct FreeBlock {
  FreeBlock* next;
};

// Whoever owns a slab (the pools layer's ThreadHeap). Opaque here, so the
// backend does not depend on the layer above it.
struct SlabOwner {};

inline constexpr uint32_t kSuperSlabMagic = 0x5353'4B48;  // "HKSS"
inline constexpr uint32_t kLargeMagic = 0x474C'4B48;      // "HKLG"

// The first bytes of every 2 MiB-aligned region hakmem maps, SuperSlab or
// large. free() reads slot_class and nothing else to decide where to go.
//
// Invariant: slot_class[i] is a size class (< kSlabClasses) exactly when
// slot i is a slab in use; kHeaderClass for slot 0 of a SuperSlab;
// kFreeSlotClass for an unused slot; kUnmappedSlotClass for a slot a 1 MiB
// SuperSlab does not map; kLargeClass for every slot of a large
// region (so any pointer into its first 2 MiB reads kLargeClass).
struct RegionHeader {
  uint8_t slot_class[kSlabsPerSuperSlab];
  uint32_t magic;
  uint32_t reserved;
};

// Metadata of one slab, kept in the SuperSlab header rather than in the
// slab, so every byte of a slab is payload and a slab can be purged whole.
//
// Invariants while the slab is in use (owner != nullptr):
//   capacity == kSlabSize / kClassSize[size_class]
//   carved   <= capacity            blocks [0, carved) have been handed out at least once
//   used + length(free) == carved   used = blocks outside `free`: with users,
//                                   in front-end caches, or in the owner's remote inbox
//   on_partial == (length(free) + capacity - carved > 0)
//                                   i.e. on the owner's partial list iff a block is available
// While the slot is unused: owner == nullptr and the class byte is kFreeSlotClass.
//
// Layout serves ThreadHeap::refill and ThreadHeap::free_local: free, carved,
// capacity and used are the first 20 bytes; one 64-byte line per slab.
struct alignas(64) SlabMeta {
  FreeBlock* free;   // owner-local free list
  uint32_t carved;   // bump index: blocks carved so far
  uint32_t capacity;
  uint32_t used;
  uint8_t size_class;
  uint8_t slot;
  uint8_t on_partial;
  uint8_t checked;  // frees are checked: a mid slab, or tiny under HAKMEM_DEBUG >= 1 (free_bits)
  uint8_t fresh;    // the slot was clean (not resident) when acquired: no page past the carved blocks was touched since
  SlabOwner* owner;
  SlabMeta* next;  // owner's partial list for this class
  SlabMeta* prev;
  char* start;     // first byte of the slab (the SuperSlab plus slot * 64 KiB)
};
static_assert(sizeof(SlabMeta) == 64);

// A SuperSlab: 2 MiB mapped at once, carved into 31 slabs on demand.
//
// Invariants (all under the SuperSlabManager lock):
//   all_slots = the slots mapped beyond the header: bits 1..15 (1 MiB)
//     or 1..31 (2 MiB); slot_class[i] == kUnmappedSlotClass for the others
//   free_slots and dirty_slots are subsets of all_slots
//   bit i of free_slots  <=>  slot_class[i] == kFreeSlotClass     (i >= 1)
//   dirty_slots is a subset of free_slots: free slots whose pages may
//     still be resident (not yet purged)
//   dirty_since[i] = the decay stamp of slot i's release, for every bit i
//     of dirty_slots (backend/decay.h: purged once it has expired)
//   free_slots == all_slots  <=>  the SuperSlab is empty; then
//     empty_since = the stamp of the release that emptied it
//     (= max of its dirty_since: unmapped once it has expired)
//   on the manager's dirty list <=> dirty_slots != 0; else on its clean
//     list <=> free_slots != 0; else on its full list
//
// Layout serves hak_free: slot_class sits in the first cache line, and the
// header fits one page, so a SuperSlab costs one resident page of metadata.
struct alignas(64) SuperSlab {
  RegionHeader region;
  uint32_t free_slots;
  uint32_t dirty_slots;
  uint32_t all_slots;
  SuperSlab* next;
  SuperSlab* prev;
  uint64_t empty_since;
  SlabMeta slabs[kSlabsPerSuperSlab];
  uint64_t dirty_since[kSlabsPerSuperSlab];
};
static_assert(sizeof(SuperSlab) <= 4096, "the header must fit one page");

// The SuperSlab sizes a manager maps, and their all_slots.
inline constexpr size_t kSmallSuperSlabSize = kSuperSlabSize / 2;
inline constexpr uint32_t slots_of_size(size_t bytes) {
  return static_cast<uint32_t>((uint64_t{1} << (bytes / kSlabSize)) - 1) & ~uint32_t{1};  // all but the header
}
static_assert(slots_of_size(kSuperSlabSize) == 0xFFFF'FFFE && slots_of_size(kSmallSuperSlabSize) == 0xFFFE);

// Bytes `ss` maps: its slots up to the highest it has.
inline size_t superslab_bytes(const SuperSlab* ss) {
  return static_cast<size_t>(std::bit_width(ss->all_slots)) * kSlabSize;
}

// Free bits of a checked slab (SlabMeta::checked): bit i set <=> block i is
// free (freed by a user and not handed out since). free() sets it and
// reports a double free if it was set; refill clears it as the block goes
// out again. Set and cleared with atomic RMWs: remote frees touch the
// words of slabs they do not own. Kept in slot 0 behind the header, which
// the header leaves unused (one 512-byte row per slot; a mid slab uses its
// row's first word, at most 64 blocks), so slabs stay all payload.
inline constexpr size_t kFreeBitsOffset = 4096;
inline constexpr size_t kFreeBitWords = kSlabSize / 16 / 64;  // the smallest class's blocks
static_assert(kFreeBitsOffset + kSlabsPerSuperSlab * kFreeBitWords * 8 <= kSlabSize);

inline uint64_t* slab_free_bits(SuperSlab* ss, unsigned slot) {
  return reinterpret_cast<uint64_t*>(reinterpret_cast<char*>(ss) + kFreeBitsOffset) + slot * kFreeBitWords;
}

[[gnu::always_inline]] inline RegionHeader* region_of(const void* p) {
  return reinterpret_cast<RegionHeader*>(reinterpret_cast<uintptr_t>(p) & ~kSuperSlabMask);
}

[[gnu::always_inline]] inline SuperSlab* superslab_of(const void* p) {
  return reinterpret_cast<SuperSlab*>(region_of(p));
}

[[gnu::always_inline]] inline unsigned slot_of(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) >> kSlabShift) & (kSlabsPerSuperSlab - 1);
}

// The class byte of the slot holding p. p must be inside a region hakmem
// mapped and not at a 2 MiB boundary (see is_region_start).
[[gnu::always_inline]] inline unsigned block_class(const void* p) {
  return region_of(p)->slot_class[slot_of(p)];
}

[[gnu::always_inline]] inline SlabMeta* slab_of(const void* p) {
  return &superslab_of(p)->slabs[slot_of(p)];
}

// Whether p, in a slab of class size_class, is where a block starts, not
// inside one: the interior-pointer check of every free (Allocator::free_slow
// for a free that misses the tiny front end, ThreadHeap::spill for tiny
// blocks that went through a front end's cache first). Slabs are 64 KiB
// slots of a 2 MiB-aligned SuperSlab, so p's offset in its slab is its low
// 16 bits: no metadata is read.
[[gnu::always_inline]] inline bool is_block_start(const void* p, unsigned size_class) {
  return is_block_offset(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) & (kSlabSize - 1)), size_class);
}

// Block p's bit in its checked slab's free bits (see slab_free_bits):
// set_free_bit (free) returns the bit's old value, set meaning a double
// free; clear_free_bit as the block leaves the slab again (refill).
inline bool set_free_bit(SlabMeta* slab, const void* p) {
  const size_t index = static_cast<size_t>(static_cast<const char*>(p) - slab->start) / kClassSize[slab->size_class];
  const uint64_t bit = uint64_t{1} << (index % 64);
  uint64_t& word = slab_free_bits(superslab_of(slab), slab->slot)[index / 64];
  return (std::atomic_ref<uint64_t>(word).fetch_or(bit, std::memory_order_relaxed) & bit) != 0;
}

inline void clear_free_bit(SlabMeta* slab, const void* p) {
  const size_t index = static_cast<size_t>(static_cast<const char*>(p) - slab->start) / kClassSize[slab->size_class];
  uint64_t& word = slab_free_bits(superslab_of(slab), slab->slot)[index / 64];
  std::atomic_ref<uint64_t>(word).fetch_and(~(uint64_t{1} << (index % 64)), std::memory_order_relaxed);
}

// True for nullptr and for any 2 MiB-aligned address. No slab block can sit
// there (slot 0 is the header) and no large block either (its header is at
// the region start), so such a pointer is null or an over-aligned block.
[[gnu::always_inline]] inline bool is_region_start(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & kSuperSlabMask) == 0;
}

}  // namespace hakmem
