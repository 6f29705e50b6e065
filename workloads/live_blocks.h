// The block operations every workload is made of, through the allocator
// under test (lab/allocator.h): a new block is checked and stamped, a block
// is checked before it is freed; one call in N of each kind is timed.
// Header-only, compiled into each workload source and so once per allocator.
#pragma once

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

// Allocates `size` bytes as block `id`, checked and stamped.
[[gnu::always_inline]] inline LiveBlock new_block(size_t size, uint64_t seed, uint64_t id) {
  if (timed_block(id)) [[unlikely]]
    return new_block_timed(size, seed, id);
  return make_block(size, seed, id, allocate(size));
}

// Checks `block` still holds its stamp, then frees it.
[[gnu::always_inline]] inline void release_block(const LiveBlock& block, uint64_t seed) {
  if (timed_block(block.id)) [[unlikely]]
    return release_block_timed(block, seed);
  check_block(block.p, block.size, block_tag(seed, block.id), block.id);
  deallocate(block.p);
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
