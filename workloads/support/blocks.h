// Pieces the workloads share: request sizes drawn before the timed region,
// and live blocks that remember what they must still hold.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "workloads/support/rng.h"

namespace lab {

// How request sizes spread over [min, max]. Uniform suits a narrow range
// (tiny blocks); log-uniform gives every doubling the same share, as real
// programs have many more blocks of 64 KiB than of 2 MiB.
enum class SizeSpread { kUniform, kLogUniform };

// 64 Ki sizes in [min, max], from a seeded PRNG, read in a ring: the timed
// loop pays one load per request instead of a PRNG draw.
class SizeRing {
 public:
  SizeRing(uint64_t seed, size_t min_size, size_t max_size, SizeSpread spread = SizeSpread::kUniform)
      : sizes_(kSize) {
    Rng rng(seed);
    // floor(min * ((max + 1) / min)^u) for u in [0, 1) lies in [min, max].
    const double ratio = static_cast<double>(max_size + 1) / static_cast<double>(min_size);
    for (uint32_t& s : sizes_) {
      if (spread == SizeSpread::kUniform) {
        s = static_cast<uint32_t>(rng.between(min_size, max_size));
        continue;
      }
      // u has 53 random bits, so the sizes depend only on the seed (and on
      // libm's pow, the same for every run on one machine).
      const double u = static_cast<double>(rng.next() >> 11) * 0x1p-53;
      const double size = std::floor(static_cast<double>(min_size) * std::pow(ratio, u));
      s = static_cast<uint32_t>(std::clamp(size, static_cast<double>(min_size), static_cast<double>(max_size)));
    }
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
