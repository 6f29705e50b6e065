// Block validation for every workload: a block is stamped when allocated
// and checked before it is freed, so an allocator that hands out
// overlapping or corrupted memory fails the run loudly, naming the
// workload, the seed and the block.
//
// The stamp is a 64-bit tag at the start of the block and its complement
// at the end (fewer bytes for blocks under 16 B): overlaps from either side
// are caught without writing every byte, which would turn a malloc
// benchmark into a memset benchmark.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

// Test-only drivers are compiled with LAB_TEST_HOOKS=1 (see
// allocator_binaries(test_hooks = True)); measured drivers never are, so
// the hooks below cost nothing where anything is timed.
#ifndef LAB_TEST_HOOKS
#define LAB_TEST_HOOKS 0
#endif

namespace lab {

inline constexpr bool kTestHooks = LAB_TEST_HOOKS != 0;

// Test hook: the id of the block to corrupt right after it is stamped, as a
// broken allocator handing out overlapping memory would (0 = none). Set by
// the driver's --inject-fault=corrupt in hooked builds.
inline uint64_t g_corrupt_block_id = 0;

// Identifies the run in failure messages: set once by the driver.
void set_failure_context(const std::string& context);

// Prints "error: <context>: <message>" to stderr, the validation_failed
// status line to stdout (protocol.h), and exits with its code.
[[noreturn, gnu::format(printf, 1, 2)]] void fail_run(const char* format, ...);

// Distinct for every block of a run (ids are distinct and the multiplier
// is odd), so a block overwritten by another block's stamp never passes.
// Two instructions: the stamp must cost far less than the allocator.
inline uint64_t block_tag(uint64_t seed, uint64_t id) { return seed ^ (id * 0x9E3779B97F4A7C15ull); }

inline void stamp_block(void* p, size_t size, uint64_t tag) {
  auto* bytes = static_cast<unsigned char*>(p);
  if (size >= 16) {
    const uint64_t tail = ~tag;
    memcpy(bytes, &tag, 8);
    memcpy(bytes + size - 8, &tail, 8);
  } else {
    memcpy(bytes, &tag, size < 8 ? size : 8);
  }
}

inline bool block_intact(const void* p, size_t size, uint64_t tag) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  if (size >= 16) {
    uint64_t head, tail;
    memcpy(&head, bytes, 8);
    memcpy(&tail, bytes + size - 8, 8);
    return head == tag && tail == ~tag;
  }
  return memcmp(bytes, &tag, size < 8 ? size : 8) == 0;
}

// Page marks, for blocks big enough that a program writes most of their
// pages (mid_churn): one byte in every 4 KiB between the stamps, derived from
// the tag and the offset. Writing them makes every page of the block
// resident, as using the buffer would (stamps alone touch two pages, so RSS
// would say nothing); checking them catches overlaps and a realloc that
// copied short or shifted anywhere in the block, not only at its ends.
inline constexpr size_t kPageMarkStride = 4096;

inline unsigned char page_mark(uint64_t tag, size_t offset) {
  return static_cast<unsigned char>((tag >> 8) + offset / kPageMarkStride);
}

// Marks the pages of [0, size) that lie clear of the stamps.
inline void mark_pages(void* p, size_t size, uint64_t tag) {
  auto* bytes = static_cast<unsigned char*>(p);
  for (size_t off = kPageMarkStride; off + 8 < size; off += kPageMarkStride) bytes[off] = page_mark(tag, off);
}

// True when the marks below `limit` bytes (at most the size they were
// written for) are intact.
inline bool pages_intact(const void* p, size_t limit, uint64_t tag) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  for (size_t off = kPageMarkStride; off + 8 < limit; off += kPageMarkStride)
    if (bytes[off] != page_mark(tag, off)) return false;
  return true;
}

// The alignment malloc owes a block of `size` bytes: 16, or the largest
// power of two not above size for smaller blocks.
inline size_t required_alignment(size_t size) {
  size_t align = 16;
  while (align > 1 && align > size) align >>= 1;
  return align;
}

// Fails the run unless p is non-null and suitably aligned.
inline void check_allocation(const void* p, size_t size, uint64_t id) {
  if (p == nullptr) [[unlikely]]
    fail_run("allocation %llu of %zu bytes returned NULL", static_cast<unsigned long long>(id), size);
  if ((reinterpret_cast<uintptr_t>(p) & (required_alignment(size) - 1)) != 0) [[unlikely]]
    fail_run("allocation %llu of %zu bytes at %p is not %zu-byte aligned",
             static_cast<unsigned long long>(id), size, p, required_alignment(size));
}

// A new block: checks it (non-null, aligned) and stamps it.
[[gnu::always_inline]] inline void accept_block(void* p, size_t size, uint64_t seed, uint64_t id) {
  check_allocation(p, size, id);
  stamp_block(p, size, block_tag(seed, id));
  if constexpr (kTestHooks) {
    if (id == g_corrupt_block_id) static_cast<unsigned char*>(p)[0] ^= 0x5A;
  }
}

// Fails the run unless the block still holds its stamp.
inline void check_block(const void* p, size_t size, uint64_t tag, uint64_t id) {
  if (!block_intact(p, size, tag)) [[unlikely]]
    fail_run("block %llu (%zu bytes at %p) was corrupted while live: its stamp changed",
             static_cast<unsigned long long>(id), size, p);
}

// After realloc of block `id` from old_size to new_size bytes: fails the run
// unless p is non-null and holds what realloc must keep of the old stamp (its
// head, and its tail too when the block grew, so a copy that stopped short
// is caught).
inline void check_realloc_kept(const void* p, size_t old_size, size_t new_size, uint64_t old_tag, uint64_t id) {
  if (p == nullptr) [[unlikely]]
    fail_run("realloc of block %llu to %zu bytes returned NULL", static_cast<unsigned long long>(id), new_size);
  const auto* bytes = static_cast<const unsigned char*>(p);
  const size_t head = std::min({old_size, new_size, size_t{8}});
  bool kept = memcmp(bytes, &old_tag, head) == 0;
  if (old_size >= 16 && new_size >= old_size) {
    const uint64_t tail = ~old_tag;
    kept = kept && memcmp(bytes + old_size - 8, &tail, 8) == 0;
  }
  if (!kept) [[unlikely]]
    fail_run("realloc of block %llu from %zu to %zu bytes lost its contents", static_cast<unsigned long long>(id),
             old_size, new_size);
}

}  // namespace lab
