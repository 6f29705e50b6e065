// The L25 span manager: blocks of 32 KiB .. 2 MiB as page spans carved
// from 32 MiB regions, so no block of this range gets a mapping of its own
// (issue 12: 70,000 live 40 KB blocks held 70,000 mappings).
//
//   region (32 MiB, aligned to 32 MiB)
//   +--------------------------+------+---------+-----------+----- ... --+
//   | L25Region: header and a  | span | free    | span      |            |
//   | page map, one L25Span    | in   | span    | in use    |            |
//   | per 4 KiB page           | use  |         |           |            |
//   +--------------------------+------+---------+-----------+----- ... --+
//   ^ p & ~(32 MiB - 1)        ^ kL25FirstPage
//
//   block p -> region = p & ~(32 MiB - 1)        (address arithmetic only,
//           -> span   = region->spans[(p % 32 MiB) >> 12]    like a slab's)
//
// The class map reads kL25Span for every 64 KiB of a region, so free()
// comes here by one table load, as for every other block.
//
// Coalescing, not segregation. A freed span merges with its free
// neighbours at once (boundary tags: a free span's head and tail page
// entries carry its length), whatever state their pages are in, and free
// spans sit in bins by exact page count (1..512 pages) plus one bin for
// longer ones, taken best fit (in the last bin the shortest, so a region's
// untouched rest is cut into last, as a heap keeps its top). Which pages
// may be resident is kept apart from the spans, one bit per page in the
// region's header (set when a span is carved, cleared when it is purged),
// and each free span counts its resident pages: a block freed next to the
// untouched rest of a region merges with it and makes only its own pages
// count as dirty. Placement is resident first: a carve goes where a run
// of resident free pages holds it (the smallest such free span, at the
// run), and only when none does to the best fit of all, from its resident
// end; so a hole is used again before a fresh page is touched, whatever
// the size of the free span around it (take_free_locked has the numbers).
// (Until issue 12's follow-up dirty and clean spans were binned apart and
// merged only with their own kind, as jemalloc keeps dirty and retained
// extents apart, so a hole freed beside clean pages stayed too short for
// a bigger block, which then touched fresh pages next to it. mid_churn's
// peak RSS, 1 thread, six seeds, no shared caches: 103.4 MiB apart, 102.9
// merged; without the thread cache either, 103.2 and 99.5: cached blocks
// pin holes between free spans the same way.) Why coalesce at all:
// this range's blocks are big and their sizes are spread over 48 classes,
// so segregated free lists would strand whole MiB in classes nobody asks
// for again (mid_churn's working set rises and falls through every
// class); merged spans serve any class, and a span whose right neighbour
// is free can grow in place (realloc), which segregation rules out. The
// per-class caches above this layer (pools/l25_pool.h) give the common
// same-size churn its speed without touching the spans.
//
// Memory return: time decay (backend/decay.h), like every back-end pool. A
// freed span is dirty (some pages resident) and stamped; the dirty list
// holds the dirty spans in stamp order. Allocations and frees tick the
// decay, and once a dirty span has stayed free for HAKMEM_PURGE_DELAY_MS a
// purge pass returns its resident pages (MADV_DONTNEED, one call from its
// first resident page to its last) and it stays where it is, clean; or,
// when it is a whole empty region beyond HAKMEM_L25_REGION_CACHE, the
// region is unmapped. A merge restamps the merged span (its newest part
// was freed now). With a delay of 0 a span's pages go back as it is freed.
// The same purge returns the page-map pages that hold only the span's
// interior entries (those of pages h+1 .. h+n-2, all kNone, which read as
// zero once purged): carves write head entries all over the map, and
// without this an empty cached region kept about 200 KiB of its 384 KiB
// map resident (growth's settle step, issue 12). A span needs about 87
// pages (4 KiB of 48-byte entries) before a map page lies inside it.
// trim() purges every dirty span and unmaps every empty region at once.
// purge_expired(now) is the entry point of a later background thread.

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include "allocator/backend/decay.h"
#include "allocator/config/l25_classes.h"
#include "allocator/pal/pal.h"

namespace hakmem {

inline constexpr unsigned kL25RegionShift = 25;
inline constexpr size_t kL25RegionSize = size_t{1} << kL25RegionShift;
inline constexpr uint32_t kL25RegionPages = kL25RegionSize / kL25PageSize;
inline constexpr uint32_t kL25MaxSpanPages = kL25MaxSize / kL25PageSize;
inline constexpr uint32_t kL25RegionMagic = 0x3532'4B48;  // "HK25"

// What a page entry says. Only a span's head entry (and a free span's tail
// entry) is ever anything but kNone.
enum L25Kind : uint8_t {
  kL25None = 0,      // inside a span, or a page no span starts at
  kL25FreeHead = 1,  // first page of a free span
  kL25FreeTail = 2,  // last page of a free span of two pages or more
  kL25InUse = 3,     // first page of a span a user holds
  kL25Cached = 4,    // first page of a span freed by its user, held by a cache above
};

// One page's entry in its region's page map.
//
// Invariants:
//   in-use or cached head h (pages n, class c): c == l25_class_of(n pages'
//     bytes), and n == l25_class_pages(c) for a class up to
//     kL25TableMaxSize (l25_span_pages: a longer span's pages are its
//     request's, so it may be shorter than its class);
//     entries h+1 .. h+n-1 are kNone; resident bits h .. h+n-1 all set
//   free head h (pages n): h is in exactly one bin, bins_[bin_of(n)];
//     entries h+1 .. h+n-2 are kNone; n >= 2 => entry h+n-1 is kFreeTail
//     with pages == n; dirty == the resident bits set in h .. h+n-1;
//     dirty > 0 <=> h is on the dirty list
//   the dirty list runs from the newest stamp to the oldest (dirty_tail_)
//   no two free spans touch (coalesced at every free)
//   kind is written under the manager's lock, except kInUse <-> kCached,
//     which the caches above flip without it (never to or from free)
//   the entries of pages below kL25FirstPage (the header's) stay kNone
struct L25Span {
  std::atomic<uint8_t> kind;
  uint8_t size_class;  // in use or cached
  union {
    uint16_t dirty;  // free head: how many of its pages may be resident
    uint16_t grown;  // in use or cached: 1 if realloc moved a growing block here (mark_grown)
  };
  uint32_t pages;      // a head's span length; a free tail's too
  L25Span* next;       // free head: its bin
  L25Span* prev;
  L25Span* dirty_next;  // free dirty head: the dirty list
  L25Span* dirty_prev;
  Decay::Stamp stamp;  // free dirty head: when it became dirty
};
static_assert(sizeof(L25Span) == 48);

// Invariants (under the manager's lock):
//   magic == kL25RegionMagic
//   free_pages == sum of the pages of this region's free spans
//   free_pages == kL25RegionPages - kL25FirstPage  <=>  the region is empty
//     (one free span covering it)
//   bit i of resident clear => page i is not resident (never touched since
//     the region was mapped, or purged since its last carve)
struct L25Region {
  uint32_t magic;
  uint32_t free_pages;
  L25Region* next;  // the manager's region list
  L25Region* prev;
  uint64_t resident[kL25RegionPages / 64];
  alignas(64) L25Span spans[kL25RegionPages];
};

// The first page a span may start at: the region's header and page map come first.
inline constexpr uint32_t kL25FirstPage =
    static_cast<uint32_t>((sizeof(L25Region) + kL25PageSize - 1) / kL25PageSize);
inline constexpr uint32_t kL25UsablePages = kL25RegionPages - kL25FirstPage;
static_assert(kL25UsablePages > 8 * kL25MaxSpanPages, "a region holds many of the largest spans");
static_assert(kL25UsablePages <= UINT16_MAX, "a free span's resident count fits L25Span::dirty");

[[gnu::always_inline]] inline L25Region* l25_region_of(const void* p) {
  return reinterpret_cast<L25Region*>(reinterpret_cast<uintptr_t>(p) & ~(kL25RegionSize - 1));
}
[[gnu::always_inline]] inline uint32_t l25_page_of(const void* p) {
  return static_cast<uint32_t>((reinterpret_cast<uintptr_t>(p) & (kL25RegionSize - 1)) >> kL25PageShift);
}
[[gnu::always_inline]] inline L25Span* l25_span_of(const void* p) {
  return &l25_region_of(p)->spans[l25_page_of(p)];
}
inline char* l25_span_address(L25Span* span) {
  L25Region* region = l25_region_of(span);
  return reinterpret_cast<char*>(region) + (static_cast<size_t>(span - region->spans) << kL25PageShift);
}

// Each a count over the manager's life or a current amount, read under its lock.
struct L25SpanStats {
  int64_t regions_mapped = 0;    // currently
  int64_t regions_unmapped = 0;  // ever
  int64_t in_use_pages = 0;      // spans users or caches hold
  int64_t free_pages = 0;
  int64_t dirty_pages = 0;       // free pages that may be resident (used since their last purge)
  int64_t purged_pages = 0;      // ever: resident pages purged
  int64_t map_pages_purged = 0;  // ever: page-map pages purged under long free spans (purge_span_locked)
  int64_t spans_allocated = 0;   // ever
  int64_t spans_released = 0;    // ever
  int64_t grown_in_place = 0;    // ever
  int64_t shrunk_in_place = 0;   // ever
  int64_t grow_refused = 0;      // ever: the right neighbour was not free or too short
  int64_t map_failures = 0;
  int64_t unmap_failures = 0;
};

class L25SpanManager {
 public:
  // Slow events (span carves and frees, resizes) per clock reading.
  static constexpr unsigned kEventsPerClockRead = 4;

  constexpr explicit L25SpanManager(Pal* pal) : pal_(pal), decay_(kEventsPerClockRead) {}
  L25SpanManager(const L25SpanManager&) = delete;
  L25SpanManager& operator=(const L25SpanManager&) = delete;

  // A span of `pages` pages (l25_span_pages), in use, or nullptr when the
  // OS refuses a region; its class is the one its bytes fall in. Its bytes
  // are zero if it was never used or purged since, else whatever its last
  // user left.
  void* allocate_pages(uint32_t pages);
  // A span of class `size_class`, all of its pages.
  void* allocate(unsigned size_class) { return allocate_pages(l25_class_pages(size_class)); }
  // Gives back n spans whose head entries read kL25Cached (validated by
  // take_for_free), coalescing each with its free neighbours.
  void release(void* const* blocks, size_t n);
  // Resizes the in-use span at p to `pages` pages (l25_span_pages) without
  // moving it: shrinking frees its tail, growing takes the front of the
  // free span right after it. False (nothing changed) if that neighbour is
  // not free or too short.
  bool resize_pages(void* p, uint32_t pages);
  // The same to all the pages of class `size_class`.
  bool resize(void* p, unsigned size_class) { return resize_pages(p, l25_class_pages(size_class)); }
  // Purges every dirty free span and unmaps every empty region.
  void trim();
  // A purge pass at clock reading `now_ms` (a background thread's entry point).
  void purge_expired(uint64_t now_ms);

  // free(): p's span, switched from in use to cached. Anything else
  // (p not a span's first byte, a span not in use) is reported with
  // report_invalid_free's line and aborts. No lock: only a block's holder
  // flips kInUse <-> kCached.
  static L25Span* take_for_free(const void* p) {
    L25Span* span = in_use_head(p);
    if (span == nullptr) [[unlikely]]
      report_bad_pointer(p);
    span->kind.store(kL25Cached, std::memory_order_relaxed);
    return span;
  }
  // The span of p if p is the first byte of a span in use, else nullptr,
  // without reporting: a cache's fast path, and the one test behind
  // take_for_free and checked_live_span, which report the rest. No test of
  // the page index is needed: the page map's entries for the header's own
  // pages never read in use (an invariant, see L25Span; check() verifies).
  [[gnu::always_inline]] static L25Span* in_use_head(const void* p) {
    L25Span* span = l25_span_of(p);
    if ((reinterpret_cast<uintptr_t>(p) & (kL25PageSize - 1)) != 0 ||
        span->kind.load(std::memory_order_relaxed) != kL25InUse) [[unlikely]]
      return nullptr;
    return span;
  }
  // A cached span handed out again by a cache above.
  static void mark_in_use(void* p) { l25_span_of(p)->kind.store(kL25InUse, std::memory_order_relaxed); }
  // The realloc mark of the span at p, which the caller holds: set when
  // realloc moved a growing block into it, so the block's next move can
  // take headroom (a block that grew by realloc is likely to grow again).
  // A carve clears it; a cache above hands a span out with its mark, so a
  // grown block freed and allocated again keeps it: a hint, never a
  // question of correctness. Only the holder reads or writes it.
  static bool grown(const void* p) { return l25_span_of(p)->grown != 0; }
  static void mark_grown(void* p) { l25_span_of(p)->grown = 1; }
  // The span of a block the caller holds (usable_size, realloc), checked
  // like take_for_free but left in use.
  static const L25Span* checked_live_span(const void* p) {
    const L25Span* span = in_use_head(p);
    if (span == nullptr) [[unlikely]]
      report_bad_pointer(p);
    return span;
  }

  L25SpanStats stats() const;

  // fork: taken after the SuperSlab manager's (heap_registry.h's order).
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }
  void reset_lock_in_child() { new (&mutex_) std::mutex; }

  Pal& pal() const { return *pal_; }

  // Verifies every region's page map and the bins, dirty list and counts
  // against the invariants above; aborts on the first violation. Expensive:
  // for tests.
  void check() const;

 private:
  static constexpr unsigned kBins = kL25MaxSpanPages + 1;  // 1..512 pages exact, then the rest
  static constexpr unsigned kBinWords = (kBins + 63) / 64;
  static unsigned bin_of(uint32_t pages) { return pages <= kL25MaxSpanPages ? pages - 1 : kL25MaxSpanPages; }

  // Which of double free, interior pointer or not allocated p is; aborts.
  [[noreturn, gnu::cold, gnu::noinline]] static void report_bad_pointer(const void* p);
  // The resident bitmap: set bits among pages [first, first + pages), and
  // setting or clearing them.
  static uint32_t count_resident(const L25Region* region, uint32_t first, uint32_t pages);
  static void set_resident(L25Region* region, uint32_t first, uint32_t pages, bool resident);
  static bool is_resident(const L25Region* region, uint32_t page) {
    return ((region->resident[page / 64] >> (page % 64)) & 1) != 0;
  }
  L25Region* map_region();
  void add_region_locked(L25Region* region, bool dirty);
  // A free span to carve from, where in it (pages from its head), and
  // whether the carve's pages are all resident (found by resident_run).
  struct Placement {
    L25Span* span = nullptr;
    uint32_t offset = 0;
    bool resident = false;
  };
  // Free spans one placement looks at for a resident run, smallest first
  // (only those with enough resident pages are searched).
  static constexpr unsigned kRunSearchSpans = 32;
  static constexpr uint32_t kNoRun = UINT32_MAX;
  static uint32_t resident_run(const L25Region* region, uint32_t first, uint32_t end, uint32_t pages);
  Placement take_free_locked(uint32_t pages);
  // The free head of the span ending just before `span`, or nullptr.
  static L25Span* free_before(L25Span* span);
  L25Span* carve_locked(Placement at, uint32_t pages, unsigned size_class);
  void release_locked(L25Span* span);
  // `dirty`: its resident pages. `after`: where on the dirty list it goes
  // when dirty (nullptr: first, the newest end); a carve's leftover takes
  // its parent's place.
  void mark_free_locked(L25Span* head, uint32_t pages, uint32_t dirty, Decay::Stamp stamp, L25Span* after = nullptr);
  void unlink_free_locked(L25Span* head);
  void unlink_dirty_locked(L25Span* head);
  void purge_span_locked(L25Span* head);
  // Ticks the decay; on a clock reading that may have expired spans, the pass.
  L25Region* tick_locked();
  // Purges every expired dirty span (all with `everything`), unmapping the
  // empty regions beyond the cache instead; returns those to unmap.
  L25Region* purge_pass_locked(bool everything);
  void take_region_locked(L25Region* region, L25Region** taken);
  // Regions taken under the lock are unmapped after it is released, and
  // any the OS refuses comes back as an empty region.
  void unmap_taken(L25Region* taken);

  Pal* pal_;
  // std::mutex, not SpinMutex (spin_mutex.h): here the spinning lock made a
  // 512 KiB malloc+free pair 88 -> 105 ns on one thread, for a reason not
  // found, and growth at 2 threads gained nothing measurable from it.
  mutable std::mutex mutex_;
  L25Region* regions_ = nullptr;
  L25Span* bins_[kBins] = {};
  uint64_t nonempty_[kBinWords] = {};  // bit b <=> bins_[b] != nullptr
  L25Span* dirty_ = nullptr;       // the dirty list's newest end
  L25Span* dirty_tail_ = nullptr;  // its oldest end
  int64_t empty_regions_ = 0;
  Decay decay_;
  L25SpanStats stats_{};
};

// The process-wide span manager, on the OS PAL (constant-initialised).
extern L25SpanManager g_l25_spans;
inline L25SpanManager& global_l25_spans() { return g_l25_spans; }

}  // namespace hakmem
