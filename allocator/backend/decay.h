// Time-decay purging: the one mechanism every back-end pool (SuperSlabs,
// L25 spans, cached large mappings) uses to decide when free memory goes
// back to the OS. A pool stamps a unit (a slab slot, a span, a mapping)
// when it becomes free and dirty (its pages resident); once the unit has
// stayed free for HAKMEM_PURGE_DELAY_MS, the pool's next purge pass returns
// its pages (Pal::purge, MADV_DONTNEED) or unmaps it, as the pool decides.
// A unit reused before that costs no system call and no page fault.
//
// Time without reading the clock on every event. A Decay is ticked on the
// pool's slow events (acquire, release, alloc and free of big blocks); it
// reads Pal::now_ms() once per `events_per_read` ticks, and purge passes run
// only on a tick that read the clock. Stamps are not times but generations:
// a unit freed now joins the open generation, which the first clock read at
// least one granule (delay / (kGenerations - 1) rounded up, at least 1 ms)
// after its opening closes; that read's time is the generation's close
// time. Every unit of a generation was freed at or before its close time,
// so "close time + delay <= now" never purges a unit before its delay,
// however stale the last clock read was when it was freed. The cost is
// lateness: at most one granule plus two gaps between clock readings. The
// last kGenerations close times are kept; an older unit's generation counts
// as closed at the oldest kept close time, later than its own, so it is
// still never early, and as the kept close times span at least one delay,
// such a unit had expired already: it is not late either.
//
// A pool's own events are not enough: a pool that sees no more events
// (the spans after a working set fell, the L25 shared caches, the large
// cache) would keep its memory forever. So the allocator's cold paths,
// where the slow events of every pool converge, count their events and,
// once per few, call the process-wide check (pools/purge.h), which runs
// every pool's purge_expired(now) at most once per granule; that check is
// also the one entry point of the learner thread (learner/
// process_learner.h), so an idle process purges too when
// HAKMEM_LEARN_INTERVAL_MS starts one; without it (the default) a process
// that makes no call purges nothing. trim() (malloc_trim) purges
// everything at once, expired or not.
//
// Compared with the two designs this learns from:
//   - jemalloc's dirty decay (dirty_decay_ms, default 10 s) does not stamp
//     pages. It counts dirty pages per epoch (200 epochs over decay_ms) and
//     lets the number kept fall along a smoothstep curve, purging the
//     oldest extents down to that number; time is read every 1000 ticks
//     (or by background threads), and purged pages first become "muzzy"
//     (MADV_FREE) before a second decay (muzzy_decay_ms) releases them.
//     Pages freed between two epochs count as freed at the later one, as
//     here. hakmem has no smooth curve and no muzzy stage: a unit is either
//     younger than the delay and kept whole, or older and returned with
//     MADV_DONTNEED, so RSS is exact the moment a purge pass ran (what the
//     lab measures) and the rule is one comparison that a test can pin
//     down with FakePal's clock. A program's working set that falls and
//     rises again within the delay pays nothing; one that stays low returns
//     everything one delay after it fell, not a fraction of it per epoch.
//   - mimalloc's purge delay (purge_delay, default 10 ms) keeps one
//     expiration per segment, set when a page of it is freed and extended a
//     little by each further free into the same segment, and purges a
//     segment's marked pages on its collect and allocation paths, reading
//     the clock at each free. hakmem stamps each unit (a slot, a span), so
//     a busy SuperSlab does not keep its long-idle slots resident, reads
//     the clock once per `events_per_read` slow events, and purges every
//     expired unit of the pool in one pass (adjacent slots in one madvise).
//
// A Decay is not thread-safe: it lives inside its pool, under the pool's
// lock, like the units it stamps.
#pragma once

#include <cstdint>
#include <limits>

#include "allocator/config/tunables.h"
#include "allocator/pal/pal.h"

namespace hakmem {

// Invariants (kG = kGenerations):
//   close_ms_[g % kG] is the close time of generation g, for
//     open_ - kG <= g < open_ (generations before open_ are closed)
//   close times and open_since_ms_ never decrease; now_ms_ >= open_since_ms_
//   oldest_ <= every stamp of a dirty unit of the pool, or kNone when the
//     pool has reported it has none (rescanned); a lower bound only: a unit
//     reused since is not reported, so a pass may find nothing to purge
//   0 <= events_ < events_per_read_
class Decay {
 public:
  using Stamp = uint64_t;
  static constexpr Stamp kNone = std::numeric_limits<Stamp>::max();
  static constexpr unsigned kGenerations = 16;

  constexpr explicit Decay(unsigned events_per_read) : events_per_read_(events_per_read) {}

  // HAKMEM_PURGE_DELAY_MS, or the learner's (config/tunables.h). 0: a pool
  // returns a unit's pages as it frees it.
  static uint64_t delay_ms() { return tunables::purge_delay_ms(); }
  static bool immediate() { return delay_ms() == 0; }

  // The stamp of a unit becoming free and dirty now; no clock read.
  Stamp stamp() {
    note(open_);
    return open_;
  }

  // The same stamp, not noted: for a pool that publishes it to stampers
  // outside its lock and keeps its own order (pools/l25_pool.h).
  Stamp open_generation() const { return open_; }

  // A unit stamped `s` is dirty again (an unmap the OS refused put it back).
  void note(Stamp s) {
    if (s < oldest_) oldest_ = s;
  }

  // One slow event of the pool. True when it read the clock and some unit
  // may have expired: the pool then runs its purge pass.
  bool tick(Pal& pal) {
    if (++events_ < events_per_read_) return false;
    events_ = 0;
    return advance(pal.now_ms());
  }

  // Moves to `now_ms` (a clock reading): closes the open generation if it
  // has been open a granule. True when some unit may have expired. For
  // tick() and for a pool's purge_expired(now).
  bool advance(uint64_t now_ms);

  // Whether a unit stamped `s` has stayed free past the delay as of the
  // last clock reading.
  bool expired(Stamp s) const;

  // The pool's purge pass found `oldest` to be the oldest stamp of its
  // dirty units (kNone: it has none).
  void rescanned(Stamp oldest) { oldest_ = oldest; }

  uint64_t now_ms() const { return now_ms_; }

  // How long a generation stays open at least: delay / (kGenerations - 1),
  // rounded up, at least 1 ms. Also how often the process-wide check runs
  // every pool's pass (pools/purge.h): more often would find nothing new.
  static uint64_t granule_ms();

 private:
  unsigned events_per_read_;
  unsigned events_ = 0;
  Stamp open_ = 0;
  Stamp oldest_ = kNone;
  uint64_t open_since_ms_ = 0;
  uint64_t now_ms_ = 0;
  uint64_t close_ms_[kGenerations] = {};
};

}  // namespace hakmem
