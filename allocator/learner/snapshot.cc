// Snapshots and windows (see snapshot.h for where each signal comes from).
#include "allocator/learner/snapshot.h"

#include <algorithm>

#include "allocator/pal/process_status.h"
#include "allocator/pools/heap_registry.h"

namespace hakmem {

Snapshot take_snapshot(const ClassStatsTable& classes, const SnapshotSources& sources, int64_t minor_faults) {
  Snapshot s;
  s.classes = classes;
  const SuperSlabStats ss = sources.superslabs.stats();
  const L25SpanStats spans = sources.spans.stats();
  const L25PoolStats l25 = sources.l25.stats();
  const LargeStats large = sources.large.stats();
  s.l25_span_allocs = l25.span_allocs;
  s.l25_span_frees = l25.span_frees;
  s.large_hits = large.cache.hits;
  s.large_misses = large.cache.misses;
  s.large_evicted = large.cache.evicted;
  s.purged_pages = ss.purged_slabs * static_cast<int64_t>(kSlabSize / kPageSize) + spans.purged_pages;
  s.minor_faults = minor_faults;
  s.dirty_bytes = ss.dirty_free_slabs * static_cast<int64_t>(kSlabSize) +
                  spans.dirty_pages * static_cast<int64_t>(kL25PageSize) + large.cache.cached_bytes;
  s.slabs_in_use_by_class = ss.slabs_in_use_by_class;
  return s;
}

Snapshot process_snapshot() {
  return take_snapshot(total_class_stats(), {global_superslabs(), global_l25_spans(), global_l25_pool(), global_large()},
                       minor_faults());
}

namespace {

// A counter's growth; 0 if it went back (a counter that was reset).
uint64_t grew(int64_t before, int64_t after) { return after > before ? static_cast<uint64_t>(after - before) : 0; }
uint64_t grew(uint64_t before, uint64_t after) { return after > before ? after - before : 0; }

}  // namespace

learn::Window window_between(const Snapshot& before, const Snapshot& after, uint64_t t_ms, uint64_t length_ms) {
  learn::Window w;
  w.t_ms = t_ms;
  w.length_ms = std::max<uint64_t>(length_ms, 1);
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    const uint64_t refills = grew(before.classes[c].refills, after.classes[c].refills);
    const uint64_t spills = grew(before.classes[c].spills, after.classes[c].spills);
    learn::ClassSignals& into = c < kTinyClasses ? w.tiny[c] : w.mid;
    into.refills += refills;
    into.spills += spills;
    into.turns += grew(before.classes[c].turns, after.classes[c].turns);
  }
  w.l25.refills = grew(before.l25_span_allocs, after.l25_span_allocs);
  w.l25.spills = grew(before.l25_span_frees, after.l25_span_frees);
  w.l25.turns = std::min(w.l25.refills, w.l25.spills);
  w.large_hits = grew(before.large_hits, after.large_hits);
  w.large_misses = grew(before.large_misses, after.large_misses);
  w.large_evicted = grew(before.large_evicted, after.large_evicted);
  w.pages_purged = grew(before.purged_pages, after.purged_pages);
  w.pages_refaulted = std::min(grew(before.minor_faults, after.minor_faults), w.pages_purged);
  w.dirty_bytes = static_cast<uint64_t>(std::max<int64_t>(after.dirty_bytes, 0));
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    w.slabs_in_use[c / learn::kClassesPerGroup] += static_cast<uint32_t>(std::max(after.slabs_in_use_by_class[c], 0));
  }
  return w;
}

}  // namespace hakmem
