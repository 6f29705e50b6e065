// LargeAllocator: mmap per block, header at the 2 MiB boundary (see large.h).
#include "allocator/backend/large.h"

#include <cstring>

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

LargeHeader* LargeAllocator::header_of(const void* p) {
  // Over-aligned blocks keep their header one page below (see large.h).
  auto* header = is_region_start(p)
                     ? reinterpret_cast<LargeHeader*>(reinterpret_cast<uintptr_t>(p) - kPageSize)
                     : reinterpret_cast<LargeHeader*>(region_of(p));
  if (header->region.magic != kLargeMagic || header->block != p) {
    fatal("free of %p: not a hakmem large block", p);
  }
  return header;
}

void* LargeAllocator::allocate(size_t size, size_t align) {
  retry_pending_if_any();
  if (align < kMinAlign) align = kMinAlign;
  // Beyond any x86-64 address space: refused without asking the OS (and
  // before align_up or the Pal's over-mapping could overflow).
  if (size > (size_t{1} << 47) || align > (size_t{1} << 47)) return nullptr;
  char* block = nullptr;
  if (align < kSuperSlabSize) {
    const size_t offset = align_up(kHeaderSpan, align);
    const size_t map_size = align_up(offset + size, kPageSize);
    auto* base = static_cast<char*>(pal_->map(map_size, kSuperSlabSize));
    if (base == nullptr) {
      map_failures_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    block = base + offset;
    init_header(reinterpret_cast<LargeHeader*>(base), base, map_size, block);
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
    init_header(reinterpret_cast<LargeHeader*>(header_page), map_base, map_size, block);
    mapped_bytes_.fetch_add(static_cast<int64_t>(map_size), std::memory_order_relaxed);
  }
  live_blocks_.fetch_add(1, std::memory_order_relaxed);
  blocks_mapped_.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void LargeAllocator::deallocate(void* p) {
  LargeHeader* header = header_of(p);
  live_blocks_.fetch_sub(1, std::memory_order_relaxed);
  retry_pending_if_any();
  unmap_or_keep(header);
}

void LargeAllocator::unmap_or_keep(LargeHeader* header) {
  const size_t map_size = header->map_size;
  if (pal_->unmap(header->map_base, map_size)) {
    blocks_unmapped_.fetch_add(1, std::memory_order_relaxed);
    mapped_bytes_.fetch_sub(static_cast<int64_t>(map_size), std::memory_order_relaxed);
    return;
  }
  // Still mapped, so the header is still ours to write: it becomes the
  // pending list's node, and no longer reads as a live block.
  unmap_failures_.fetch_add(1, std::memory_order_relaxed);
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
    const size_t map_size = header->map_size;
    if (pal_->unmap(header->map_base, map_size)) {
      pending_unmaps_.fetch_sub(1, std::memory_order_relaxed);
      blocks_unmapped_.fetch_add(1, std::memory_order_relaxed);
      mapped_bytes_.fetch_sub(static_cast<int64_t>(map_size), std::memory_order_relaxed);
    } else {
      unmap_failures_.fetch_add(1, std::memory_order_relaxed);
      push_pending(header);
    }
    header = next;
  }
}

void LargeAllocator::trim() { retry_pending_if_any(); }

size_t LargeAllocator::usable_size(const void* p) const {
  const LargeHeader* header = header_of(p);
  return static_cast<size_t>(header->map_base + header->map_size - static_cast<const char*>(p));
}

LargeStats LargeAllocator::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  return {live_blocks_.load(r),      mapped_bytes_.load(r),   map_failures_.load(r), blocks_mapped_.load(r),
          blocks_unmapped_.load(r), unmap_failures_.load(r), pending_unmaps_.load(r)};
}

}  // namespace hakmem
