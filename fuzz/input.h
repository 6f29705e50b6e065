// How the fuzzer reads its input: a byte stream consumed from the front.
// A read past the end yields zeros, so every input, however short, is a
// complete program (the end of the input ends it). Sizes and alignments
// are drawn so that most requests are small and every range is reached:
// tiny (0..1 KiB), mid (1..32 KiB) and large (32 KiB..512 KiB) blocks,
// alignments of every power of two up to 2 MiB, and a few invalid ones.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hakmem_fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  bool empty() const { return p_ == end_; }

  uint8_t byte() { return p_ == end_ ? 0 : *p_++; }

  uint32_t bytes(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | byte();
    return v;
  }

  // A request size, at most `max` (the variant's limit): 5 in 8 tiny,
  // 5 in 16 mid, 1 in 16 large.
  size_t size(size_t max) {
    const uint8_t range = byte();
    size_t s;
    if (range < 160) s = bytes(2) % 1025;
    else if (range < 240) s = 1025 + bytes(2) % 31744;
    else s = 32769 + bytes(3) % (512 * 1024 - 32768);
    return s < max ? s : max;
  }

  // An alignment for aligned_alloc, memalign and posix_memalign: a power
  // of two from 1 to 2 MiB, or (1 in 10) one that is not a power of two
  // or not a multiple of sizeof(void*): 0, 4, 48, 96, 144, ...
  size_t alignment() {
    const uint8_t a = byte();
    if (a >= 230) return a == 255 ? 0 : (a % 2 == 0 ? 4 : 24 * (a - 229));
    return size_t{1} << (a % 22);
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace hakmem_fuzz
