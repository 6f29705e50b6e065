// L25SpanManager: one lock around span carving, coalescing and purging
// (see l25_spans.h). The caches above it (pools/l25_pool.h) take this lock
// only when they miss or overflow.
#include "allocator/backend/l25_spans.h"

#include <bit>

#include "allocator/backend/class_map.h"
#include "allocator/config/options.h"
#include "allocator/pal/log.h"

namespace hakmem {

constinit L25SpanManager g_l25_spans{&g_os_pal};

namespace {

uint8_t kind_of(const L25Span* span) { return span->kind.load(std::memory_order_relaxed); }
void set_kind(L25Span* span, uint8_t kind) { span->kind.store(kind, std::memory_order_relaxed); }

}  // namespace

void L25SpanManager::report_bad_pointer(const void* p) {
  if (l25_page_of(p) < kL25FirstPage) report_invalid_free(p, kNotAllocated);  // the header
  const L25Span* span = l25_span_of(p);
  const uint8_t kind = kind_of(span);
  const bool page_start = (reinterpret_cast<uintptr_t>(p) & (kL25PageSize - 1)) == 0;
  // A cached span was freed by its user; a free head was too, and may have
  // merged with neighbours since.
  if (page_start && (kind == kL25Cached || kind == kL25FreeHead)) report_invalid_free(p, kDoubleFree);
  report_invalid_free(p, kInteriorPointer);
}

L25Region* L25SpanManager::map_region() {
  if (!ClassMap::reserve()) return nullptr;
  // Accounted: it backs user blocks. Only the pages touched are ever resident,
  // the page map's included (48 bytes per span head).
  auto* region = static_cast<L25Region*>(pal_->map(kL25RegionSize, kL25RegionSize));
  if (region == nullptr) return nullptr;
  region->magic = kL25RegionMagic;
  ClassMap::set(region, kL25RegionSize, ClassMap::kL25Span);
  return region;
}

// `dirty`: a region whose unmap was refused may hold resident pages.
void L25SpanManager::add_region_locked(L25Region* region, bool dirty) {
  region->prev = nullptr;
  region->next = regions_;
  if (regions_ != nullptr) regions_->prev = region;
  regions_ = region;
  region->free_pages = kL25UsablePages;
  mark_free_locked(&region->spans[kL25FirstPage], kL25UsablePages, dirty, dirty ? decay_.stamp() : 0);
  ++empty_regions_;
  ++stats_.regions_mapped;
  stats_.free_pages += kL25UsablePages;
}

void* L25SpanManager::allocate(unsigned size_class) {
  const uint32_t pages = l25_class_pages(size_class);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      L25Span* span = take_free_locked(pages, true);
      if (span == nullptr) span = take_free_locked(pages, false);
      if (span != nullptr) {
        carve_locked(span, pages, size_class);
        // After the carve: the pass cannot unmap the region the span is in.
        L25Region* taken = tick_locked();
        lock.unlock();
        unmap_taken(taken);
        return l25_span_address(span);
      }
    }
    // Map outside the lock: mmap can take a while and needs no shared state.
    L25Region* region = map_region();
    std::lock_guard lock(mutex_);
    if (region == nullptr) {
      ++stats_.map_failures;
      return nullptr;
    }
    add_region_locked(region, false);
  }
}

// The smallest dirty (or clean) free span of at least `pages` pages (best
// fit over the exact bins, any span of the last), out of its bin and the
// dirty list.
L25Span* L25SpanManager::take_free_locked(uint32_t pages, bool dirty) {
  const uint64_t* nonempty = nonempty_[dirty];
  unsigned bin = bin_of(pages);
  unsigned word = bin / 64;
  uint64_t bits = nonempty[word] & (~uint64_t{0} << (bin % 64));
  while (bits == 0) {
    if (++word == kBinWords) return nullptr;
    bits = nonempty[word];
  }
  bin = word * 64 + static_cast<unsigned>(std::countr_zero(bits));
  L25Span* span = bins_[dirty][bin];
  unlink_free_locked(span);
  return span;
}

// `span` (a free head just unlinked) becomes an in-use span of `pages`
// pages; what is left of it stays free, as dirty as it was, with its stamp.
void L25SpanManager::carve_locked(L25Span* span, uint32_t pages, unsigned size_class) {
  const uint32_t total = span->pages;
  if (total > pages) mark_free_locked(span + pages, total - pages, span->dirty != 0, span->stamp);
  else if (total > 1) set_kind(span + total - 1, kL25None);
  span->pages = pages;
  span->size_class = static_cast<uint8_t>(size_class);
  set_kind(span, kL25InUse);
  L25Region* region = l25_region_of(span);
  if (region->free_pages == kL25UsablePages) --empty_regions_;
  region->free_pages -= pages;
  stats_.free_pages -= pages;
  stats_.in_use_pages += pages;
  ++stats_.spans_allocated;
}

void L25SpanManager::mark_free_locked(L25Span* head, uint32_t pages, bool dirty, Decay::Stamp stamp) {
  head->pages = pages;
  head->dirty = dirty ? 1 : 0;
  set_kind(head, kL25FreeHead);
  if (pages > 1) {
    L25Span* tail = head + pages - 1;
    tail->pages = pages;
    set_kind(tail, kL25FreeTail);
  }
  const unsigned bin = bin_of(pages);
  head->prev = nullptr;
  head->next = bins_[dirty][bin];
  if (head->next != nullptr) head->next->prev = head;
  bins_[dirty][bin] = head;
  nonempty_[dirty][bin / 64] |= uint64_t{1} << (bin % 64);
  if (dirty) {
    head->stamp = stamp;
    decay_.note(stamp);
    head->dirty_prev = nullptr;
    head->dirty_next = dirty_;
    if (dirty_ != nullptr) dirty_->dirty_prev = head;
    dirty_ = head;
    stats_.dirty_pages += pages;
  }
}

// Takes a free head out of its bin and the dirty list; its entries stay
// as they are for the caller to rewrite.
void L25SpanManager::unlink_free_locked(L25Span* head) {
  const unsigned bin = bin_of(head->pages);
  L25Span** bins = bins_[head->dirty];
  if (head->prev != nullptr) head->prev->next = head->next;
  else bins[bin] = head->next;
  if (head->next != nullptr) head->next->prev = head->prev;
  if (bins[bin] == nullptr) nonempty_[head->dirty][bin / 64] &= ~(uint64_t{1} << (bin % 64));
  if (head->dirty) {
    if (head->dirty_prev != nullptr) head->dirty_prev->dirty_next = head->dirty_next;
    else dirty_ = head->dirty_next;
    if (head->dirty_next != nullptr) head->dirty_next->dirty_prev = head->dirty_prev;
    stats_.dirty_pages -= head->pages;
  }
}

void L25SpanManager::release(void* const* blocks, size_t n) {
  if (n == 0) return;
  L25Region* taken = nullptr;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < n; ++i) release_locked(l25_span_of(blocks[i]));
    stats_.spans_released += static_cast<int64_t>(n);
    taken = tick_locked();
  }
  unmap_taken(taken);
}

L25Span* L25SpanManager::free_before(L25Span* span) {
  L25Region* region = l25_region_of(span);
  const auto index = static_cast<uint32_t>(span - region->spans);
  if (index <= kL25FirstPage) return nullptr;
  L25Span* before = span - 1;
  const uint8_t kind = kind_of(before);
  // A free tail, or the head of a one-page free span: either way its pages
  // field is its span's length.
  if (kind != kL25FreeTail && kind != kL25FreeHead) return nullptr;
  return &region->spans[index - before->pages];
}

// The span at `span` (in use or cached, its pages counted in use) becomes
// a free dirty span, stamped now, and merges with a dirty free span on
// either side. With no purge delay its pages go back at once instead.
void L25SpanManager::release_locked(L25Span* span) {
  L25Region* region = l25_region_of(span);
  const uint32_t index = static_cast<uint32_t>(span - region->spans);
  L25Span* head = span;
  uint32_t pages = span->pages;
  region->free_pages += pages;
  stats_.free_pages += pages;
  stats_.in_use_pages -= pages;
  set_kind(span, kL25None);
  if (index + pages < kL25RegionPages) {
    L25Span* right = span + pages;
    if (kind_of(right) == kL25FreeHead && right->dirty) {
      unlink_free_locked(right);
      pages += right->pages;
      set_kind(right, kL25None);
    }
  }
  if (L25Span* left = free_before(span); left != nullptr && left->dirty) {
    unlink_free_locked(left);
    set_kind(span - 1, kL25None);
    pages += left->pages;
    head = left;
  }
  mark_free_locked(head, pages, true, decay_.stamp());
  if (region->free_pages == kL25UsablePages) ++empty_regions_;
  if (Decay::immediate()) purge_span_locked(head);
}

bool L25SpanManager::resize(void* p, unsigned size_class) {
  L25Span* span = l25_span_of(p);
  const uint32_t pages = l25_class_pages(size_class);
  std::lock_guard lock(mutex_);
  const uint32_t old_pages = span->pages;
  if (pages < old_pages) {
    // The tail becomes a span of its own for a moment, then is freed like one.
    L25Span* tail = span + pages;
    tail->pages = old_pages - pages;
    span->pages = pages;
    span->size_class = static_cast<uint8_t>(size_class);
    release_locked(tail);
    ++stats_.shrunk_in_place;
    // No pass here: a region holding a live span is never empty, and the
    // next carve or free ticks.
    return true;
  }
  const uint32_t need = pages - old_pages;
  const uint32_t index = static_cast<uint32_t>(span - l25_region_of(span)->spans);
  L25Span* right = span + old_pages;
  if (need == 0) {
    span->size_class = static_cast<uint8_t>(size_class);
    return true;
  }
  if (index + old_pages >= kL25RegionPages || kind_of(right) != kL25FreeHead || right->pages < need) {
    ++stats_.grow_refused;
    return false;
  }
  unlink_free_locked(right);
  const uint32_t right_pages = right->pages;
  if (right_pages > need) mark_free_locked(right + need, right_pages - need, right->dirty != 0, right->stamp);
  else if (right_pages > 1) set_kind(right + right_pages - 1, kL25None);
  set_kind(right, kL25None);
  L25Region* region = l25_region_of(span);
  region->free_pages -= need;
  stats_.free_pages -= need;
  stats_.in_use_pages += need;
  span->pages = pages;
  span->size_class = static_cast<uint8_t>(size_class);
  ++stats_.grown_in_place;
  return true;
}

// A dirty free span's pages go back to the OS; it becomes clean and
// merges with a clean free span on either side.
void L25SpanManager::purge_span_locked(L25Span* head) {
  unlink_free_locked(head);
  uint32_t pages = head->pages;
  pal_->purge(l25_span_address(head), size_t{pages} << kL25PageShift);
  stats_.purged_pages += pages;
  const auto index = static_cast<uint32_t>(head - l25_region_of(head)->spans);
  if (index + pages < kL25RegionPages) {
    L25Span* right = head + pages;
    if (kind_of(right) == kL25FreeHead && !right->dirty) {
      unlink_free_locked(right);
      set_kind(right, kL25None);
      set_kind(head + pages - 1, kL25None);
      pages += right->pages;
    }
  }
  if (L25Span* left = free_before(head); left != nullptr && !left->dirty) {
    unlink_free_locked(left);
    set_kind(head - 1, kL25None);
    set_kind(head, kL25None);
    pages += left->pages;
    head = left;
  }
  mark_free_locked(head, pages, false, 0);
}

L25Region* L25SpanManager::tick_locked() {
  // No delay: spans were purged as they were freed; only empty regions
  // beyond the cache are left to unmap.
  if (Decay::immediate()) return empty_regions_ > option_value(Option::kL25RegionCache) ? purge_pass_locked(false) : nullptr;
  if (!decay_.tick(*pal_)) return nullptr;
  return purge_pass_locked(false);
}

void L25SpanManager::purge_expired(uint64_t now_ms) {
  L25Region* taken = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (decay_.advance(now_ms)) taken = purge_pass_locked(false);
  }
  unmap_taken(taken);
}

// Walks the whole dirty list (it is in no order): a span freed before the
// delay is purged, or its region unmapped when the span is all of an empty
// region beyond the cache; the oldest stamp left tells the decay when the
// next pass is due. `everything` (trim): every dirty span, every empty region.
L25Region* L25SpanManager::purge_pass_locked(bool everything) {
  const int64_t keep = everything ? 0 : option_value(Option::kL25RegionCache);
  L25Region* taken = nullptr;
  Decay::Stamp oldest = Decay::kNone;
  for (L25Span* head = dirty_; head != nullptr;) {
    L25Span* next = head->dirty_next;
    if (everything || decay_.expired(head->stamp)) {
      L25Region* region = l25_region_of(head);
      if (region->free_pages == kL25UsablePages && empty_regions_ > keep) {
        // Takes every span of the region off the lists, perhaps `next`
        // too: walk again (purged spans have left the list).
        take_region_locked(region, &taken);
        head = dirty_;
        oldest = Decay::kNone;
        continue;
      }
      purge_span_locked(head);  // leaves the dirty list; only clean spans merge with it
    } else if (head->stamp < oldest) {
      oldest = head->stamp;
    }
    head = next;
  }
  // Empty regions with no dirty span left (purged before, or at once with
  // no delay).
  if (everything || Decay::immediate()) {
    for (L25Region* region = regions_; region != nullptr && empty_regions_ > keep;) {
      L25Region* next = region->next;
      if (region->free_pages == kL25UsablePages) take_region_locked(region, &taken);
      region = next;
    }
  }
  decay_.rescanned(oldest);
  return taken;
}

// An empty region leaves the lists (its one free span, or a few alternately
// dirty and clean) and the counts, onto `taken`.
void L25SpanManager::take_region_locked(L25Region* region, L25Region** taken) {
  for (uint32_t i = kL25FirstPage; i < kL25RegionPages; i += region->spans[i].pages)
    unlink_free_locked(&region->spans[i]);
  if (region->prev != nullptr) region->prev->next = region->next;
  else regions_ = region->next;
  if (region->next != nullptr) region->next->prev = region->prev;
  --empty_regions_;
  --stats_.regions_mapped;
  stats_.free_pages -= kL25UsablePages;
  // Cleared before the unmap, so a new mapping at this address cannot be
  // cleared by a late writer (class_map.h).
  ClassMap::set(region, kL25RegionSize, ClassMap::kForeign);
  region->next = *taken;
  *taken = region;
}

void L25SpanManager::unmap_taken(L25Region* taken) {
  while (taken != nullptr) {
    L25Region* region = taken;
    taken = region->next;
    if (pal_->unmap(region, kL25RegionSize)) {
      std::lock_guard lock(mutex_);
      ++stats_.regions_unmapped;
      continue;
    }
    // Refused: the region stays mapped, empty, and is used again.
    ClassMap::set(region, kL25RegionSize, ClassMap::kL25Span);
    std::lock_guard lock(mutex_);
    ++stats_.unmap_failures;
    for (uint32_t i = kL25FirstPage; i < kL25RegionPages;) {
      const uint32_t pages = region->spans[i].pages;
      set_kind(&region->spans[i], kL25None);
      set_kind(&region->spans[i + pages - 1], kL25None);
      i += pages;
    }
    add_region_locked(region, true);
  }
}

void L25SpanManager::trim() {
  L25Region* taken = nullptr;
  {
    std::lock_guard lock(mutex_);
    taken = purge_pass_locked(true);
  }
  unmap_taken(taken);
}

L25SpanStats L25SpanManager::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void L25SpanManager::check() const {
  std::lock_guard lock(mutex_);
  int64_t in_use_pages = 0, dirty_pages = 0, free_spans = 0, regions = 0;
  for (const L25Region* region = regions_; region != nullptr; region = region->next) {
    ++regions;
    if (region->magic != kL25RegionMagic) fatal("L25 region %p: bad magic", static_cast<const void*>(region));
    for (uint32_t i = 0; i < kL25FirstPage; ++i)
      if (kind_of(&region->spans[i]) != kL25None) fatal("L25 header page %u of %p: entry set", i, static_cast<const void*>(region));
    uint32_t region_free = 0;
    uint8_t previous = kL25None, previous_dirty = 0;
    for (uint32_t i = kL25FirstPage; i < kL25RegionPages;) {
      const L25Span* head = &region->spans[i];
      const uint8_t kind = kind_of(head);
      const uint32_t pages = head->pages;
      if (pages == 0 || i + pages > kL25RegionPages) fatal("L25 span %u of %p: bad length %u", i, static_cast<const void*>(region), pages);
      for (uint32_t j = 1; j + 1 < pages; ++j)
        if (kind_of(head + j) != kL25None) fatal("L25 span %u of %p: entry %u set inside it", i, static_cast<const void*>(region), j);
      if (kind == kL25FreeHead) {
        if (previous == kL25FreeHead && previous_dirty == head->dirty) fatal("L25 span %u: two free spans of one kind touch", i);
        if (pages > 1 && (kind_of(head + pages - 1) != kL25FreeTail || head[pages - 1].pages != pages))
          fatal("L25 span %u: bad free tail", i);
        region_free += pages;
        ++free_spans;
        if (head->dirty) dirty_pages += pages;
        const L25Span* s = bins_[head->dirty][bin_of(pages)];
        while (s != nullptr && s != head) s = s->next;
        if (s == nullptr) fatal("L25 span %u: free but not in its bin", i);
      } else if (kind == kL25InUse || kind == kL25Cached) {
        if (pages != l25_class_pages(head->size_class)) fatal("L25 span %u: %u pages for class %u", i, pages, head->size_class);
        if (pages > 1 && kind_of(head + pages - 1) != kL25None) fatal("L25 span %u: tail entry set", i);
        in_use_pages += pages;
      } else {
        fatal("L25 span %u of %p: no head (kind %u)", i, static_cast<const void*>(region), kind);
      }
      previous = kind;
      previous_dirty = head->dirty;
      i += pages;
    }
    if (region_free != region->free_pages) fatal("L25 region %p: %u free pages counted, %u found", static_cast<const void*>(region), region->free_pages, region_free);
  }
  int64_t binned = 0;
  for (unsigned d = 0; d < 2; ++d) {
    for (unsigned b = 0; b < kBins; ++b) {
      if ((bins_[d][b] != nullptr) != (((nonempty_[d][b / 64] >> (b % 64)) & 1) != 0)) fatal("L25 bin %u: bitmap disagrees", b);
      for (const L25Span* s = bins_[d][b]; s != nullptr; s = s->next) {
        if (s->dirty != d) fatal("L25 bin %u: a span of the other kind", b);
        ++binned;
      }
    }
  }
  int64_t listed_dirty = 0;
  for (const L25Span* s = dirty_; s != nullptr; s = s->dirty_next) {
    if (!s->dirty || kind_of(s) != kL25FreeHead) fatal("L25: a span on the dirty list is not a dirty free head");
    listed_dirty += s->pages;
  }
  if (binned != free_spans) fatal("L25: %lld spans binned, %lld free", static_cast<long long>(binned), static_cast<long long>(free_spans));
  if (listed_dirty != dirty_pages || dirty_pages != stats_.dirty_pages) fatal("L25: dirty pages disagree");
  if (regions != stats_.regions_mapped) fatal("L25: region count disagrees");
  int64_t free_pages = 0;
  for (const L25Region* region = regions_; region != nullptr; region = region->next) free_pages += region->free_pages;
  if (free_pages != stats_.free_pages || in_use_pages != stats_.in_use_pages) fatal("L25: page counts disagree");
}

}  // namespace hakmem
