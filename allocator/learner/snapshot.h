// Snapshots of the allocator's counters, and the learner's window between
// two of them (learn/signals.h): where each signal comes from (issue 13).
//
// Every counter read here is kept by a slow path already (a refill, a
// spill, a span allocation, a purge pass, a large-cache lookup), so
// gathering costs the fast paths nothing; a snapshot takes the pools'
// locks once each, as HAKMEM_STATS does, and the heap registry's.
//
//   tiny[c], mid      <- ThreadHeap class counters, summed over every heap:
//                        refills (a front end's cache was empty) and spills
//                        (a front end's cache overflowed)
//   l25               <- L25Pool: span allocations (the thread cache and the
//                        shared cache missed) and span frees (neither kept
//                        the block)
//   large_*           <- LargeCache: hits, misses, evictions
//   pages_purged      <- SuperSlab slots purged (16 pages each) and L25
//                        pages purged (the large cache counts mappings, not
//                        pages, and is left out)
//   pages_refaulted   <- the minor faults of the window, at most as many as
//                        it purged: pages given back and asked for again, as
//                        far as the counters can tell (a fault of a page
//                        never purged counts too when both happen)
//   dirty_bytes       <- free but resident: dirty SuperSlab slots, dirty L25
//                        pages, cached large mappings
//   slabs_in_use[g]   <- the SuperSlab manager's slabs in use per class,
//                        summed over the group's classes
#pragma once

#include <array>
#include <cstdint>

#include "allocator/backend/l25_spans.h"
#include "allocator/backend/large.h"
#include "allocator/backend/superslab_manager.h"
#include "allocator/learn/signals.h"
#include "allocator/pools/l25_pool.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

// Cumulative counters (ever) and current levels (now) at one moment.
struct Snapshot {
  ClassStatsTable classes{};
  int64_t l25_span_allocs = 0, l25_span_frees = 0;
  int64_t large_hits = 0, large_misses = 0, large_evicted = 0;
  int64_t purged_pages = 0;
  int64_t minor_faults = 0;
  int64_t dirty_bytes = 0;  // now
  std::array<int32_t, kSlabClasses> slabs_in_use_by_class{};  // now
};

struct SnapshotSources {
  const SuperSlabManager& superslabs;
  const L25SpanManager& spans;
  const L25Pool& l25;
  const LargeAllocator& large;
};

// A snapshot of `sources`, with the heaps' class counters `classes` (a
// test's heaps, or total_class_stats()) and the process's minor faults.
Snapshot take_snapshot(const ClassStatsTable& classes, const SnapshotSources& sources, int64_t minor_faults);

// The process's: the global pools, every registered heap, getrusage.
Snapshot process_snapshot();

// The window from `before` to `after`, ending at t_ms after length_ms.
learn::Window window_between(const Snapshot& before, const Snapshot& after, uint64_t t_ms, uint64_t length_ms);

}  // namespace hakmem
