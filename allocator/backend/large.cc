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
    pal_->unmap(base, static_cast<size_t>(header_page - base));
    init_header(reinterpret_cast<LargeHeader*>(header_page), header_page, kPageSize + body, block);
    mapped_bytes_.fetch_add(static_cast<int64_t>(kPageSize + body), std::memory_order_relaxed);
  }
  live_blocks_.fetch_add(1, std::memory_order_relaxed);
  blocks_mapped_.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void LargeAllocator::deallocate(void* p) {
  LargeHeader* header = header_of(p);
  const size_t map_size = header->map_size;
  live_blocks_.fetch_sub(1, std::memory_order_relaxed);
  blocks_unmapped_.fetch_add(1, std::memory_order_relaxed);
  mapped_bytes_.fetch_sub(static_cast<int64_t>(map_size), std::memory_order_relaxed);
  pal_->unmap(header->map_base, map_size);
}

size_t LargeAllocator::usable_size(const void* p) const {
  const LargeHeader* header = header_of(p);
  return static_cast<size_t>(header->map_base + header->map_size - static_cast<const char*>(p));
}

LargeStats LargeAllocator::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  return {live_blocks_.load(r), mapped_bytes_.load(r), map_failures_.load(r), blocks_mapped_.load(r),
          blocks_unmapped_.load(r)};
}

}  // namespace hakmem
