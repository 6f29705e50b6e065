// The shadow model's checks and the block pattern (shadow.h).
#include "fuzz/shadow.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hakmem_fuzz {
namespace {

// Byte i of block `id`'s pattern: byte i % 8 of word i / 8, each word a
// different mix of the id and its index, so a block shifted by any
// amount, a stale copy of another block or a zeroed page all mismatch.
uint64_t pattern_word(uint64_t id, size_t word) {
  uint64_t x = id * 0x9E3779B97F4A7C15ull + word * 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 29);
}

unsigned char pattern_byte(uint64_t id, size_t i) {
  return static_cast<unsigned char>(pattern_word(id, i / 8) >> (8 * (i % 8)));
}

void fill(unsigned char* p, size_t n, uint64_t id) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t w = pattern_word(id, i / 8);
    memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] = pattern_byte(id, i);
}

// Offset of the first byte of p[0 .. n) that is not block `id`'s
// pattern, or n when all are.
size_t first_mismatch(const unsigned char* p, size_t n, uint64_t id) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t w = pattern_word(id, i / 8);
    if (memcmp(p + i, &w, 8) != 0) break;
  }
  for (; i < n; ++i)
    if (p[i] != pattern_byte(id, i)) return i;
  return n;
}

}  // namespace

void Shadow::fail(const char* format, ...) const {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  fprintf(stderr, "hakmem fuzz [%.*s]: %s\n", static_cast<int>(variant_.size()), variant_.data(), message);
  abort();
}

Block Shadow::adopt(const char* call, void* p, size_t requested, size_t align, size_t usable, bool zeroed) {
  auto* bytes = static_cast<unsigned char*>(p);
  const auto address = reinterpret_cast<uintptr_t>(p);
  if (address % 16 != 0 || address % align != 0)
    fail("%s returned %p for %zu bytes: not aligned to %zu", call, p, requested, align < 16 ? 16 : align);
  if (usable < requested) fail("%s returned %p: usable_size %zu < the %zu bytes requested", call, p, usable, requested);
  Block b{bytes, requested, usable, requested + kSlackChecked < usable ? requested + kSlackChecked : usable,
          next_id_++, align};
  const uintptr_t end = address + (b.filled > 0 ? b.filled : 1);
  auto next = ranges_.lower_bound(address);
  if (next != ranges_.end() && next->first < end)
    fail("%s returned %p (%zu bytes): overlaps the live block at %#lx", call, p, requested, next->first);
  if (next != ranges_.begin() && std::prev(next)->second > address)
    fail("%s returned %p (%zu bytes): inside the live block at %#lx (up to %#lx)", call, p, requested,
         std::prev(next)->first, std::prev(next)->second);
  if (zeroed)
    for (size_t i = 0; i < requested; ++i)
      if (bytes[i] != 0) fail("%s returned %p: byte %zu of %zu is %#x, not zero", call, p, i, requested, bytes[i]);
  ranges_.emplace(address, end);
  fill(bytes, b.filled, b.id);
  return b;
}

void Shadow::check(const char* call, const Block& b) const {
  const size_t bad = first_mismatch(b.p, b.filled, b.id);
  if (bad != b.filled)
    fail("%s: block #%llu at %p (%zu bytes requested, %zu usable) was overwritten: byte %zu is %#x, expected %#x", call,
         static_cast<unsigned long long>(b.id), static_cast<void*>(b.p), b.requested, b.usable, bad, b.p[bad],
         pattern_byte(b.id, bad));
}

void Shadow::check_prefix(const char* call, const Block& old_block, const unsigned char* p, size_t prefix) const {
  const size_t bad = first_mismatch(p, prefix, old_block.id);
  if (bad != prefix)
    fail("%s moved block #%llu from %p to %p: byte %zu of the %zu kept is %#x, expected %#x", call,
         static_cast<unsigned long long>(old_block.id), static_cast<void*>(old_block.p), static_cast<const void*>(p),
         bad, prefix, p[bad], pattern_byte(old_block.id, bad));
}

void Shadow::forget(const Block& b) {
  if (ranges_.erase(reinterpret_cast<uintptr_t>(b.p)) != 1)
    fail("internal: block #%llu at %p is not in the model", static_cast<unsigned long long>(b.id),
         static_cast<void*>(b.p));
}

}  // namespace hakmem_fuzz
