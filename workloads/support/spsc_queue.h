// A bounded single-producer single-consumer ring of live blocks, for
// producer_consumer. The workload's own plumbing, never the allocator's:
// its buffer is allocated before the timed region.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "workloads/support/blocks.h"

namespace lab {

class SpscQueue {
 public:
  explicit SpscQueue(size_t depth) : slots_(std::bit_ceil(depth)), mask_(slots_.size() - 1) {}

  bool try_push(const LiveBlock& block) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == slots_.size()) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == slots_.size()) return false;
    }
    slots_[tail & mask_] = block;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  bool try_pop(LiveBlock* out) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    *out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer side, for counted loops: how many blocks have been popped, and
  // how many more are ready now; pop_ready() takes one of those.
  uint64_t popped() const { return head_.load(std::memory_order_relaxed); }
  uint64_t ready() {
    tail_cache_ = tail_.load(std::memory_order_acquire);
    return tail_cache_ - head_.load(std::memory_order_relaxed);
  }
  LiveBlock pop_ready() {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const LiveBlock block = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return block;
  }

 private:
  std::vector<LiveBlock> slots_;
  size_t mask_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t tail_cache_ = 0;  // consumer's view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t head_cache_ = 0;  // producer's view of head_
};

// Spin briefly, then give the core away: with more threads than cores (two
// producers and two consumers on two cores) pure spinning starves the peer.
class Backoff {
 public:
  void wait() {
    if (++spins_ < 64) return;
    spins_ = 0;
    std::this_thread::yield();
  }
  void reset() { spins_ = 0; }

 private:
  unsigned spins_ = 0;
};

}  // namespace lab
