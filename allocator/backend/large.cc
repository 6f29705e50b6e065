// LargeAllocator: mmap per block, header at the 2 MiB boundary (see large.h).
#include "allocator/backend/large.h"

#include <algorithm>
#include <cstring>

#include "allocator/backend/class_map.h"
#include "allocator/pal/log.h"

namespace hakmem {
namespace {

constinit LargeAllocator g_large{&g_os_pal};

constexpr size_t kHeaderSpan = align_up(sizeof(LargeHeader), 64);

void init_header(LargeHeader* header, char* map_base, size_t map_size, char* block) {
  memset(header->region.slot_class, kLargeClass, sizeof header->region.slot_class);
  header->region.magic = kLargeMagic;
  header->map_base = map_base;
  header->map_size = map_size;
  header->block = block;
  header->next_pending = nullptr;
}

}  // namespace

LargeAllocator& global_large() { return g_large; }

// The header of the live block that starts at p, or nullptr. p's slot must
// read kLargeClass in the class map (so p is in the first 2 MiB of a large
// mapping, whose header is therefore mapped).
LargeHeader* LargeAllocator::header_of(const void* p) {
  // Over-aligned blocks keep their header one page below (see large.h),
  // in a slot the class map marks as kLargeBody. A 2 MiB-aligned p whose
  // page below is not so marked is the header of a normal block: not a
  // block itself.
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto* header = is_region_start(p) && ClassMap::lookup(reinterpret_cast<const void*>(address - kPageSize)) ==
                                           ClassMap::kLargeBody
                     ? reinterpret_cast<LargeHeader*>(address - kPageSize)
                     : reinterpret_cast<LargeHeader*>(region_of(p));
  if (header->region.magic != kLargeMagic || header->block != p) return nullptr;
  return header;
}

LargeHeader* LargeAllocator::checked_header(const void* p) const {
  LargeHeader* header = header_of(p);
  if (header == nullptr) [[unlikely]]
    report_invalid_free(p, recently_freed(p) ? kDoubleFree : kInteriorPointer);
  return header;
}

bool LargeAllocator::recently_freed(const void* p) const {
  const auto address = reinterpret_cast<uintptr_t>(p);
  for (const auto& freed : recently_freed_)
    if (freed.load(std::memory_order_relaxed) == address) return true;
  return false;
}

namespace {

// The class map of a live block: the 2 MiB in which free() may find its
// start read kLargeClass (from the header for a normal block, from the
// block for an over-aligned one); the rest of the mapping, an over-aligned
// block's header page included, reads kLargeBody.
void mark_large(const LargeHeader* header) {
  char* map_end = header->map_base + header->map_size;
  char* first = is_region_start(header->block) ? header->block : header->map_base;
  char* first_end = first + std::min<size_t>(kSuperSlabSize, static_cast<size_t>(map_end - first));
  ClassMap::set(header->map_base, static_cast<size_t>(first - header->map_base), ClassMap::kLargeBody);
  ClassMap::set(first, static_cast<size_t>(first_end - first), kLargeClass);
  ClassMap::set(first_end, static_cast<size_t>(map_end - first_end), ClassMap::kLargeBody);
}

}  // namespace

void* LargeAllocator::allocate(size_t size, size_t align) {
  retry_pending_if_any();
  if (align < kMinAlign) align = kMinAlign;
  // Beyond any x86-64 address space: refused without asking the OS (and
  // before align_up or the Pal's over-mapping could overflow).
  if (size > (size_t{1} << 47) || align > (size_t{1} << 47)) return nullptr;
  if (!ClassMap::reserve()) return nullptr;
  // A block of 0 bytes still gets one: its start must lie inside its
  // mapping (aligned_alloc(256 KiB, 0) would otherwise start where the
  // mapping ends, in a slot the class map does not mark).
  if (size == 0) size = 1;
  char* block = nullptr;
  LargeHeader* header = nullptr;
  if (align < kSuperSlabSize) {
    // Consecutive blocks start at different offsets (one of 16 cache
    // lines), so a stale pointer to a freed block whose address was mapped
    // again rarely equals the new block's start: its free reads "double
    // free" (the recently-freed ring) instead of freeing the new block.
    const size_t rotation =
        align <= 64 ? 64 * (rotation_.fetch_add(1, std::memory_order_relaxed) % kRotations) : 0;
    const size_t offset = align_up(kHeaderSpan, align) + rotation;
    const size_t map_size = align_up(offset + size, kPageSize);
    auto* base = static_cast<char*>(pal_->map(map_size, kSuperSlabSize));
    if (base == nullptr) {
      map_failures_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    block = base + offset;
    header = reinterpret_cast<LargeHeader*>(base);
    init_header(header, base, map_size, block);
    mapped_bytes_.fetch_add(static_cast<int64_t>(map_size), std::memory_order_relaxed);
  } else {
    // Map align bytes in front so the block can start on an `align`
    // boundary with one page for the header below it; return the rest.
    const size_t body = align_up(size, kPageSize);
    auto* base = static_cast<char*>(pal_->map(align + body, align));
    if (base == nullptr) {
      map_failures_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    block = base + align;
    char* header_page = block - kPageSize;
    char* map_base = header_page;
    if (!pal_->unmap(base, static_cast<size_t>(header_page - base))) {
      // The front stays mapped with the block: it is the block's mapping.
      unmap_failures_.fetch_add(1, std::memory_order_relaxed);
      map_base = base;
    }
    const size_t map_size = static_cast<size_t>(block + body - map_base);
    header = reinterpret_cast<LargeHeader*>(header_page);
    init_header(header, map_base, map_size, block);
    mapped_bytes_.fetch_add(static_cast<int64_t>(map_size), std::memory_order_relaxed);
  }
  mark_large(header);
  live_blocks_.fetch_add(1, std::memory_order_relaxed);
  blocks_mapped_.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void LargeAllocator::deallocate(void* p) {
  LargeHeader* header = checked_header(p);
  recently_freed_[recent_next_.fetch_add(1, std::memory_order_relaxed) % kRecentlyFreed].store(
      reinterpret_cast<uintptr_t>(p), std::memory_order_relaxed);
  // Cleared before the unmap: once unmapped, the range may be mapped again
  // by another thread, whose marks must not be cleared by us. A block whose
  // unmap fails reads foreign from here on (a free of it: double free).
  ClassMap::set(header->map_base, header->map_size, ClassMap::kForeign);
  live_blocks_.fetch_sub(1, std::memory_order_relaxed);
  retry_pending_if_any();
  unmap_or_keep(header);
}

bool LargeAllocator::try_unmap(LargeHeader* header) {
  const size_t map_size = header->map_size;  // read before the unmap takes the header away
  if (pal_->unmap(header->map_base, map_size)) {
    blocks_unmapped_.fetch_add(1, std::memory_order_relaxed);
    mapped_bytes_.fetch_sub(static_cast<int64_t>(map_size), std::memory_order_relaxed);
    return true;
  }
  unmap_failures_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void LargeAllocator::unmap_or_keep(LargeHeader* header) {
  if (try_unmap(header)) return;
  // Still mapped, so the header is still ours to write: it becomes the
  // pending list's node, and no longer reads as a live block.
  pending_unmaps_.fetch_add(1, std::memory_order_relaxed);
  header->region.magic = kLargePendingMagic;
  push_pending(header);
}

void LargeAllocator::push_pending(LargeHeader* header) {
  LargeHeader* head = pending_.load(std::memory_order_relaxed);
  do {
    header->next_pending = head;
  } while (!pending_.compare_exchange_weak(head, header, std::memory_order_release, std::memory_order_relaxed));
}

void LargeAllocator::retry_pending() {
  LargeHeader* header = pending_.exchange(nullptr, std::memory_order_acquire);
  while (header != nullptr) {
    LargeHeader* next = header->next_pending;  // read before the unmap takes it away
    if (try_unmap(header)) pending_unmaps_.fetch_sub(1, std::memory_order_relaxed);
    else push_pending(header);
    header = next;
  }
}

void LargeAllocator::trim() { retry_pending_if_any(); }

size_t LargeAllocator::usable_size(const void* p) const {
  const LargeHeader* header = checked_header(p);
  return static_cast<size_t>(header->map_base + header->map_size - static_cast<const char*>(p));
}

LargeStats LargeAllocator::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  return {live_blocks_.load(r),      mapped_bytes_.load(r),   map_failures_.load(r), blocks_mapped_.load(r),
          blocks_unmapped_.load(r), unmap_failures_.load(r), pending_unmaps_.load(r)};
}

}  // namespace hakmem
