// The learner's passes (see learner.h).
#include "allocator/learner/learner.h"

#include "allocator/backend/superslab_manager.h"
#include "allocator/config/tunables.h"

namespace hakmem {

void Learner::begin(LearnMode mode, const learn::KnobBounds& bounds, const learn::Knobs& start, const Snapshot& first,
                    uint64_t now_ms, Publish publish) {
  mode_ = mode;
  bounds_ = bounds;
  knobs_ = start;
  ace_ = {};
  rules_ = {};
  last_ = first;
  last_ms_ = now_ms;
  publish_ = publish;
  trace_.clear();
  // Every knob's starting value, so a reader of the trace knows each
  // knob's value at every moment.
  learn::DecisionLog log;
  const auto start_of = [&](learn::Knob knob, int index, uint32_t value) {
    log.add({now_ms, knob, static_cast<int16_t>(index), value, value, "start"});
    if (log.count == learn::DecisionLog::kCapacity) {
      trace_all(log);
      log = {};
    }
  };
  for (unsigned c = 0; c < kTinyClasses; ++c) start_of(learn::Knob::kTinyCache, static_cast<int>(c), start.tiny_cache[c]);
  for (unsigned c = 0; c < kTinyClasses; ++c) start_of(learn::Knob::kTinyRefill, static_cast<int>(c), start.tiny_refill[c]);
  start_of(learn::Knob::kMidCacheKib, -1, start.mid_cache_kib);
  start_of(learn::Knob::kL25CacheKib, -1, start.l25_cache_kib);
  start_of(learn::Knob::kLargeCacheMib, -1, start.large_cache_mib);
  start_of(learn::Knob::kPurgeDelayMs, -1, start.purge_delay_ms);
  for (unsigned g = 0; g < learn::kSuperSlabGroups; ++g)
    start_of(learn::Knob::kSuperSlabKib, static_cast<int>(g), start.superslab_kib[g]);
  trace_all(log);
  if (publish_ != nullptr) publish_(knobs_);
}

void Learner::step(const Snapshot& now, uint64_t now_ms) {
  if (mode_ != LearnMode::kRules && mode_ != LearnMode::kOn) return;
  const learn::Window w = window_between(last_, now, now_ms, now_ms > last_ms_ ? now_ms - last_ms_ : 1);
  last_ = now;
  last_ms_ = now_ms;
  learn::DecisionLog log;
  const learn::Knobs next = mode_ == LearnMode::kOn ? learn::ace_step(w, knobs_, ace_, bounds_, log)
                                                   : learn::rules_step(w, knobs_, rules_, bounds_, log);
  trace_all(log);
  if (next == knobs_) return;
  knobs_ = next;
  if (publish_ != nullptr) publish_(knobs_);
}

void Learner::trace_all(const learn::DecisionLog& log) {
  for (unsigned i = 0; i < log.count; ++i) trace_.add(log.entries[i]);
  trace_.count_dropped(log.dropped);  // a step past its log's capacity
}

void publish_to_process(const learn::Knobs& k) {
  using tunables::Tunable;
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    tunables::set(Tunable::kTinyCache, c, k.tiny_cache[c]);
    tunables::set(Tunable::kTinyRefill, c, k.tiny_refill[c]);
  }
  tunables::set(Tunable::kMidCacheKib, 0, k.mid_cache_kib);
  tunables::set(Tunable::kL25CacheKib, 0, k.l25_cache_kib);
  tunables::set(Tunable::kLargeCacheMib, 0, k.large_cache_mib);
  tunables::set(Tunable::kPurgeDelayMs, 0, k.purge_delay_ms);
  tunables::published();
  for (unsigned g = 0; g < learn::kSuperSlabGroups; ++g) {
    const unsigned first = g * learn::kClassesPerGroup;
    global_superslabs().set_superslab_kib(first, first + learn::kClassesPerGroup - 1, k.superslab_kib[g]);
  }
}

}  // namespace hakmem
