// LargeAllocator: a mapping per block, header at the 2 MiB boundary, freed
// mappings cached for reuse, resized in place with mremap (see large.h).
#include "allocator/backend/large.h"

#include <algorithm>
#include <cstring>

#include "allocator/backend/class_map.h"
#include "allocator/pal/log.h"

namespace hakmem {

constinit LargeAllocator g_large{&g_os_pal};

namespace {

constexpr size_t kHeaderSpan = align_up(sizeof(LargeHeader), 64);

void init_header(LargeHeader* header, char* map_base, size_t map_size, char* block, char* dirty_end) {
  memset(header->region.slot_class, kLargeClass, sizeof header->region.slot_class);
  header->region.magic = kLargeMagic;
  header->map_base = map_base;
  header->map_size = map_size;
  header->block = block;
  header->dirty_end = dirty_end;
  header->next_pending = nullptr;
}

// Does a tail of `tail` bytes of a `map_size` mapping go back to the OS?
bool worth_giving_back(size_t tail, size_t map_size) { return tail > map_size / LargeAllocator::kKeepTailShare; }

}  // namespace

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

// Before a mapping shrinks from old_size to new_size: the slots wholly past
// the new end read foreign before the OS may map them again for someone
// else (the slot holding the new end stays the mapping's).
void unmark_tail(char* base, size_t new_size, size_t old_size) {
  char* const first_gone = reinterpret_cast<char*>(align_up(reinterpret_cast<uintptr_t>(base + new_size), kSlabSize));
  if (first_gone < base + old_size)
    ClassMap::set(first_gone, static_cast<size_t>(base + old_size - first_gone), ClassMap::kForeign);
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
        align <= 64 ? 64 * (next_index(rotation_) % kRotations) : 0;
    const size_t offset = align_up(kHeaderSpan, align) + rotation;
    CachedMapping mapping{};
    const bool cached = take_cached(align_up(offset + size, kPageSize), &mapping);
    if (!cached) {
      mapping.size = align_up(offset + size, kPageSize);
      mapping.base = static_cast<char*>(pal_->map(mapping.size, kSuperSlabSize));
      if (mapping.base == nullptr && cache_.stats().cached_blocks != 0) {
        // The cache's mappings may be what the OS is short of (RLIMIT_AS,
        // the mapping count): give them back and ask once more.
        trim();
        mapping.base = static_cast<char*>(pal_->map(mapping.size, kSuperSlabSize));
      }
      if (mapping.base == nullptr) {
        map_failures_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
      mapping.dirty_end = mapping.base;  // fresh: all zero
      mapped_bytes_.fetch_add(static_cast<int64_t>(mapping.size), std::memory_order_relaxed);
      blocks_mapped_.fetch_add(1, std::memory_order_relaxed);
    }
    block = mapping.base + offset;
    header = reinterpret_cast<LargeHeader*>(mapping.base);
    init_header(header, mapping.base, mapping.size, block, mapping.dirty_end);
    // A cached mapping kept its marks (see cache_freed), and they do not
    // depend on where in its first page the block starts.
    if (!cached) mark_large(header);
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
    init_header(header, map_base, map_size, block, block);
    mapped_bytes_.fetch_add(static_cast<int64_t>(map_size), std::memory_order_relaxed);
    blocks_mapped_.fetch_add(1, std::memory_order_relaxed);
    mark_large(header);
  }
  return block;
}

bool LargeAllocator::take_cached(size_t need, CachedMapping* out) {
  CachedMapping expired[LargeCache::kSlots];
  unsigned expired_count = 0;
  const bool hit = cache_.take(need, out, expired, &expired_count);
  unmap_all(expired, expired_count);
  if (!hit) return false;
  if (worth_giving_back(out->size - need, out->size)) {
    unmark_tail(out->base, need, out->size);
    if (remap(out->base, out->size, need)) {
      out->size = need;
      out->dirty_end = std::min(out->dirty_end, out->base + need);
    } else {
      mark_large(reinterpret_cast<LargeHeader*>(out->base));  // still whole, as its cached header says
    }
  }
  return true;
}

size_t LargeAllocator::dirty_bytes(const void* p, size_t n) const {
  const LargeHeader* header = checked_header(p);
  const auto* start = static_cast<const char*>(p);
  return header->dirty_end <= start ? 0 : std::min(n, static_cast<size_t>(header->dirty_end - start));
}

bool LargeAllocator::remap(char* base, size_t old_size, size_t new_size) {
  if (!pal_->remap(base, old_size, new_size)) {
    remap_failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  remaps_.fetch_add(1, std::memory_order_relaxed);
  mapped_bytes_.fetch_add(static_cast<int64_t>(new_size) - static_cast<int64_t>(old_size), std::memory_order_relaxed);
  return true;
}

bool LargeAllocator::resize_in_place(void* p, size_t size) {
  LargeHeader* header = checked_header(p);
  if (size > (size_t{1} << 47)) return false;  // as allocate(): beyond any address space
  if (size == 0) size = 1;
  char* const base = header->map_base;
  const size_t old_size = header->map_size;
  const size_t new_size = align_up(static_cast<size_t>(header->block - base) + size, kPageSize);
  if (new_size > old_size) {
    if (!remap(base, old_size, new_size)) return false;
    header->map_size = new_size;  // the new pages are zero: dirty_end stays
    mark_large(header);
    return true;
  }
  if (!worth_giving_back(old_size - new_size, old_size)) return true;
  unmark_tail(base, new_size, old_size);
  if (!remap(base, old_size, new_size)) {
    mark_large(header);  // still whole, and still serving `size`
    return true;
  }
  header->map_size = new_size;
  header->dirty_end = std::min(header->dirty_end, base + new_size);
  return true;
}

void LargeAllocator::deallocate(void* p) {
  LargeHeader* header = checked_header(p);
  recently_freed_[next_index(recent_next_) % kRecentlyFreed].store(reinterpret_cast<uintptr_t>(p),
                                                                   std::memory_order_relaxed);
  retry_pending_if_any();
  if (cache_freed(header)) return;
  frees_uncached_.fetch_add(1, std::memory_order_relaxed);
  unmap_or_keep(header);
}

// A cached mapping keeps its class-map marks: a free of its old block (or
// a pointer into it) still reaches checked_header, which finds the cached
// magic and reports it. Clearing them at every free and setting them again
// at every reuse was 43% of the instructions of a 4 MiB malloc+free pair
// (callgrind); they are cleared when the mapping leaves the cache.
bool LargeAllocator::cache_freed(LargeHeader* header) {
  // An over-aligned block's header is not at its mapping's start, so its
  // mapping could not be found by mask once reused: it goes back at once.
  if (is_region_start(header->block)) return false;
  // Written before put(): once cached, another thread may take it.
  header->region.magic = kLargeCachedMagic;
  CachedMapping evicted[LargeCache::kSlots];
  unsigned evicted_count = 0;
  if (!cache_.put(header->map_base, header->map_size, evicted, &evicted_count)) return false;
  unmap_all(evicted, evicted_count);
  return true;
}

void LargeAllocator::purge_expired(uint64_t now_ms) {
  CachedMapping expired[LargeCache::kSlots];
  unsigned expired_count = 0;
  cache_.purge_expired(now_ms, expired, &expired_count);
  unmap_all(expired, expired_count);
}

// Unmaps mappings taken out of the cache; one the OS refuses goes on the
// pending list like a freed block's.
void LargeAllocator::unmap_all(const CachedMapping* mappings, unsigned n) {
  for (unsigned i = 0; i < n; ++i) unmap_or_keep(reinterpret_cast<LargeHeader*>(mappings[i].base));
}

bool LargeAllocator::try_unmap(LargeHeader* header) {
  const size_t map_size = header->map_size;  // read before the unmap takes the header away
  // Cleared before the unmap: once unmapped, the range may be mapped again
  // by another thread, whose marks must not be cleared by us. A mapping
  // whose unmap fails reads foreign from here on (a free of its block:
  // double free or not hakmem's).
  ClassMap::set(header->map_base, map_size, ClassMap::kForeign);
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

void LargeAllocator::trim() {
  retry_pending_if_any();
  CachedMapping cached[LargeCache::kSlots];
  unmap_all(cached, cache_.take_all(cached));
}

size_t LargeAllocator::usable_size(const void* p) const {
  const LargeHeader* header = checked_header(p);
  return static_cast<size_t>(header->map_base + header->map_size - static_cast<const char*>(p));
}

LargeStats LargeAllocator::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  const LargeCacheStats cache = cache_.stats();
  const int64_t live = blocks_mapped_.load(r) + cache.hits - cache.stored - frees_uncached_.load(r);
  return {live,                     mapped_bytes_.load(r),   map_failures_.load(r),
          blocks_mapped_.load(r),   blocks_unmapped_.load(r), unmap_failures_.load(r),
          pending_unmaps_.load(r),  remaps_.load(r),          remap_failures_.load(r),
          cache};
}

}  // namespace hakmem
