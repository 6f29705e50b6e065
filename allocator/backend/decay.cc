// Decay: generations closed by clock readings (see decay.h).
#include "allocator/backend/decay.h"

#include <algorithm>

namespace hakmem {

// Granules of at least delay / (kGenerations - 1): the kept close times
// then span at least one delay, so a unit older than all of them has
// expired by its own close time too, and rounding to the oldest kept close
// makes no unit late.
uint64_t Decay::granule_ms() {
  return std::max<uint64_t>(1, (delay_ms() + kGenerations - 2) / (kGenerations - 1));
}

bool Decay::advance(uint64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);  // a learner's reading may be older than a tick's
  if (now_ms_ - open_since_ms_ >= granule_ms()) {
    close_ms_[open_ % kGenerations] = now_ms_;
    ++open_;
    open_since_ms_ = now_ms_;
  }
  return oldest_ != kNone && expired(oldest_);
}

bool Decay::expired(Stamp s) const {
  if (s >= open_) return false;  // still open: its close time is not known yet
  // Older than every kept close time: the oldest kept one is later than its own.
  const Stamp g = open_ - s > kGenerations ? open_ - kGenerations : s;
  return close_ms_[g % kGenerations] + delay_ms() <= now_ms_;
}

}  // namespace hakmem
