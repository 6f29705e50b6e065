// L25SpanManager: one lock around span carving, coalescing and purging
// (see l25_spans.h). The caches above it (pools/l25_pool.h) take this lock
// only when they miss or overflow.
#include "allocator/backend/l25_spans.h"

#include <algorithm>
#include <bit>

#include "allocator/backend/class_map.h"
#include "allocator/config/options.h"
#include "allocator/pal/log.h"

namespace hakmem {

constinit L25SpanManager g_l25_spans{&g_os_pal};

namespace {

uint8_t kind_of(const L25Span* span) { return span->kind.load(std::memory_order_relaxed); }
void set_kind(L25Span* span, uint8_t kind) { span->kind.store(kind, std::memory_order_relaxed); }

uint32_t index_of(const L25Span* span) { return static_cast<uint32_t>(span - l25_region_of(span)->spans); }

// The bits of word w of a page bitmap that fall in pages [first, end).
uint64_t word_mask(uint32_t w, uint32_t first, uint32_t end) {
  const uint32_t lo = w * 64 > first ? 0 : first - w * 64;
  const uint32_t hi = (w + 1) * 64 < end ? 64 : end - w * 64;
  const uint64_t upto = hi == 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return upto & (~uint64_t{0} << lo);
}

}  // namespace

uint32_t L25SpanManager::count_resident(const L25Region* region, uint32_t first, uint32_t pages) {
  const uint32_t end = first + pages;
  uint32_t n = 0;
  for (uint32_t w = first / 64; w * 64 < end; ++w)
    n += static_cast<uint32_t>(std::popcount(region->resident[w] & word_mask(w, first, end)));
  return n;
}

void L25SpanManager::set_resident(L25Region* region, uint32_t first, uint32_t pages, bool resident) {
  const uint32_t end = first + pages;
  for (uint32_t w = first / 64; w * 64 < end; ++w) {
    if (resident) region->resident[w] |= word_mask(w, first, end);
    else region->resident[w] &= ~word_mask(w, first, end);
  }
}

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
  // the page map's included (48 bytes per span head). Fresh pages read zero:
  // the resident bitmap starts empty.
  auto* region = static_cast<L25Region*>(pal_->map(kL25RegionSize, kL25RegionSize));
  if (region == nullptr) return nullptr;
  region->magic = kL25RegionMagic;
  ClassMap::set(region, kL25RegionSize, ClassMap::kL25Span);
  return region;
}

// `dirty`: a region whose unmap was refused may hold resident pages anywhere.
void L25SpanManager::add_region_locked(L25Region* region, bool dirty) {
  region->prev = nullptr;
  region->next = regions_;
  if (regions_ != nullptr) regions_->prev = region;
  regions_ = region;
  region->free_pages = kL25UsablePages;
  set_resident(region, kL25FirstPage, kL25UsablePages, dirty);
  mark_free_locked(&region->spans[kL25FirstPage], kL25UsablePages, dirty ? kL25UsablePages : 0,
                   dirty ? decay_.stamp() : 0);
  ++empty_regions_;
  ++stats_.regions_mapped;
  stats_.free_pages += kL25UsablePages;
}

void* L25SpanManager::allocate_pages(uint32_t pages) {
  const unsigned size_class = l25_class_of(size_t{pages} << kL25PageShift);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (const Placement at = take_free_locked(pages); at.span != nullptr) {
        L25Span* span = carve_locked(at, pages, size_class);
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

// The first run of at least `pages` resident pages among [first, end) of
// `region`, as its first page, or kNoRun. Word by word, and a run is
// followed only as far as `pages`: a span of a whole region is 128 words
// of the bitmap.
uint32_t L25SpanManager::resident_run(const L25Region* region, uint32_t first, uint32_t end, uint32_t pages) {
  uint32_t start = first;
  while (start + pages <= end) {
    // The next resident page at or after start.
    uint32_t w = start / 64;
    uint64_t set = region->resident[w] & (~uint64_t{0} << (start % 64));
    while (set == 0 && (w + 1) * 64 < end) set = region->resident[++w];
    if (set == 0) return kNoRun;
    start = w * 64 + static_cast<uint32_t>(std::countr_zero(set));
    if (start + pages > end) return kNoRun;
    // The first page of [start, start + pages) that is not resident, if any.
    const uint32_t stop = start + pages;
    w = start / 64;
    uint64_t clear = ~region->resident[w] & word_mask(w, start, stop);
    while (clear == 0 && (w + 1) * 64 < stop) {
      ++w;
      clear = ~region->resident[w] & word_mask(w, start, stop);
    }
    if (clear == 0) return start;
    start = w * 64 + static_cast<uint32_t>(std::countr_zero(clear));
  }
  return kNoRun;
}

// Where a span of `pages` pages goes: a free span out of its bin and the
// dirty list, and the page of it the span starts at.
//
// Resident pages first: the smallest free span holding a run of `pages`
// resident pages, the span placed at the run's start, so a block reuses
// pages a freed block left resident before it touches a fresh one (a
// fresh page raises RSS; a resident free page costs nothing to reuse
// and is purged anyway once it stays free a delay). It looks at
// kRunSearchSpans free spans at most, smallest first, and searches the
// bitmap only of those with enough resident pages. Else
// the smallest free span of all: the head of the first non-empty exact bin,
// or the shortest span of the last bin (those longer than any class: a
// region's untouched rest and large holes; the shortest keeps the longest
// whole, as a heap keeps its top for last), from the end whose pages are
// resident: the back end if its last page is and its first is not, else
// the front.
//
// Why: at full speed mid_churn's run (1 thread) is shorter than the purge
// delay, so its peak RSS is every page it ever touched, and a fresh page
// touched while freed ones wait is the peak growing. With the best fit
// whatever its pages' state a clean hole or a region's untouched rest that
// fitted better was taken while resident holes waited (43 carves after the
// first rise touched fresh pages while a resident run as long as their
// request was free, seed 42); with resident-first placement, page-exact spans
// above 256 KiB (l25_span_pages) and realloc's shrunk tails given back,
// the driver's peak at seeds 42 and 1..8 went from 99.2..106.6 MiB to
// 95.7..101.9 (glibc 92.6..101.0; median 100.8 -> 97.0). The search costs nothing when the best
// fit is resident too (the first span looked at).
L25SpanManager::Placement L25SpanManager::take_free_locked(uint32_t pages) {
  unsigned bin = bin_of(pages);
  unsigned word = bin / 64;
  uint64_t bits = nonempty_[word] & (~uint64_t{0} << (bin % 64));
  while (bits == 0) {
    if (++word == kBinWords) return {};
    bits = nonempty_[word];
  }
  bin = word * 64 + static_cast<unsigned>(std::countr_zero(bits));
  // The non-empty bins from `bin` up, word by word of their bitmap.
  Placement best;
  unsigned looked = 0;
  for (unsigned w = bin / 64; w < kBinWords && looked < kRunSearchSpans; ++w) {
    uint64_t nonempty = nonempty_[w] & (w == bin / 64 ? ~uint64_t{0} << (bin % 64) : ~uint64_t{0});
    for (; nonempty != 0 && looked < kRunSearchSpans; nonempty &= nonempty - 1) {
      const unsigned b = w * 64 + static_cast<unsigned>(std::countr_zero(nonempty));
      for (L25Span* s = bins_[b]; s != nullptr && looked < kRunSearchSpans; s = s->next) {
        ++looked;
        if (s->dirty < pages || (best.span != nullptr && s->pages >= best.span->pages)) continue;
        const uint32_t first = index_of(s);
        const uint32_t run = resident_run(l25_region_of(s), first, first + s->pages, pages);
        if (run != kNoRun) best = {s, run - first, true};
      }
      // An exact bin's spans are all one length: a find there is the best fit.
      if (best.span != nullptr && b < kL25MaxSpanPages) {
        w = kBinWords;
        break;
      }
    }
  }
  if (best.span == nullptr) {
    L25Span* span = bins_[bin];
    if (bin == kL25MaxSpanPages) {
      for (L25Span* s = span->next; s != nullptr; s = s->next)
        if (s->pages < span->pages) span = s;
    }
    L25Region* region = l25_region_of(span);
    const uint32_t first = index_of(span);
    const bool back = span->pages > pages && span->dirty > 0 && !is_resident(region, first) &&
                      is_resident(region, first + span->pages - 1);
    best = {span, back ? span->pages - pages : 0, false};
  }
  unlink_free_locked(best.span);
  return best;
}

// `at.span` (a free head just unlinked) gives an in-use span of `pages`
// pages starting `at.offset` pages into it; what is left on either side
// stays free, with its resident pages and its stamp, in its place on the
// dirty list. Returns the in-use span.
L25Span* L25SpanManager::carve_locked(Placement at, uint32_t pages, unsigned size_class) {
  L25Span* const free = at.span;
  L25Region* region = l25_region_of(free);
  const uint32_t total = free->pages;
  const Decay::Stamp stamp = free->stamp;
  // unlink_free_locked left dirty_prev as it was: the dirty list's order holds.
  L25Span* after = free->dirty_prev;
  uint32_t dirty = free->dirty;
  L25Span* span = free + at.offset;
  const uint32_t right = total - at.offset - pages;
  const uint32_t reused = at.resident ? pages : dirty == 0 ? 0 : count_resident(region, index_of(span), pages);
  dirty -= reused;
  set_resident(region, index_of(span), pages, true);
  if (total > 1) set_kind(free + total - 1, kL25None);  // the old tail entry
  set_kind(free, kL25None);
  if (at.offset > 0) {
    const uint32_t left_dirty = dirty == 0 ? 0 : count_resident(region, index_of(free), at.offset);
    mark_free_locked(free, at.offset, left_dirty, stamp, after);
    dirty -= left_dirty;
    if (left_dirty > 0) after = free;
  }
  if (right > 0) mark_free_locked(span + pages, right, dirty, stamp, after);
  span->pages = pages;
  span->size_class = static_cast<uint8_t>(size_class);
  span->grown = 0;
  set_kind(span, kL25InUse);
  if (region->free_pages == kL25UsablePages) --empty_regions_;
  region->free_pages -= pages;
  stats_.free_pages -= pages;
  stats_.in_use_pages += pages;
  ++stats_.spans_allocated;
  return span;
}

void L25SpanManager::mark_free_locked(L25Span* head, uint32_t pages, uint32_t dirty, Decay::Stamp stamp,
                                      L25Span* after) {
  head->pages = pages;
  head->dirty = dirty;
  set_kind(head, kL25FreeHead);
  if (pages > 1) {
    L25Span* tail = head + pages - 1;
    tail->pages = pages;
    set_kind(tail, kL25FreeTail);
  }
  const unsigned bin = bin_of(pages);
  head->prev = nullptr;
  head->next = bins_[bin];
  if (head->next != nullptr) head->next->prev = head;
  bins_[bin] = head;
  nonempty_[bin / 64] |= uint64_t{1} << (bin % 64);
  if (dirty > 0) {
    head->stamp = stamp;
    decay_.note(stamp);
    head->dirty_prev = after;
    head->dirty_next = after != nullptr ? after->dirty_next : dirty_;
    if (after != nullptr) after->dirty_next = head;
    else dirty_ = head;
    if (head->dirty_next != nullptr) head->dirty_next->dirty_prev = head;
    else dirty_tail_ = head;
    stats_.dirty_pages += dirty;
  }
}

// Takes a free head out of its bin and the dirty list; its entries stay
// as they are for the caller to rewrite.
void L25SpanManager::unlink_free_locked(L25Span* head) {
  const unsigned bin = bin_of(head->pages);
  if (head->prev != nullptr) head->prev->next = head->next;
  else bins_[bin] = head->next;
  if (head->next != nullptr) head->next->prev = head->prev;
  if (bins_[bin] == nullptr) nonempty_[bin / 64] &= ~(uint64_t{1} << (bin % 64));
  if (head->dirty > 0) unlink_dirty_locked(head);
}

void L25SpanManager::unlink_dirty_locked(L25Span* head) {
  if (head->dirty_prev != nullptr) head->dirty_prev->dirty_next = head->dirty_next;
  else dirty_ = head->dirty_next;
  if (head->dirty_next != nullptr) head->dirty_next->dirty_prev = head->dirty_prev;
  else dirty_tail_ = head->dirty_prev;
  stats_.dirty_pages -= head->dirty;
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

// The span at `span` (in use or cached, every page resident, counted in
// use) becomes free, stamped now, merged with the free span on either side
// whatever their pages' state. With no purge delay its pages go back at
// once instead.
void L25SpanManager::release_locked(L25Span* span) {
  L25Region* region = l25_region_of(span);
  const uint32_t index = index_of(span);
  L25Span* head = span;
  uint32_t pages = span->pages;
  uint32_t dirty = pages;
  region->free_pages += pages;
  stats_.free_pages += pages;
  stats_.in_use_pages -= pages;
  set_kind(span, kL25None);
  // The merged span keeps the oldest stamp of its dirty parts, and that
  // part's place on the dirty list (so the list stays in stamp order): a
  // merge that took the new stamp for every page let a free span that
  // something is freed next to more often than the delay stay resident for
  // good (issue 13: 31680 KiB after growth's settle step). The pages freed
  // now may so go back sooner than a delay after their free; the old ones
  // never wait more than a delay.
  Decay::Stamp stamp = decay_.stamp();
  L25Span* after = nullptr;  // the dirty list's neighbour on the newer side
  L25Span* right = nullptr;
  if (index + pages < kL25RegionPages && kind_of(span + pages) == kL25FreeHead) right = span + pages;
  L25Span* const left = free_before(span);
  for (L25Span* part : {right, left}) {
    if (part != nullptr && part->dirty > 0 && part->stamp < stamp) {
      stamp = part->stamp;
      after = part->dirty_prev;
    }
  }
  if (right != nullptr) {
    unlink_free_locked(right);
    pages += right->pages;
    dirty += right->dirty;
    set_kind(right, kL25None);
  }
  if (left != nullptr) {
    unlink_free_locked(left);
    set_kind(span - 1, kL25None);
    pages += left->pages;
    dirty += left->dirty;
    head = left;
  }
  // Unlinked above: its own newer neighbour stands in (unlinking leaves a
  // span's dirty_prev as it was, which is still on the list).
  while (after != nullptr && (after == left || after == right)) after = after->dirty_prev;
  mark_free_locked(head, pages, dirty, stamp, after);
  if (region->free_pages == kL25UsablePages) ++empty_regions_;
  if (Decay::immediate()) purge_span_locked(head);
}

bool L25SpanManager::resize_pages(void* p, uint32_t pages) {
  L25Span* span = l25_span_of(p);
  const unsigned size_class = l25_class_of(size_t{pages} << kL25PageShift);
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
  const uint32_t index = index_of(span);
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
  L25Region* region = l25_region_of(span);
  const uint32_t right_pages = right->pages;
  const uint32_t reused = right->dirty == 0 ? 0 : count_resident(region, index + old_pages, need);
  set_resident(region, index + old_pages, need, true);
  if (right_pages > need)
    mark_free_locked(right + need, right_pages - need, right->dirty - reused, right->stamp, right->dirty_prev);
  else if (right_pages > 1)
    set_kind(right + right_pages - 1, kL25None);
  set_kind(right, kL25None);
  region->free_pages -= need;
  stats_.free_pages -= need;
  stats_.in_use_pages += need;
  span->pages = pages;
  span->size_class = static_cast<uint8_t>(size_class);
  ++stats_.grown_in_place;
  return true;
}

// A free span's resident pages go back to the OS, from its first to its
// last resident page in one call (the pages between that are not resident
// cost the kernel a page-table walk, not a fault); it stays where it is,
// in its bin, off the dirty list.
void L25SpanManager::purge_span_locked(L25Span* head) {
  L25Region* region = l25_region_of(head);
  const uint32_t first = index_of(head);
  const uint32_t end = first + head->pages;
  uint32_t lo = first, hi = end;
  while (lo < hi && !is_resident(region, lo)) ++lo;
  while (hi > lo && !is_resident(region, hi - 1)) --hi;
  if (lo < hi) {
    pal_->purge(reinterpret_cast<char*>(region) + (size_t{lo} << kL25PageShift), size_t{hi - lo} << kL25PageShift);
    set_resident(region, lo, hi - lo, false);
  }
  stats_.purged_pages += head->dirty;
  // The page-map pages inside the span's interior entries (h+1 .. h+n-2):
  // all kNone, which a purged page reads as (zero). The head's and tail's
  // pages, and so every other span's entries, are left alone.
  if (head->pages > 2) {
    const uintptr_t map_lo = (reinterpret_cast<uintptr_t>(head + 1) + kPageSize - 1) & ~(uintptr_t{kPageSize} - 1);
    const uintptr_t map_hi = reinterpret_cast<uintptr_t>(head + head->pages - 1) & ~(uintptr_t{kPageSize} - 1);
    if (map_lo < map_hi) {
      pal_->purge(reinterpret_cast<void*>(map_lo), map_hi - map_lo);
      stats_.map_pages_purged += static_cast<int64_t>((map_hi - map_lo) / kPageSize);
    }
  }
  unlink_dirty_locked(head);
  head->dirty = 0;
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

// Walks the dirty list from its oldest end: a span freed before the delay
// is purged, or its region unmapped when the span is all of an empty
// region beyond the cache; the first span not expired ends the walk (the
// list is in stamp order) and its stamp tells the decay when the next pass
// is due. `everything` (trim): every dirty span, every empty region.
L25Region* L25SpanManager::purge_pass_locked(bool everything) {
  const int64_t keep = everything ? 0 : option_value(Option::kL25RegionCache);
  L25Region* taken = nullptr;
  Decay::Stamp oldest = Decay::kNone;
  while (L25Span* head = dirty_tail_) {
    if (!everything && !decay_.expired(head->stamp)) {
      oldest = head->stamp;
      break;
    }
    L25Region* region = l25_region_of(head);
    if (region->free_pages == kL25UsablePages && empty_regions_ > keep) take_region_locked(region, &taken);
    else purge_span_locked(head);  // leaves the dirty list
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

// An empty region (one free span) leaves the lists and the counts, onto `taken`.
void L25SpanManager::take_region_locked(L25Region* region, L25Region** taken) {
  unlink_free_locked(&region->spans[kL25FirstPage]);
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
    L25Span* head = &region->spans[kL25FirstPage];
    set_kind(head, kL25None);
    set_kind(head + head->pages - 1, kL25None);
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
  int64_t in_use_pages = 0, dirty_pages = 0, dirty_spans = 0, free_spans = 0, regions = 0;
  for (const L25Region* region = regions_; region != nullptr; region = region->next) {
    ++regions;
    if (region->magic != kL25RegionMagic) fatal("L25 region %p: bad magic", static_cast<const void*>(region));
    for (uint32_t i = 0; i < kL25FirstPage; ++i)
      if (kind_of(&region->spans[i]) != kL25None) fatal("L25 header page %u of %p: entry set", i, static_cast<const void*>(region));
    uint32_t region_free = 0;
    uint8_t previous = kL25None;
    for (uint32_t i = kL25FirstPage; i < kL25RegionPages;) {
      const L25Span* head = &region->spans[i];
      const uint8_t kind = kind_of(head);
      const uint32_t pages = head->pages;
      if (pages == 0 || i + pages > kL25RegionPages) fatal("L25 span %u of %p: bad length %u", i, static_cast<const void*>(region), pages);
      for (uint32_t j = 1; j + 1 < pages; ++j)
        if (kind_of(head + j) != kL25None) fatal("L25 span %u of %p: entry %u set inside it", i, static_cast<const void*>(region), j);
      if (kind == kL25FreeHead) {
        if (previous == kL25FreeHead) fatal("L25 span %u: two free spans touch", i);
        if (pages > 1 && (kind_of(head + pages - 1) != kL25FreeTail || head[pages - 1].pages != pages))
          fatal("L25 span %u: bad free tail", i);
        if (head->dirty != count_resident(region, i, pages)) fatal("L25 span %u: %u resident pages counted, %u marked", i, head->dirty, count_resident(region, i, pages));
        region_free += pages;
        ++free_spans;
        dirty_pages += head->dirty;
        if (head->dirty > 0) ++dirty_spans;
        const L25Span* s = bins_[bin_of(pages)];
        while (s != nullptr && s != head) s = s->next;
        if (s == nullptr) fatal("L25 span %u: free but not in its bin", i);
      } else if (kind == kL25InUse || kind == kL25Cached) {
        const size_t bytes = size_t{pages} << kL25PageShift;
        if (bytes <= kSlabMaxSize || bytes > kL25MaxSize || l25_class_of(bytes) != head->size_class ||
            (bytes <= kL25TableMaxSize && pages != l25_class_pages(head->size_class)))
          fatal("L25 span %u: %u pages for class %u", i, pages, head->size_class);
        if (pages > 1 && kind_of(head + pages - 1) != kL25None) fatal("L25 span %u: tail entry set", i);
        if (count_resident(region, i, pages) != pages) fatal("L25 span %u: in use but not every page marked resident", i);
        in_use_pages += pages;
      } else {
        fatal("L25 span %u of %p: no head (kind %u)", i, static_cast<const void*>(region), kind);
      }
      previous = kind;
      i += pages;
    }
    if (region_free != region->free_pages) fatal("L25 region %p: %u free pages counted, %u found", static_cast<const void*>(region), region->free_pages, region_free);
  }
  int64_t binned = 0;
  for (unsigned b = 0; b < kBins; ++b) {
    if ((bins_[b] != nullptr) != (((nonempty_[b / 64] >> (b % 64)) & 1) != 0)) fatal("L25 bin %u: bitmap disagrees", b);
    for (const L25Span* s = bins_[b]; s != nullptr; s = s->next) ++binned;
  }
  int64_t listed_dirty = 0, listed_spans = 0;
  for (const L25Span* s = dirty_; s != nullptr; s = s->dirty_next) {
    if (s->dirty == 0 || kind_of(s) != kL25FreeHead) fatal("L25: a span on the dirty list is not a dirty free head");
    if (s->dirty_next != nullptr && s->dirty_next->stamp > s->stamp) fatal("L25: the dirty list is out of stamp order");
    if ((s->dirty_next == nullptr) != (s == dirty_tail_)) fatal("L25: the dirty list's tail is wrong");
    listed_dirty += s->dirty;
    ++listed_spans;
  }
  if (dirty_ == nullptr && dirty_tail_ != nullptr) fatal("L25: the dirty list's tail is wrong");
  if (binned != free_spans) fatal("L25: %lld spans binned, %lld free", static_cast<long long>(binned), static_cast<long long>(free_spans));
  if (listed_spans != dirty_spans || listed_dirty != dirty_pages || dirty_pages != stats_.dirty_pages) fatal("L25: dirty pages disagree");
  if (regions != stats_.regions_mapped) fatal("L25: region count disagrees");
  int64_t free_pages = 0;
  for (const L25Region* region = regions_; region != nullptr; region = region->next) free_pages += region->free_pages;
  if (free_pages != stats_.free_pages || in_use_pages != stats_.in_use_pages) fatal("L25: page counts disagree");
}

}  // namespace hakmem
