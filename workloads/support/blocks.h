// Pieces the workloads share: request sizes drawn before the timed region,
// and live blocks that remember what they must still hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "workloads/support/rng.h"

namespace lab {

// 64 Ki sizes uniform in [min, max], from a seeded PRNG, read in a ring: the
// timed loop pays one load per request instead of a PRNG draw.
class SizeRing {
 public:
  SizeRing(uint64_t seed, size_t min_size, size_t max_size) : sizes_(kSize) {
    Rng rng(seed);
    for (uint32_t& s : sizes_) s = static_cast<uint32_t>(rng.between(min_size, max_size));
  }
  [[gnu::always_inline]] size_t next() {
    const size_t size = sizes_[i_];
    i_ = (i_ + 1) & (kSize - 1);
    return size;
  }

 private:
  static constexpr size_t kSize = 1 << 16;
  std::vector<uint32_t> sizes_;
  size_t i_ = 0;
};

// A live block: its address, its size and its id (which fixes its stamp).
struct LiveBlock {
  void* p = nullptr;
  uint64_t size = 0;
  uint64_t id = 0;
};

// Ids are unique per run: worker w numbers its blocks from w << 40.
inline uint64_t first_block_id(unsigned worker) { return (uint64_t{worker} << 40) | 1; }

}  // namespace lab
