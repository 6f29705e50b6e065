// The process-wide purge check: the one place where every pool's decay
// pass (backend/decay.h) is run for the whole process, whichever pool the
// program is using at the moment.
//
// Why one check and not only each pool's own ticks: a pool ticks on its
// own slow events, so a pool that sees none after a working set fell (the
// L25 spans and shared caches once a program stops making big blocks, the
// SuperSlabs once its tiny blocks are all freed, the large cache) never
// purged, and growth kept 83 MiB resident after everything was freed. The
// allocator's cold paths (Allocator::malloc_cold and free_cold: refills,
// spills, every L25 and large call) are where the slow events of all pools
// converge, so each thread counts its cold events there and every
// kColdEventsPerCheck-th calls check(): one clock reading, and at most once
// per decay granule (a few ms to 17 ms at the default delay) one call of
// purge_expired(now), which runs every pool's pass. The fast paths (tiny
// and mid cache hits) gain nothing; a cold event pays a decrement and a
// branch. A process that makes no call purges nothing, unless the learner
// thread runs (HAKMEM_LEARN_INTERVAL_MS, learner/process_learner.h): it
// calls purge_expired(now) itself, every interval.
//
// Compared with jemalloc and mimalloc: jemalloc's decay is per arena,
// ticked on every allocation and free (1000 ticks per clock reading), or
// run by its optional background threads; mimalloc checks a heap's purge
// expirations on its allocation and free paths (page collection) and
// reads the clock there. hakmem ticks only on cold paths and reads the
// clock once per kColdEventsPerCheck of them, so the check costs the hot
// paths nothing, at the price of being late by that many cold events.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "allocator/backend/large.h"
#include "allocator/backend/superslab_manager.h"
#include "allocator/pal/pal.h"
#include "allocator/pools/l25_pool.h"

namespace hakmem {

// Invariants: next_ms_ is the earliest clock reading at which check()
// runs a pass (0: at the first); passes_ counts the passes check() ran.
class PurgeScheduler {
 public:
  // Cold events per thread between two checks. The settle step of the
  // lab's drivers makes 2 cold events a request (an L25 malloc and free)
  // every 10 ms, so 8 is a check every 40 ms there; in a busy program a
  // clock reading (about 20 ns) per 8 cold events is lost in their cost.
  static constexpr uint32_t kColdEventsPerCheck = 8;

  constexpr PurgeScheduler(Pal* pal, SuperSlabManager* superslabs, L25Pool* l25, LargeAllocator* large)
      : pal_(pal), superslabs_(superslabs), l25_(l25), large_(large) {}
  PurgeScheduler(const PurgeScheduler&) = delete;
  PurgeScheduler& operator=(const PurgeScheduler&) = delete;

  // One clock reading; runs purge_expired(now) if a granule has passed
  // since the last pass this check ran (one thread runs it; the others go
  // on at once). The reading when it ran the pass (the caller then runs
  // the front ends' part, Allocator::purge_check), else nullopt.
  // The reading and the comparison inline, the pass out of line.
  std::optional<uint64_t> check() {
    const uint64_t now = pal_->now_ms();
    if (now < next_ms_.load(std::memory_order_relaxed)) [[likely]]
      return std::nullopt;
    return run_due(now);
  }

  // Every pool's purge pass at clock reading `now_ms`: the SuperSlabs'
  // slots and empty SuperSlabs, the L25 shared caches and then the spans,
  // the large cache. What a pool finds unused past HAKMEM_PURGE_DELAY_MS
  // goes back to the OS. Any thread, any time: each pool takes its own
  // locks. The learner thread's entry point (learner/process_learner.h).
  void purge_expired(uint64_t now_ms);

  int64_t passes() const { return passes_.load(std::memory_order_relaxed); }

 private:
  // check() once the granule is over: the pass, if this thread wins it.
  std::optional<uint64_t> run_due(uint64_t now);

  Pal* pal_;
  SuperSlabManager* superslabs_;
  L25Pool* l25_;
  LargeAllocator* large_;
  std::atomic<uint64_t> next_ms_{0};
  std::atomic<int64_t> passes_{0};
};

// The process's check, on the OS PAL and the global pools.
extern PurgeScheduler g_purge;
inline PurgeScheduler& global_purge() { return g_purge; }

}  // namespace hakmem
