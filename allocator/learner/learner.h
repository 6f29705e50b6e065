// The learner's state between passes: its mode, the knobs in force, the
// controller's memory, the last snapshot, and the trace of every decision
// (issue 13). The learner thread (process_learner.h) calls step() once a
// pass; a test calls it with snapshots of its own.
//
//   begin(mode, bounds, knobs, first snapshot, t)  the knobs are published
//                                                  and traced as "start"
//   step(snapshot, t)  off, frozen: nothing; rules: rules_step; on: ace_step
//                      over the window since the last step; changed knobs
//                      are published, every decision is traced
//
// Invariants: knobs() lies within bounds() (learn::within); the trace
// holds the decisions in the order they were made, trace_size() <=
// DecisionTrace::kCapacity, and the start entries first.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "allocator/learn/controller.h"
#include "allocator/learn/knobs.h"
#include "allocator/learner/snapshot.h"

namespace hakmem {

enum class LearnMode : uint8_t { kOff = 0, kRules = 1, kOn = 2, kFrozen = 3 };  // HAKMEM_LEARN's values

// A fixed-size record of decisions: one writer (the learner), any number
// of readers, which see each entry complete once size() counts it. A full
// trace counts what it drops.
class DecisionTrace {
 public:
  static constexpr size_t kCapacity = 8192;

  void add(const learn::Decision& d) {
    const size_t n = size_.load(std::memory_order_relaxed);
    if (n == kCapacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    entries_[n] = d;
    size_.store(n + 1, std::memory_order_release);
  }
  void count_dropped(uint64_t n) {
    if (n != 0) dropped_.fetch_add(n, std::memory_order_relaxed);
  }
  size_t size() const { return size_.load(std::memory_order_acquire); }
  const learn::Decision& at(size_t i) const { return entries_[i]; }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  void clear() {
    size_.store(0, std::memory_order_relaxed);
    dropped_.store(0, std::memory_order_relaxed);
  }

 private:
  std::array<learn::Decision, kCapacity> entries_{};
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> dropped_{0};
};

class Learner {
 public:
  // Where knobs go: the process's tunables and SuperSlab sizes
  // (publish_to_process), or a test's record.
  using Publish = void (*)(const learn::Knobs&);

  void begin(LearnMode mode, const learn::KnobBounds& bounds, const learn::Knobs& start, const Snapshot& first,
             uint64_t now_ms, Publish publish);
  void step(const Snapshot& now, uint64_t now_ms);

  LearnMode mode() const { return mode_; }
  const learn::Knobs& knobs() const { return knobs_; }
  const learn::KnobBounds& bounds() const { return bounds_; }
  const DecisionTrace& trace() const { return trace_; }

 private:
  void trace_all(const learn::DecisionLog& log);

  LearnMode mode_ = LearnMode::kOff;
  learn::KnobBounds bounds_{};
  learn::Knobs knobs_{};
  learn::AceState ace_{};
  learn::RulesState rules_{};
  Snapshot last_{};
  uint64_t last_ms_ = 0;
  Publish publish_ = nullptr;
  DecisionTrace trace_;
};

// Publishes k to this process: the tunables every pool's slow paths read
// (config/tunables.h) and the SuperSlab size of each class group.
void publish_to_process(const learn::Knobs& k);

}  // namespace hakmem
