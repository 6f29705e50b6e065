// What a controller sees: one window of the allocator's statistics, the
// differences of its counters over the learner's interval (issue 13).
//
// Every count comes from a slow path that already runs (a refill, a spill,
// a purge pass, a cache miss), so gathering them costs the fast path
// nothing. A window is plain data: a controller is a function of windows,
// and its tests feed it recorded or synthetic ones.
#pragma once

#include <array>
#include <cstdint>

#include "allocator/learn/knobs.h"

namespace hakmem::learn {

struct ClassSignals {
  uint64_t refills = 0;  // underflows: the class's cache was empty and went to the heap
  uint64_t spills = 0;   // overflows: the cache was full and gave blocks back
  // Changes between underflow and overflow within one thread's cache,
  // summed over the threads (ClassStats::turns): the evidence that a cache
  // is too small for its swing. Sums of refills and spills over threads
  // cannot tell that from a producer that only refills and a consumer
  // that only spills. Where only process-wide counts exist (the L25
  // pool), min(refills, spills): the most they can say.
  uint64_t turns = 0;
};

// Invariants: length_ms > 0; pages_refaulted <= the pages purged in this
// window and the previous delay (a refault is a page made resident again
// within one purge delay of being purged).
struct Window {
  uint64_t t_ms = 0;       // the window's end (the learner's clock)
  uint64_t length_ms = 1;  // its length
  std::array<ClassSignals, kTinyClasses> tiny{};
  ClassSignals mid;        // the mid cache, all classes
  ClassSignals l25;        // the L25 thread cache, all classes
  uint64_t large_hits = 0, large_misses = 0, large_evicted = 0;
  uint64_t pages_purged = 0;     // returned to the OS in this window
  uint64_t pages_refaulted = 0;  // made resident again soon after a purge
  uint64_t dirty_bytes = 0;      // free but resident at the window's end
  std::array<uint32_t, kSuperSlabGroups> slabs_in_use{};  // at the window's end, per class group

  // No refill, spill, cache miss or hit anywhere: the program made no slow call.
  bool quiet() const;
};

}  // namespace hakmem::learn
