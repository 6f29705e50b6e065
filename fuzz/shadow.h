// The fuzzer's shadow model: what every live block must hold. Each block
// is filled with a pattern derived from its id (a fresh id per
// allocation), up to its requested size plus a slice of the slack that
// usable_size promises, and checked before it is freed or reallocated.
// The model also keeps the address ranges of all live blocks, so a block
// handed out again while live, or overlapping another, fails at once
// instead of at the next check. Any violation prints one line naming the
// variant, the call, the block and what was wrong, then aborts (libFuzzer
// saves the input). Variant-independent: compiled once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>

namespace hakmem_fuzz {

// One live block as the model knows it. Invariants while live:
//   requested <= usable == usable_size(p) at allocation
//   filled == min(usable, requested + kSlackChecked)
//   p[0 .. filled) == pattern(id)
//   p % align == 0 and p % 16 == 0
struct Block {
  unsigned char* p = nullptr;
  size_t requested = 0;
  size_t usable = 0;
  size_t filled = 0;
  uint64_t id = 0;
  size_t align = 16;

  bool live() const { return p != nullptr; }
};

// How much of usable_size's slack beyond the request is written and
// checked: all of a slab block's, a page of a large mapping's (the whole
// rest of a 2 MiB mapping would dominate the run time).
inline constexpr size_t kSlackChecked = 4096;

class Shadow {
 public:
  explicit Shadow(std::string_view variant) : variant_(variant) {}

  // A block just returned by `call`: checks p's alignment (16 and `align`)
  // and usable >= requested, that it overlaps no live block, and for
  // calloc (`zeroed`) that its first `requested` bytes are zero; then
  // fills it with a fresh pattern and records it as live.
  Block adopt(const char* call, void* p, size_t requested, size_t align, size_t usable, bool zeroed = false);

  // The block's pattern is intact (before a free, a realloc, or on demand).
  void check(const char* call, const Block& b) const;

  // After realloc moved or kept a block: its first `prefix` bytes still
  // carry the old block's pattern.
  void check_prefix(const char* call, const Block& old_block, const unsigned char* p, size_t prefix) const;

  // The block is about to be freed or reallocated: no longer live.
  void forget(const Block& b);

  size_t live_blocks() const { return ranges_.size(); }

  // One line on stderr, "hakmem fuzz [<variant>]: <message>", then abort().
  [[noreturn]] void fail(const char* format, ...) const __attribute__((format(printf, 2, 3)));

 private:
  std::string_view variant_;
  uint64_t next_id_ = 1;
  std::map<uintptr_t, uintptr_t> ranges_;  // start -> end of each live block's filled bytes (at least 1)
};

}  // namespace hakmem_fuzz
