// The block operations every workload is made of, through the allocator
// under test (lab/allocator.h): a new block is checked and stamped, a block
// is checked before it is freed; one call in N of each kind is timed. Header-only, compiled into each workload
// source and so once per allocator.
#pragma once

#include <vector>

#include "lab/allocator.h"
#include "workloads/support/blocks.h"
#include "workloads/support/latency.h"
#include "workloads/support/validate.h"

namespace lab {

// The one call in N that is timed (workloads/support/latency.h); cold and
// out of line, so the untimed path stays a decrement and a branch.
[[gnu::noinline, gnu::cold]] inline void* sampled_allocate(size_t size) {
  LatencySampler* s = t_latency.sampler;
  if (s == nullptr) {  // an unbound thread: park the countdown again
    t_latency.malloc_left = LatencyTls::kParked;
    return allocate(size);
  }
  const uint64_t t0 = tsc_now();
  void* p = allocate(size);
  const uint64_t t1 = tsc_now();
  s->malloc_ticks.record(t1 - t0);
  t_latency.malloc_left = s->next_gap();
  return p;
}

[[gnu::noinline, gnu::cold]] inline void sampled_deallocate(void* p) {
  LatencySampler* s = t_latency.sampler;
  if (s == nullptr) {
    t_latency.free_left = LatencyTls::kParked;
    deallocate(p);
    return;
  }
  const uint64_t t0 = tsc_now();
  deallocate(p);
  const uint64_t t1 = tsc_now();
  s->free_ticks.record(t1 - t0);
  t_latency.free_left = s->next_gap();
}

// Allocates `size` bytes as block `id`, checked and stamped.
[[gnu::always_inline]] inline LiveBlock new_block(size_t size, uint64_t seed, uint64_t id) {
  void* p;
  if (--t_latency.malloc_left != 0) [[likely]]
    p = allocate(size);
  else
    p = sampled_allocate(size);
  const LiveBlock block{p, size, id};
  accept_block(block.p, size, seed, id);
  return block;
}

// Checks `block` still holds its stamp, then frees it.
[[gnu::always_inline]] inline void release_block(const LiveBlock& block, uint64_t seed) {
  check_block(block.p, block.size, block_tag(seed, block.id), block.id);
  if (--t_latency.free_left != 0) [[likely]]
    deallocate(block.p);
  else
    sampled_deallocate(block.p);
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
[[gnu::always_inline]] inline void replace_block(LiveBlock& block, SizeRing& sizes, uint64_t seed, uint64_t& id) {
  release_block(block, seed);
  block = new_block(sizes.next(), seed, id++);
}

// Fills `live` with `count` new blocks; returns the next id.
inline uint64_t fill_blocks(std::vector<LiveBlock>& live, size_t count, SizeRing& sizes, uint64_t seed, uint64_t id) {
  live.resize(count);
  for (LiveBlock& block : live) block = new_block(sizes.next(), seed, id++);
  return id;
}

// Frees every block of `live` (checked) and releases the array; returns
// how many were freed.
inline uint64_t drain_blocks(std::vector<LiveBlock>& live, uint64_t seed) {
  for (const LiveBlock& block : live) release_block(block, seed);
  const uint64_t n = live.size();
  std::vector<LiveBlock>().swap(live);
  return n;
}

}  // namespace lab
