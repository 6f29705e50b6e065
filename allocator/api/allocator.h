// Allocator<Policy>: the malloc API of one hakmem variant, composed from a
// front-end policy (variants/) and the shared pools and backend.
//
// Call tree of an allocation (fast path first, everything else below it).
// In a libhakmem_<variant>.so, malloc and free are aliases of functions
// whose bodies are these two, inlined (allocator/override/entry_points.inc).
//
//   Allocator::malloc(size)                                [always_inline]
//   |- size <= 1 KiB: Policy::try_alloc(cache, class)       [always_inline]
//   |     -> front-end pop: a thread-local free-list or magazine hit
//   `- malloc_slow(size)                                    [noinline]
//        |  (a tiny miss straight to malloc_cold; the rest inside this
//        |   thread's CacheGate: two stores, a load and a branch, so that
//        |   the learner thread can take the mid and L25 caches of a thread
//        |   gone idle, and its heap's kept empty slabs: pools/cache_gate.h)
//        |- mid (1..32 KiB): MidCache::try_alloc             [always_inline]
//        |     -> a thread-local free-list pop (frontend/mid_cache.h)
//        |- L25 up to 256 KiB: a cold event (the purge countdown,
//        |     below), then L25ThreadCache::try_alloc        [always_inline]
//        |     -> class by a table load, a thread-local stack pop, the
//        |        span's page map entry to in use (pools/l25_pool.h)
//        `- malloc_cold(size)                               [noinline]
//             |- (after the allocation) every 8th cold event of this
//             |     thread: purge_check -> maybe_start_learner (one load
//             |     unless HAKMEM_LEARN_INTERVAL_MS asks for the learner
//             |     thread: learner/process_learner.h) -> PurgeScheduler::check (one
//             |     clock reading; once a granule: every pool's
//             |     purge_expired(now), pools/purge.h; then
//             |     Policy::purge_shared: a depot's idle magazines home)
//             |- first call on this thread: init_thread()
//             |     -> acquire_heap(), Policy::init(), MidCache::init,
//             |        pthread key for exit, fork handlers (once per
//             |        process: heap_registry.h)
//             |- after this thread's exit destructor: late_malloc
//             |     -> the shared late heap's alloc_block (no front end)
//             |- tiny miss: Policy::alloc_slow -> ThreadHeap::refill
//             |     -> collect_remote (inbox) -> partial slab / carve
//             |        (a fresh slab's carved pages: Pal::populate, one call)
//             |     -> SuperSlabManager::acquire_slab -> Pal::map (2 MiB)
//             |        (a release_slab or acquire_slab tick may run the
//             |         decay's purge pass: Pal::purge, Pal::unmap;
//             |         backend/decay.h)
//             |- mid miss: MidCache::alloc_slow -> ThreadHeap::refill
//             |     (a batch, as far as the class's limit in the byte
//             |     budget goes)
//             |- L25 (32 KiB..2 MiB): l25_malloc -> L25ThreadCache::pop
//             |     (a miss) -> L25Pool::allocate -> shared
//             |     cache of the class -> L25SpanManager::allocate_pages
//             |     (l25_span_pages: the class's up to 256 KiB, else the
//             |     request's; a run of resident free pages first, else the
//             |     best-fit free span; split; else a 32 MiB region: Pal::map)
//             `- large: LargeAllocator::allocate
//                   -> LargeCache::take (best fit; a large tail:
//                      Pal::remap) -> on a miss: Pal::map
//
//   Allocator::trim() (malloc_trim, hak_trim; any thread)
//   |- flush_thread_cache (the front end's and the mid cache's blocks),
//   |     Policy::trim_shared (a depot)
//   |- trim_all_heaps -> ThreadHeap::trim_if_idle, every heap whose owner
//   |     is outside it: collect its inbox, release its empty slabs
//   |- SuperSlabManager::trim -> purge, unmap empty SuperSlabs (expired or not)
//   |- L25Pool::trim -> shared caches to the spans, purge, unmap empty regions
//   `- LargeAllocator::trim -> retry failed unmaps, unmap every cached mapping
//
//   Allocator::realloc(p, size) -> realloc_of (derived_ops.h)
//   |- smaller, more than half still used: stays; shrink_tail: an L25
//   |    span gives the pages it no longer needs to the free spans
//   |    (L25SpanManager::resize_pages)
//   |- resize_in_place: an L25 block grows into the free span after it or
//   |    shrinks (L25SpanManager::resize_pages); a large block's mapping grows
//   |    or shrinks (LargeAllocator::resize_in_place: Pal::remap)
//   `- else malloc (growth_request: headroom for an L25 block realloc
//        moved to grow before), copy, mark_grown (the new block, if it
//        grew), free_moved: an L25 block -> l25_free_moved ->
//        L25Pool::release -> L25SpanManager::release (coalesce; no
//        cache), anything else free
//
//   Allocator::free(p)                                     [always_inline]
//   |- class = ClassMap::lookup(p): table[p >> 16] - 1 (foreign: ~0)
//   |- tiny class: Policy::try_free(cache, p, class)        [always_inline]
//   |     (cache full: free_cold(p), below)
//   `- free_slow(p, class)                                  [noinline]
//        |  (inside the CacheGate, as malloc_slow; so are l25_free_moved,
//        |   flush_thread_cache and purge_check's retune)
//        |- mid class: MidCache::try_free                    [always_inline]
//        |     -> a block start (p's offset in its 64 KiB slab, a
//        |        multiply) without the free mark, its list below its
//        |        limit: mark, a thread-local free-list push
//        |- L25 span in use (L25SpanManager::in_use_head: p heads a
//        |  span whose page map entry reads in use)
//        |     |- L25ThreadCache::try_push                  [always_inline]
//        |     |     -> its class's list below its limit: mark cached,
//        |     |        a thread-local stack push
//        |     `- l25_free_cold_then_leave(p, span)         [noinline]
//        |           -> a cold event (purge_check, below), mark cached, L25ThreadCache::push (a higher
//        |              limit from the byte budget) -> L25Pool::deallocate
//        |              -> shared cache -> L25SpanManager::release
//        `- free_cold(p)                                    [noinline]
//             |- every 8th cold event of this thread: purge_check (above)
//             |- mid: MidCache::check_free: interior pointer? double
//             |     free? (the free mark); tiny: interior pointer?
//             |     checked tiny slab (HAKMEM_DEBUG >= 1): double free?
//             |     (its free bit, set here or by ThreadHeap::spill,
//             |     cleared by ThreadHeap::refill)
//             |- thread already exited: ThreadHeap::free_orphan -> inbox
//             |- tiny, cache full: Policy::free_slow -> ThreadHeap::spill
//             |     -> interior pointer? free bit (checked slab)
//             |     -> own slab: free_local | other owner: its inbox (CAS)
//             |        -> inbox past HAKMEM_INBOX_DRAIN_KIB (or owner
//             |           exited) and owner outside: drain_while_idle
//             |- mid, list full: MidCache::free_slow -> a higher limit
//             |     from the byte budget, or the largest holder's or the
//             |     list's own colder half to ThreadHeap::spill
//             |- checked tiny, mid past the budget: ThreadHeap::free_block
//             |- L25 (only a bad free comes this far): l25_free ->
//             |     L25SpanManager::take_for_free (a span in use, by its
//             |     page map entry; else double free or interior pointer)
//             |     -> L25ThreadCache::push -> L25Pool::deallocate ->
//             |     shared cache (stamped: it decays) ->
//             |     L25SpanManager::release (coalesce)
//             |- large: LargeAllocator::deallocate (a live block's start;
//             |     else double free or interior pointer)
//             |     -> LargeCache::put (evicts the oldest: Pal::unmap) or
//             |        Pal::unmap
//             `- anything else: report_invalid_pointer, one line, abort:
//                  "hakmem: invalid free of 0x...: double free |
//                   not allocated by hakmem | interior pointer"
#pragma once

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "allocator/backend/class_map.h"
#include "allocator/backend/l25_spans.h"
#include "allocator/backend/large.h"
#include "allocator/backend/superslab.h"
#include "allocator/backend/superslab_manager.h"
#include "allocator/config/l25_classes.h"
#include "allocator/config/options.h"
#include "allocator/config/tunables.h"
#include "allocator/config/size_classes.h"
#include "allocator/api/derived_ops.h"
#include "allocator/api/variant_limits.h"
#include "allocator/frontend/front_end.h"
#include "allocator/frontend/mid_cache.h"
#include "allocator/pal/log.h"
#include "allocator/pools/heap_registry.h"
#include "allocator/pools/cache_gate.h"
#include "allocator/pools/l25_pool.h"
#include "allocator/learner/process_learner.h"
#include "allocator/pools/purge.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

// Aborts with report_invalid_free's line for a p whose class map code is
// not a block's (foreign, a SuperSlab header, a free slot, the body of a
// large mapping), choosing the reason. Out of line: cold.
[[noreturn, gnu::cold, gnu::noinline]] void report_invalid_pointer(const void* p, unsigned code);

template <FrontEndPolicy Policy>
class Allocator {
 public:
  static constexpr std::string_view kName = Policy::kName;
  static constexpr VariantLimits kLimits{};

  [[gnu::always_inline]] static void* malloc(size_t size) {
    if (size <= kTinyMaxSize) [[likely]] {
      if (void* p = Policy::try_alloc(tls_.cache, tiny_class_of(size))) [[likely]]
        return p;
    }
    return malloc_slow(size);
  }

  // The class comes from the class map (backend/class_map.h): one byte per
  // 64 KiB of address space, so a pointer hakmem never mapped is never
  // dereferenced. nullptr, foreign pointers, mid and large blocks and tiny
  // slabs whose frees are checked (HAKMEM_DEBUG >= 1) all read a non-tiny
  // code and go to free_slow, which takes the code along.
  //
  // A tiny free whose cache is full calls free_cold(p) without its class:
  // passing it would cost the tiny hit a register copy (the class is
  // shifted into the cache's index), one instruction on every free.
  [[gnu::always_inline]] static void free(void* p) {
    const unsigned size_class = ClassMap::lookup(p);
    if (size_class < kTinyClasses) [[likely]] {
      if (Policy::try_free(tls_.cache, static_cast<FreeBlock*>(p), size_class)) [[likely]]
        return;
      return free_cold(p);
    }
    free_slow(p, size_class);
  }

  static void* calloc(size_t count, size_t size) { return calloc_of<Allocator>(count, size); }
  static void* realloc(void* p, size_t size) { return realloc_of<Allocator>(p, size); }

  static void* aligned_alloc(size_t align, size_t size) { return aligned_alloc_of<Allocator>(align, size); }

  // For calloc_of: slab and L25 blocks are recycled (all may be dirty); a
  // large block may come from the large cache, whose header knows how far
  // its old bytes reach (none for a fresh mapping).
  static size_t dirty_bytes(const void* p, size_t n) {
    if (n > kL25MaxSize && ClassMap::lookup(p) == kLargeClass) return global_large().dirty_bytes(p, n);
    return n;
  }

  // For aligned_alloc_of: a power-of-two class is aligned to its size within
  // a 64 KiB-aligned slab (size_classes.h), up to the largest class; beyond
  // it an L25 span (page-aligned) when a page's alignment is enough, else a
  // large mapping of its own.
  static constexpr size_t kNaturalAlignMax = kSlabMaxSize;
  static void* aligned_large(size_t size, size_t align) {
    if (align <= kL25PageSize && size > kSlabMaxSize && size <= kL25MaxSize) return malloc(size);
    return global_large().allocate(size, align);
  }

  // For realloc_of: resizes block p to hold `size` bytes without moving it,
  // if its kind of block can (an L25 span whose right neighbour is free or
  // which shrinks; a large mapping with free pages after it, or which
  // shrinks, staying large); false leaves p as it was. p is live:
  // realloc_of asked usable_size, which checked it.
  static bool resize_in_place(void* p, size_t size) {
    if (size <= kSlabMaxSize) return false;
    const unsigned code = ClassMap::lookup(p);
    if (code == kLargeClass) return size > kL25MaxSize && global_large().resize_in_place(p, size);
    if (code != ClassMap::kL25Span || size > kL25MaxSize) return false;
    return global_l25_spans().resize_pages(p, l25_span_pages(size));
  }

  // For realloc_of, when p stays where it is for a smaller size: an L25
  // span gives the whole pages it no longer needs to the free spans at
  // once (L25SpanManager::resize_pages), as glibc splits a shrunk chunk,
  // so the next carve can reuse them while they are resident. (Keeping
  // them left up to half of a shrunk block resident and unused: mid_churn,
  // 1 thread, no purge during the run, seeds 42 and 1..5: peak RSS 94.5,
  // 100.0, 96.1, 100.2, 95.8, 96.9 MiB kept, 94.3, 98.1, 96.5, 96.8, 95.8,
  // 96.6 given back.)
  static void shrink_tail(void* p, size_t size) {
    if (size <= kSlabMaxSize || ClassMap::lookup(p) != ClassMap::kL25Span) return;
    const uint32_t pages = l25_span_pages(size);
    if (pages < l25_span_of(p)->pages) global_l25_spans().resize_pages(p, pages);
  }

  // For realloc_of: what to allocate for live block p (old_size usable)
  // that must move to hold size > old_size bytes. Headroom only for an L25
  // block that realloc itself moved to grow (the span's mark): a buffer
  // grown step by step copies its whole usable size at every move, and
  // with room for one more step of the same ratio (size / old_size, plus
  // an eighth for the class rounding of old_size; at most
  // HAKMEM_REALLOC_HEADROOM_PCT of size; 100 lets a doubling buffer fit
  // too) every other step stays in place. Off by default (0): with two
  // threads the room lands on recycled, resident pages nobody writes
  // (growth, 2 threads: peak RSS 83-85 -> 90-92 MiB, mimalloc 84). Why growth copied more than
  // mimalloc: mimalloc's usable size above 512 KiB is a whole number of
  // 512 KiB pages (672,597 B -> 1 MiB), so its x1.5 step to 1,008,895 B
  // stays in place, and that step is a third of the bytes. growth, 1
  // thread, 4 cycles (a probe replaying its sequence): 259-263 MiB copied
  // before, 125 with headroom, mimalloc 199. The untouched end costs
  // address space, and resident pages only where the span was recycled.
  // A block grown only once (mid_churn's reallocs to random sizes) gets
  // none: headroom at every growth took mid_churn's peak RSS from 102.8
  // to 112.5 MiB.
  static size_t growth_request(const void* p, size_t size, size_t old_size) {
    if (size <= kSlabMaxSize || size >= kL25MaxSize) return size;
    if (ClassMap::lookup(p) != ClassMap::kL25Span || !L25SpanManager::grown(p)) return size;
    const size_t most = size + size / 100 * static_cast<size_t>(option_value(Option::kReallocHeadroomPct));
    const size_t want = std::min({size * size / old_size * 9 / 8, most, kL25MaxSize});
    return want > size ? want : size;
  }

  // For realloc_of: q is the block a realloc just moved p to, to hold more
  // than p did; an L25 block remembers it (growth_request).
  static void mark_grown(void* q) {
    if (ClassMap::lookup(q) == ClassMap::kL25Span) L25SpanManager::mark_grown(q);
  }

  // For realloc_of: frees p, the block a realloc has just copied out of.
  // An L25 block goes to the spans at once, past the thread and shared
  // caches: the usual reason to move is a buffer outgrowing its block, and
  // its older, smaller copies are the sizes this thread has just left
  // behind. Cached, they would sit between free spans, keeping them from
  // merging into the room the buffer's next, larger copy needs (the same
  // pinning as the shared caches', pools/l25_pool.h); released, they
  // coalesce with the copies freed before them. growth's peak RSS, 1
  // thread: 82.4 -> 78.2 MiB (its 32 buffers grow x1.5 by realloc, each
  // step a move). Everything else is a plain free.
  static void free_moved(void* p) {
    if (ClassMap::lookup(p) == ClassMap::kL25Span) return l25_free_moved(p);
    free(p);
  }

  static size_t usable_size(const void* p) {
    if (p == nullptr) return 0;
    unsigned size_class = ClassMap::lookup(p);
    ClassMap::strip_debug_tiny(&size_class);
    if (size_class < kSlabClasses) [[likely]] {
      if (!is_block_start(p, size_class)) report_invalid_free(p, kInteriorPointer);
      return kClassSize[size_class];
    }
    if (size_class == ClassMap::kL25Span) return size_t{L25SpanManager::checked_live_span(p)->pages} << kL25PageShift;
    if (size_class == kLargeClass) return global_large().usable_size(p);
    report_invalid_pointer(p, size_class);
  }

  // Gives every block cached by this thread's front end and mid cache back
  // to the heap (its L25 cache's to the pool) and releases the heap's empty
  // slabs.
  static void flush_thread_cache() {
    ThreadHeap* heap = tls_.heap;
    if (heap == nullptr) return;
    const GateScope inside(tls_.gate);
    Policy::flush(tls_.cache, *heap);
    tls_.mid.flush(*heap);
    tls_.l25.flush(global_l25_pool());
    heap->collect_remote();
    heap->release_empty_slabs();
  }

  // flush_thread_cache, empty shared front-end state (a magazine depot),
  // collect every heap's inbox (the heaps of idle and exited threads
  // included: HeapRegistry::trim_all), then return every free page the
  // policy holds. Works from any thread, one without a heap too.
  static void trim() {
    flush_thread_cache();
    if constexpr (requires(ThreadHeap& heap) { Policy::trim_shared(heap); }) {
      if (ThreadHeap* heap = tls_.heap) Policy::trim_shared(*heap);
    }
    trim_all_heaps();
    global_superslabs().trim();
    global_l25_pool().trim();
    global_large().trim();  // retries unmaps that failed
  }

  // The calling thread's heap (nullptr before its first slow path).
  static ThreadHeap* thread_heap() { return tls_.heap; }

 private:
  enum : uint32_t { kUninitialised = 0, kRunning = 1, kExited = 2 };

  struct ThreadState {
    typename Policy::Cache cache;
    ThreadHeap* heap;
    uint32_t status;
    uint32_t purge_countdown;  // cold events left before this thread's next purge_check
    uint32_t tunables_seen;    // the tunables' generation this thread's caches were sized at
    MidCache mid;
    L25ThreadCache l25;  // zero (caching nothing) unless status == kRunning
    // Brackets every call that may touch mid or l25, so that the learner
    // thread can take them back once this thread has gone idle
    // (pools/cache_gate.h; take_idle_caches).
    CacheGate gate;
  };

  // Every allocation the tiny front end did not serve. A mid request is a
  // pop from the mid cache here, before anything else is looked at, and an
  // L25 request up to 256 KiB one from the L25 thread cache; the rest, and
  // the misses, go on to malloc_cold. A tiny miss goes there first, past
  // the gate (it touches no cache of the gate's; purge_check brackets its
  // retune itself), for one compare: magazine variants miss once a
  // magazine, and the gate's three stores and loads there cost hot_mag's
  // preloaded random_free 0.6 instructions an operation (the gate's rows).
  [[gnu::noinline]] static void* malloc_slow(size_t size) {
    if (size <= kTinyMaxSize) return malloc_cold(size);
    // Inside the gate from here; every way out leaves it, and every call
    // is a tail call, so the hits keep no frame.
    if (!tls_.gate.try_enter()) [[unlikely]] return malloc_after_wait(size);
    if (size - (kTinyMaxSize + 1) < kSlabMaxSize - kTinyMaxSize) [[likely]] {
      if (void* p = tls_.mid.try_alloc(mid_class_of(size))) [[likely]] {
        tls_.gate.leave();
        return p;
      }
    } else if (size - (kSlabMaxSize + 1) < L25ThreadCache::kMaxSize - kSlabMaxSize) {
      // Counted as a cold event even when the thread cache serves it: a
      // program whose requests all hit the caches makes no cold call, and
      // without a check nothing it freed earlier would ever be purged
      // (growth's settle step kept 82 MiB). A block of 32 KiB or more is
      // worth the decrement; the tiny and mid hits stay uncounted.
      if (--tls_.purge_countdown == 0) [[unlikely]] return l25_malloc_after_check(size);
      if (void* p = tls_.l25.try_alloc(size)) [[likely]] {
        tls_.gate.leave();
        return p;
      }
    }
    return malloc_cold_then_leave(size);
  }

  // malloc_slow's misses, inside the gate: malloc_cold, then out.
  [[gnu::noinline]] static void* malloc_cold_then_leave(size_t size) {
    void* p = malloc_cold(size);
    tls_.gate.leave();
    return p;
  }

  // The learner thread was taking this thread's caches as it entered: in
  // again once it is done, and on to malloc_cold (the caches are empty).
  [[gnu::noinline, gnu::cold]] static void* malloc_after_wait(size_t size) {
    tls_.gate.wait_while_parked();
    return malloc_cold_then_leave(size);
  }

  // malloc_slow's L25 branch when its countdown ran out (inside the gate).
  [[gnu::noinline, gnu::cold]] static void* l25_malloc_after_check(size_t size) {
    purge_check();
    void* p = tls_.l25.try_alloc(size);
    if (p == nullptr) p = malloc_cold(size);
    tls_.gate.leave();
    return p;
  }

  [[gnu::noinline]] static void* malloc_cold(size_t size) {
    ThreadHeap* heap = tls_.heap;
    if (heap == nullptr) [[unlikely]] {
      if (tls_.status == kExited) return late_malloc(size);
      heap = init_thread();
    }
    void* p = nullptr;
    if (heap != nullptr) [[likely]] {
      if (size > kSlabMaxSize) {
        // L25 and large blocks touch no slab: nothing for HAKMEM_DEBUG=2
        // to verify, so they skip its option read.
        p = size <= kL25MaxSize ? l25_malloc(size) : global_large().allocate(size, kMinAlign);
      } else {
        p = size <= kTinyMaxSize ? Policy::alloc_slow(tls_.cache, *heap, tiny_class_of(size))
                                 : tls_.mid.alloc_slow(*heap, mid_class_of(size));
        if (debug_level() >= 2) check_all(heap);
      }
      if (--tls_.purge_countdown == 0) [[unlikely]] purge_check();
    }
    if (p == nullptr) [[unlikely]] errno = ENOMEM;
    return p;
  }

  // Every PurgeScheduler::kColdEventsPerCheck-th cold event of a running
  // thread (malloc_cold, free_cold): the process-wide purge check
  // (pools/purge.h), so a pool that sees no more events of its own still
  // returns its memory once the delay has passed.
  // The front end's shared state decays in the same pass (a magazine
  // depot's idle full magazines go home, so their slabs can empty).
  [[gnu::noinline, gnu::cold]] static void purge_check() {
    tls_.purge_countdown = PurgeScheduler::kColdEventsPerCheck;
    maybe_start_learner(kFrontEndHooks);  // HAKMEM_LEARN (learner/process_learner.h)
    const std::optional<uint64_t> now = global_purge().check();
    // Once a granule: the learner's knobs, if it published new ones.
    if (now && tls_.status == kRunning && tunables::generation() != tls_.tunables_seen) [[unlikely]] {
      // From a tiny miss or free there is no gate yet; from the mid and
      // L25 paths this thread is inside it already (brackets never nest).
      if (tls_.gate.is_inside()) {
        retune();
      } else {
        const GateScope inside(tls_.gate);
        retune();
      }
    }
    if constexpr (requires(ThreadHeap& heap) { Policy::purge_shared(heap, uint64_t{}); }) {
      if (now && tls_.heap != nullptr) Policy::purge_shared(*tls_.heap, *now);
    }
  }

  // The front end's shared decay, run by the learner thread, which has no
  // heap of its own: blocks go home through the late heap.
  static void learner_decay_pass(uint64_t now_ms) {
    if constexpr (requires(ThreadHeap& heap) { Policy::purge_shared(heap, uint64_t{}); }) {
      if (ThreadHeap* heap = late_heap()) Policy::purge_shared(*heap, now_ms);
    }
  }
  static constexpr FrontEndHooks kFrontEndHooks{Policy::kTinyLayout, &learner_decay_pass};

  // The learner published new knobs (config/tunables.h): this thread's
  // caches take their new sizes. A mid or L25 budget that grows, or
  // shrinks no lower than what the cache's limits reserve, is only set: the
  // cache keeps its blocks (a budget change flushed them at first, and
  // phase_change spent 15% more CPU under ACE, whose budgets move often);
  // one that shrinks below them gives the blocks back and starts again from
  // the new budget. The front end resizes its tiny caches (a free list
  // spills what is over its new capacity; a magazine front end sizes each
  // magazine as it loads it).
  [[gnu::noinline, gnu::cold]] static void retune() {
    tls_.tunables_seen = tunables::generation();
    ThreadHeap& heap = *tls_.heap;
    if (const uint64_t budget = tunables::mid_cache_bytes(); tls_.mid.budget != budget) {
      if (budget >= tls_.mid.reserved) {
        tls_.mid.budget = budget;
      } else {
        tls_.mid.flush(heap);
        tls_.mid.init(budget);
      }
    }
    if (const uint64_t budget = tunables::l25_cache_bytes(); tls_.l25.budget != budget) {
      if (budget >= tls_.l25.reserved) {
        tls_.l25.budget = budget;
      } else {
        tls_.l25.flush(global_l25_pool());
        tls_.l25.init();
      }
    }
    Policy::retune(tls_.cache, heap);
  }

  // free() keeps errno (POSIX 2024 requires it, glibc does it): a first
  // free on a thread reads the options and may map memory, either of which
  // can set errno on the way.
  //
  // Every free that is not a tiny cache hit is checked before anything is
  // touched: the class map says whether p is hakmem's at all; a slab block
  // must sit at a multiple of its class size in its slab; a mid block must
  // not carry the mid cache's free mark, and a checked slab's (mid, or tiny
  // under HAKMEM_DEBUG >= 1) block going to the heap not its free bit; a
  // large block must be a live block's start. Anything else aborts with
  // report_invalid_free's one line. A mid free is checked and cached here,
  // before free_cold's errno keeping: nothing on that path touches errno;
  // so is an L25 free into the L25 thread cache (a span in use, by its page
  // map entry; anything else goes on to free_cold's take_for_free).
  [[gnu::noinline]] static void free_slow(void* p, unsigned size_class) {
    // Inside the gate from here, as in malloc_slow.
    if (!tls_.gate.try_enter()) [[unlikely]] return free_after_wait(p);
    if (size_class - kTinyClasses < kMidClasses) [[likely]] {
      if (tls_.mid.try_free(static_cast<FreeBlock*>(p), size_class)) [[likely]] {
        tls_.gate.leave();
        return;
      }
    } else if (size_class == ClassMap::kL25Span) {
      if (L25Span* span = L25SpanManager::in_use_head(p)) [[likely]] {
        if (tls_.l25.try_push(p, span)) [[likely]] {
          tls_.gate.leave();
          return;
        }
        return l25_free_cold_then_leave(p, span);
      }
    }
    free_cold_then_leave(p);
  }

  [[gnu::noinline]] static void free_cold_then_leave(void* p) {
    free_cold(p);
    tls_.gate.leave();
  }

  [[gnu::noinline, gnu::cold]] static void free_after_wait(void* p) {
    tls_.gate.wait_while_parked();
    free_cold_then_leave(p);
  }

  // A valid L25 free (p heads span, in use) the thread cache had no room
  // for: a higher limit, else the shared pool, whose spans may make system
  // calls, hence the errno keeping. Bad L25 frees go to free_cold, whose
  // take_for_free reports them. Inside the gate (free_slow's), and out.
  [[gnu::noinline]] static void l25_free_cold_then_leave(void* p, L25Span* span) {
    {
      const ErrnoKeeper keep_errno;
      if (--tls_.purge_countdown == 0) [[unlikely]] purge_check();  // a cold event, as in free_cold
      span->kind.store(kL25Cached, std::memory_order_relaxed);
      const unsigned c = span->size_class;
      if (!tls_.l25.push(p, c, global_l25_pool())) global_l25_pool().deallocate(p, c);
    }
    tls_.gate.leave();
  }

  // free_moved's L25 half: p is live (realloc_of asked usable_size, which
  // checked it). A cold event, as every span release is.
  [[gnu::noinline]] static void l25_free_moved(void* p) {
    const GateScope inside(tls_.gate);  // its purge check may retune the caches
    const ErrnoKeeper keep_errno;
    if (--tls_.purge_countdown == 0) [[unlikely]] purge_check();
    L25SpanManager::take_for_free(p);
    global_l25_pool().release(p);
  }

  // free_slow's rest (inside its gate), and a tiny free whose cache was
  // full (free's fast path: no gate, as a tiny miss has none; such a free
  // touches no mid or L25 cache, and purge_check brackets its retune).
  [[gnu::noinline]] static void free_cold(void* p) {
    if (p == nullptr) return;
    const ErrnoKeeper keep_errno;
    // Before a thread's first allocation its countdown is 0 and wraps: its
    // frees do not check until init_thread sets it (the others' do).
    if (--tls_.purge_countdown == 0) [[unlikely]] purge_check();
    unsigned size_class = ClassMap::lookup(p);
    const bool checked_tiny = ClassMap::strip_debug_tiny(&size_class);
    if (size_class < kSlabClasses) [[likely]] {
      auto* block = static_cast<FreeBlock*>(p);
      SlabMeta* slab = slab_of(p);
      const bool mid = size_class >= kTinyClasses;
      if (mid) MidCache::check_free(block, size_class);
      else if (!is_block_start(p, size_class)) [[unlikely]]
        report_invalid_free(p, kInteriorPointer);
      ThreadHeap* heap = tls_.heap;
      if (heap == nullptr) [[unlikely]] {
        // After this thread's exit destructor (libc frees its own
        // per-thread buffers later still): home without taking a heap.
        if (tls_.status == kExited) {
          mark_free(slab, p);
          ThreadHeap::free_orphan(block, slab);
          return;
        }
        heap = init_thread();
        if (heap == nullptr) fatal("free(%p): no memory for this thread's heap", p);
      }
      if (!mid && !checked_tiny) {
        Policy::free_slow(tls_.cache, *heap, block, size_class);
      } else if (!mid || !tls_.mid.free_slow(*heap, block, size_class)) {
        mark_free(slab, p);
        heap->free_block(block, slab);
      }
      if (debug_level() >= 2) check_all(heap);
      return;
    }
    if (size_class == ClassMap::kL25Span) {
      l25_free(p);
      return;
    }
    if (size_class == kLargeClass) {
      global_large().deallocate(p);
      return;
    }
    report_invalid_pointer(p, size_class);
  }

  // L25 blocks the fast paths (malloc_slow, free_slow) did not serve:
  // this thread's cache while it runs, else the shared pool (a thread past
  // its exit destructor, or one that never allocated, has a zeroed cache:
  // its pops miss and its pushes fail).
  static void* l25_malloc(size_t size) {
    const unsigned c = l25_class_of(size);
    if (void* p = tls_.l25.pop(c)) return p;
    return global_l25_pool().allocate(c, l25_span_pages(size));
  }

  static void l25_free(void* p) {
    const unsigned c = L25SpanManager::take_for_free(p)->size_class;
    if (tls_.l25.push(p, c, global_l25_pool())) return;
    global_l25_pool().deallocate(p, c);
  }

  // A checked slab's block going straight to the heap (not through a
  // front end, whose spill sets the bit): its free bit, a double free if
  // it was set already.
  static void mark_free(SlabMeta* slab, void* p) {
    if (slab->checked && set_free_bit(slab, p)) [[unlikely]]
      report_invalid_free(p, kDoubleFree);
  }

  struct ErrnoKeeper {
    int saved = errno;
    ~ErrnoKeeper() { errno = saved; }
  };

  static int64_t debug_level() { return option_value(Option::kDebug); }

  // The heap, and the SuperSlabs as far as this heap may read them.
  static void check_all(ThreadHeap* heap) { heap->check(); }

  // A malloc after this thread's exit destructor: a later destructor of
  // the program, or libc's own per-thread clean-up. Taking a heap now
  // would keep it forever (in the last destructor round nothing would give
  // it back), so the block comes from the process's one late heap,
  // which such threads share (its busy marker serialises them), past the
  // front end. Its blocks go home like any other: by free_orphan from
  // exited threads, by the inbox from running ones.
  [[gnu::noinline, gnu::cold]] static void* late_malloc(size_t size) {
    void* p = nullptr;
    if (size > kL25MaxSize) {
      p = global_large().allocate(size, kMinAlign);
    } else if (size > kSlabMaxSize) {
      p = l25_malloc(size);  // the shared pool: this thread's cache was flushed at exit
    } else if (ThreadHeap* heap = late_heap()) {
      p = heap->alloc_block(size <= kTinyMaxSize ? tiny_class_of(size) : mid_class_of(size));
      if (p != nullptr && size > kTinyMaxSize) MidCache::clear_mark(p);
    }
    if (p == nullptr) [[unlikely]] errno = ENOMEM;
    return p;
  }

  // First slow path of a thread (never after its exit destructor ran:
  // late_malloc serves those).
  static ThreadHeap* init_thread() {
    ThreadHeap* heap = acquire_heap();
    if (heap == nullptr) return nullptr;
    tls_.heap = heap;
    tls_.status = kRunning;
    tls_.purge_countdown = PurgeScheduler::kColdEventsPerCheck;
    Policy::init(tls_.cache);
    tls_.mid.init(tunables::mid_cache_bytes());
    tls_.tunables_seen = tunables::generation();
    tls_.l25.init();
    tls_.gate.owner = &tls_;
    tls_.gate.take = &take_idle_caches;
    tls_.gate.activity = &heap_activity;
    tls_.gate.thread = pthread_self();
    cache_gates().add(&tls_.gate);
    pthread_setspecific(exit_key(), &tls_);
    install_fork_handlers(&thread_heap);  // once per process
    return heap;
  }

  static void on_thread_exit(void*) {
    ThreadHeap* heap = tls_.heap;
    if (heap == nullptr) return;
    cache_gates().remove(&tls_.gate);  // waits for a collector taking its caches
    Policy::flush(tls_.cache, *heap);
    tls_.mid.flush(*heap);
    // Shared front-end state sized for running threads shrinks (a depot).
    if constexpr (requires { Policy::on_thread_exit(*heap); }) Policy::on_thread_exit(*heap);
    tls_.l25.flush(global_l25_pool());
    release_heap(heap);
    tls_.heap = nullptr;
    tls_.status = kExited;
    tls_.cache = typename Policy::Cache{};  // zero: every call goes slow again
    tls_.mid = MidCache{};
    tls_.l25 = L25ThreadCache{};  // zero: its pushes fail, its pops miss
  }

  // The learner thread's take (pools/cache_gate.h), this thread parked
  // outside every call: its mid blocks go home through the late heap (to
  // their owners' inboxes, which the same pass collects), its L25 blocks to
  // the pool. Its limits start again from 0; its budgets stay. Then its
  // heap gives up the empty slab it keeps per class (thread_heap.h's
  // invariants): one a class is nothing to a busy thread and, over the
  // classes a program touched, megabytes to one that sleeps (phase_change's
  // idle phase: 3.2 MiB over two threads). The heap's own marker guards
  // that part; a refill holding it makes it wait for the next idle stretch.
  static uint64_t take_idle_caches(void* owner) {
    ThreadState& s = *static_cast<ThreadState*>(owner);
    ThreadHeap* late = late_heap();
    if (late == nullptr) return 0;
    const uint64_t bytes = s.mid.bytes() + s.l25.bytes();
    s.mid.flush(*late);
    s.l25.flush(global_l25_pool());
    if (s.heap != nullptr) s.heap->trim_if_idle();
    return bytes;
  }

  // What the learner reads to tell a busy thread from an idle one: its
  // heap's refills and spills (heap is set before the gate is added and
  // cleared only after it is removed).
  static uint64_t heap_activity(void* owner) {
    const ThreadHeap* heap = static_cast<ThreadState*>(owner)->heap;
    return heap != nullptr ? heap->activity() : 0;
  }

  static pthread_key_t exit_key() {
    static const pthread_key_t key = [] {
      pthread_key_t k;
      if (pthread_key_create(&k, &on_thread_exit) != 0) fatal("pthread_key_create failed");
      return k;
    }();
    return key;
  }

  [[gnu::tls_model("initial-exec")]] static inline thread_local constinit ThreadState tls_{};
};

}  // namespace hakmem
