// The learner's passes on snapshots the test makes: what each mode does
// with a window, what it publishes, and what it traces (learner.h).
#include "allocator/learner/learner.h"

#include <gtest/gtest.h>

#include <vector>

namespace hakmem {
namespace {

std::vector<learn::Knobs> g_published;
void record(const learn::Knobs& k) { g_published.push_back(k); }

class LearnerTest : public testing::Test {
 protected:
  void SetUp() override { g_published.clear(); }
  learn::KnobBounds bounds() const {
    learn::KnobBounds b = learn::bounds_from_options();
    b.dwell_windows = 1;
    return b;
  }
  learn::Knobs start() const { return learn::default_knobs(bounds(), 64, 32); }
  // A snapshot after `windows` windows in which class 5 both refilled and
  // spilled 10 times each, turning between them each time: a class whose
  // cache is too small for its swing.
  static Snapshot thrashing(int windows) {
    Snapshot s;
    s.classes[5].refills = 10 * windows;
    s.classes[5].spills = 10 * windows;
    s.classes[5].turns = 10 * windows;
    return s;
  }
  Learner learner;
};

TEST_F(LearnerTest, BeginPublishesTheStartingKnobsAndTracesEveryOne) {
  learner.begin(LearnMode::kOn, bounds(), start(), Snapshot{}, 1000, &record);
  ASSERT_EQ(g_published.size(), 1u);
  EXPECT_EQ(g_published[0], start());
  const DecisionTrace& t = learner.trace();
  ASSERT_EQ(t.size(), 2 * kTinyClasses + 4 + learn::kSuperSlabGroups);
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_STREQ(t.at(i).signal, "start");
    EXPECT_EQ(t.at(i).t_ms, 1000u);
    EXPECT_EQ(t.at(i).old_value, t.at(i).new_value);
  }
  EXPECT_EQ(t.at(0).knob, learn::Knob::kTinyCache);
  EXPECT_EQ(t.at(0).new_value, 64u);
  EXPECT_EQ(t.at(kTinyClasses).knob, learn::Knob::kTinyRefill);
  EXPECT_EQ(t.at(kTinyClasses).new_value, 32u);
}

TEST_F(LearnerTest, OnRunsAceOnTheWindowSinceTheLastStepAndPublishesWhatChanged) {
  learner.begin(LearnMode::kOn, bounds(), start(), Snapshot{}, 1000, &record);
  const size_t started = learner.trace().size();
  learner.step(thrashing(1), 1050);
  ASSERT_EQ(g_published.size(), 2u) << "the class grew";
  EXPECT_EQ(learner.knobs().tiny_cache[5], 128u);
  EXPECT_EQ(g_published.back(), learner.knobs());
  EXPECT_TRUE(learn::within(learner.knobs(), learner.bounds()));
  ASSERT_GT(learner.trace().size(), started);
  const learn::Decision& d = learner.trace().at(started);
  EXPECT_EQ(d.t_ms, 1050u);
  EXPECT_EQ(d.knob, learn::Knob::kTinyCache);
  EXPECT_EQ(d.index, 5);
  EXPECT_EQ(d.old_value, 64u);
  EXPECT_EQ(d.new_value, 128u);
  EXPECT_STREQ(d.signal, "underflows and overflows");
  // The same counters again: a window with no slow call, which moves no
  // cache knob (controller.h): nothing changes, nothing is published.
  const size_t published = g_published.size();
  const learn::Knobs grown = learner.knobs();
  learner.step(thrashing(1), 1100);
  EXPECT_EQ(learner.knobs(), grown);
  EXPECT_EQ(g_published.size(), published);
  for (const learn::Knobs& k : g_published) EXPECT_TRUE(learn::within(k, learner.bounds()));
}

TEST_F(LearnerTest, RulesRunsTheBaseline) {
  learner.begin(LearnMode::kRules, bounds(), start(), Snapshot{}, 0, &record);
  learner.step(thrashing(1), 50);
  EXPECT_EQ(learner.knobs().tiny_cache[5], 64u + 16u) << "the rules' fixed step";
}

TEST_F(LearnerTest, OffAndFrozenHoldTheirKnobs) {
  for (LearnMode mode : {LearnMode::kOff, LearnMode::kFrozen}) {
    g_published.clear();
    learner.begin(mode, bounds(), start(), Snapshot{}, 0, &record);
    for (int i = 1; i <= 10; ++i) learner.step(thrashing(i), 50 * i);
    EXPECT_EQ(learner.knobs(), start());
    EXPECT_EQ(g_published.size(), 1u) << "only the start";
    EXPECT_EQ(learner.trace().size(), 2 * kTinyClasses + 4 + learn::kSuperSlabGroups);
  }
}

TEST_F(LearnerTest, AFullTraceCountsWhatItDrops) {
  DecisionTrace trace;
  for (size_t i = 0; i < DecisionTrace::kCapacity + 5; ++i) trace.add({i, learn::Knob::kPurgeDelayMs, -1, 1, 2, "x"});
  EXPECT_EQ(trace.size(), DecisionTrace::kCapacity);
  EXPECT_EQ(trace.dropped(), 5u);
  EXPECT_EQ(trace.at(DecisionTrace::kCapacity - 1).t_ms, DecisionTrace::kCapacity - 1);
}

}  // namespace
}  // namespace hakmem
