// The block operations every workload is made of, through the allocator
// under test (lab/allocator.h): a new block is checked and stamped, a block
// is checked before it is freed; one call in N of each kind is timed.
// Header-only, compiled into each workload source and so once per allocator.
//
// Which calls are timed (workloads/support/latency.h) is a template
// argument, Timing, so that a call that is not timed carries no test:
//   kNever   outside the timed region (prepare, drain);
//   kAlways  the one step in N that sampled_steps() picked;
//   kById    a test of the block's id, for loops whose steps are not
//            counted (a state machine, a random walk over phases).
// The workloads' tight counted loops run through sampled_steps(), which
// splits them into plain runs of untimed steps around the timed ones. (A
// test on every call, however cheap, cost mixed_lifo under hot_mag 5.5
// instructions an operation, +11.5%: GCC laid the loops out around the
// branch and its call. With the split, the runs are the loops as they were
// before sampling existed.) A step given to sampled_steps() is marked
// __attribute__((always_inline)): it is instantiated three times, and GCC
// would otherwise call it out of line (random_free +19% instructions).
#pragma once

#include <algorithm>
#include <type_traits>
#include <vector>

#include "lab/allocator.h"
#include "workloads/support/blocks.h"
#include "workloads/support/latency.h"
#include "workloads/support/validate.h"

namespace lab {

// Block `id` at p (`size` bytes), checked and stamped.
[[gnu::always_inline]] inline LiveBlock make_block(size_t size, uint64_t seed, uint64_t id, void* p) {
  accept_block(p, size, seed, id);
  return LiveBlock{p, size, id};
}

// The one call in N that is timed (workloads/support/latency.h): the whole
// block operation out of line, so the untimed path is the old one behind a
// single test and branch. (With only the call out of line, the extra call
// site changed how GCC laid out the callers' loops: mixed_lifo under
// hot_mag ran 6.5 more instructions an operation.)
[[gnu::noinline]] inline LiveBlock new_block_timed(size_t size, uint64_t seed, uint64_t id) {
  LatencySampler* s = t_latency_sampler;
  if (s == nullptr) return make_block(size, seed, id, allocate(size));  // outside the timed region
  const uint64_t t0 = tsc_now();
  void* p = allocate(size);
  const uint64_t t1 = tsc_now();
  s->malloc_ticks.record(t1 - t0);
  return make_block(size, seed, id, p);
}

[[gnu::noinline]] inline void release_block_timed(const LiveBlock& block, uint64_t seed) {
  check_block(block.p, block.size, block_tag(seed, block.id), block.id);
  LatencySampler* s = t_latency_sampler;
  if (s == nullptr) return deallocate(block.p);
  const uint64_t t0 = tsc_now();
  deallocate(block.p);
  const uint64_t t1 = tsc_now();
  s->free_ticks.record(t1 - t0);
}

enum class Timing { kNever, kAlways, kById };
template <Timing kTiming>
using TimingConstant = std::integral_constant<Timing, kTiming>;

// Allocates `size` bytes as block `id`, checked and stamped.
template <Timing kTiming = Timing::kById>
[[gnu::always_inline]] inline LiveBlock new_block(size_t size, uint64_t seed, uint64_t id) {
  if constexpr (kTiming == Timing::kAlways) {
    return new_block_timed(size, seed, id);
  } else {
    if constexpr (kTiming == Timing::kById)
      if (timed_block(id)) [[unlikely]]
        return new_block_timed(size, seed, id);
    return make_block(size, seed, id, allocate(size));
  }
}

// Checks `block` still holds its stamp, then frees it.
template <Timing kTiming = Timing::kById>
[[gnu::always_inline]] inline void release_block(const LiveBlock& block, uint64_t seed) {
  if constexpr (kTiming == Timing::kAlways) {
    return release_block_timed(block, seed);
  } else {
    if constexpr (kTiming == Timing::kById)
      if (timed_block(block.id)) [[unlikely]]
        return release_block_timed(block, seed);
    check_block(block.p, block.size, block_tag(seed, block.id), block.id);
    deallocate(block.p);
  }
}

// The lowest timed number at or after x; *w is its window.
[[gnu::always_inline]] inline uint64_t timed_at_or_after(uint64_t x, unsigned log2, uint64_t* w) {
  *w = x >> log2;
  const uint64_t timed = timed_step_of_window(*w, log2);
  return timed >= x ? timed : timed_step_of_window(++*w, log2);
}

// Whether one of the steps numbered first .. first + n - 1 is timed.
[[gnu::always_inline]] inline bool any_timed_step(uint64_t first, uint64_t n) {
  if (!g_latency_on || n == 0) return false;
  uint64_t w = 0;
  return timed_at_or_after(first, g_latency_log2, &w) <= first + n - 1;
}

// Runs step(k, timing) for the n steps k = 0 .. n-1 (k = n-1 .. 0 with
// kReverse) of a counted loop whose step k is numbered first + k: timing is
// TimingConstant<kAlways> for the one step of each window of N numbers that
// timed_step_of_window() picks (workloads/support/latency.h), and
// TimingConstant<kNever> for the others, which run as plain loops with no
// test. The timed steps depend on the numbers alone, so a loop that numbers
// its steps by block id times the same blocks in either direction. Returns
// whether a step was timed.
template <bool kReverse = false, class Step>
[[gnu::always_inline]] inline bool sampled_steps(uint64_t first, uint64_t n, Step&& step) {
  using Never = TimingConstant<Timing::kNever>;
  using Always = TimingConstant<Timing::kAlways>;
  const unsigned log2 = g_latency_log2;
  const uint64_t last = first + n - 1;
  // The timed number nearest the start (the lowest going forward, the
  // highest going back) and its window; `none` when no step is timed.
  bool none = !g_latency_on || n == 0;
  uint64_t w = kReverse ? last >> log2 : first >> log2;
  uint64_t timed = 0;
  if (!none) {
    if constexpr (!kReverse) {
      timed = timed_at_or_after(first, log2, &w);
      none = timed > last;
    } else {
      timed = timed_step_of_window(w, log2);
      if (timed > last) {
        none = w == 0;
        if (!none) timed = timed_step_of_window(--w, log2);
      }
      none = none || timed < first;
    }
  }
  // No step timed (most of mixed_lifo's batches of 100 against N = 1024):
  // the plain loop, with nothing else live across it. (Through the general
  // loop below, GCC kept the block id and the stamp's hash on the stack, and
  // mixed_lifo ran 9% slower for 1.6% more instructions.)
  if (none) [[likely]] {
    if constexpr (!kReverse) {
      for (uint64_t k = 0; k < n; ++k) step(k, Never{});
    } else {
      for (uint64_t k = n; k > 0;) step(--k, Never{});
    }
    return false;
  }
  if constexpr (!kReverse) {
    uint64_t k = 0;
    for (;;) {
      const uint64_t stop = timed - first;
      for (; k < stop; ++k) step(k, Never{});
      step(k++, Always{});
      timed = timed_step_of_window(++w, log2);
      if (timed > last) break;
    }
    for (; k < n; ++k) step(k, Never{});
  } else {
    uint64_t k = n;
    for (;;) {
      const uint64_t stop = timed - first + 1;
      while (k > stop) step(--k, Never{});
      step(--k, Always{});
      if (w == 0) break;
      timed = timed_step_of_window(--w, log2);
      if (timed < first) break;
    }
    while (k > 0) step(--k, Never{});
  }
  return true;
}

// Reallocates `block` to `size` bytes as block `id`: checks its stamp before,
// that realloc kept it after, and stamps it anew.
[[gnu::always_inline]] inline void realloc_block(LiveBlock& block, size_t size, uint64_t seed, uint64_t id) {
  const uint64_t old_tag = block_tag(seed, block.id);
  check_block(block.p, block.size, old_tag, block.id);
  void* p = reallocate(block.p, size);
  check_realloc_kept(p, block.size, size, old_tag, block.id);
  accept_block(p, size, seed, id);
  block = LiveBlock{p, size, id};
}

// Frees `block` and puts a new block of the next size in its place.
template <Timing kTiming = Timing::kById>
[[gnu::always_inline]] inline void replace_block(LiveBlock& block, SizeRing& sizes, uint64_t seed, uint64_t& id) {
  release_block<kTiming>(block, seed);
  block = new_block<kTiming>(sizes.next(), seed, id++);
}

// Fills `live` with `count` new blocks, untimed (prepare() is outside the
// timed region); returns the next id.
inline uint64_t fill_blocks(std::vector<LiveBlock>& live, size_t count, SizeRing& sizes, uint64_t seed, uint64_t id) {
  live.resize(count);
  for (LiveBlock& block : live) block = new_block<Timing::kNever>(sizes.next(), seed, id++);
  return id;
}

// Frees every block of `live` (checked), untimed (drain() is outside the
// timed region), and releases the array; returns how many were freed.
inline uint64_t drain_blocks(std::vector<LiveBlock>& live, uint64_t seed) {
  for (const LiveBlock& block : live) release_block<Timing::kNever>(block, seed);
  const uint64_t n = live.size();
  std::vector<LiveBlock>().swap(live);
  return n;
}

}  // namespace lab
