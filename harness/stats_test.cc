#include "harness/stats.h"

#include <gtest/gtest.h>

#include <random>

namespace lab {
namespace {

TEST(Stats, QuantilesInterpolateLikeNumpy) {
  // numpy.quantile([1, 2, 3, 4], [0, .25, .5, .75, 1]) = 1, 1.75, 2.5, 3.25, 4
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(quantile(v, 0), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile(v, 0.75), 3.25);
  EXPECT_DOUBLE_EQ(quantile(v, 1), 4);
  EXPECT_DOUBLE_EQ(quantile({7}, 0.5), 7);
}

TEST(Stats, SpreadOfFiveRepetitions) {
  const auto s = spread_of({100, 90, 110, 105, 95});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->n, 5);
  EXPECT_DOUBLE_EQ(s->median, 100);
  EXPECT_DOUBLE_EQ(s->min, 90);
  EXPECT_DOUBLE_EQ(s->max, 110);
  EXPECT_DOUBLE_EQ(s->p25, 95);
  EXPECT_DOUBLE_EQ(s->p75, 105);
  EXPECT_DOUBLE_EQ(s->rel_iqr, 0.10);
}

TEST(Stats, MedianIgnoresAnOutlier) {
  const auto s = spread_of({100, 101, 99, 100, 1e9});
  EXPECT_DOUBLE_EQ(s->median, 100);
}

TEST(Stats, EmptySampleHasNoSpread) { EXPECT_FALSE(spread_of({}).has_value()); }

TEST(MannWhitney, ExactTailsMatchKnownValues) {
  // Complete separation: the one arrangement in C(n1 + n2, n1).
  EXPECT_NEAR(mann_whitney_p_less({1, 2, 3}, {4, 5, 6}), 1.0 / 20, 1e-12);
  EXPECT_NEAR(mann_whitney_p_less({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}), 1.0 / 252, 1e-12);
  // The other way round, every arrangement is at least as extreme.
  EXPECT_NEAR(mann_whitney_p_less({4, 5, 6}, {1, 2, 3}), 1.0, 1e-12);
  // One swap from complete separation (U = 8 of 9): 2 of 20 orderings have U >= 8.
  EXPECT_NEAR(mann_whitney_p_less({1, 2, 4}, {3, 5, 6}), 2.0 / 20, 1e-12);
  // U = 7: the null distribution of U for 3 and 3 is 1 1 2 3 3 3 3 2 1 1 (of 20).
  EXPECT_NEAR(mann_whitney_p_less({1, 2, 5}, {3, 4, 6}), 4.0 / 20, 1e-12);
}

TEST(MannWhitney, AKnownShiftIsDetectedAndIdenticalDistributionsPass) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 0.03);
  std::vector<double> base, same, slower;
  for (int i = 0; i < 15; ++i) {
    base.push_back(1.0 + noise(rng));
    same.push_back(1.0 + noise(rng));
    slower.push_back(0.9 + noise(rng));  // 10% slower, noise sd 3%
  }
  EXPECT_LT(mann_whitney_p_less(slower, base), 1e-4);
  EXPECT_GT(mann_whitney_p_less(same, base), 0.01);
  EXPECT_GT(mann_whitney_p_less(base, slower), 0.99);
}

TEST(MannWhitney, IdenticalDistributionsRarelyLookSlower) {
  // Under the null, p < 0.01 should happen about 1% of the time.
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> noise(0, 0.2);
  int false_alarms = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    std::vector<double> a, b;
    for (int i = 0; i < 15; ++i) {
      a.push_back(noise(rng));
      b.push_back(noise(rng));
    }
    false_alarms += mann_whitney_p_less(a, b) < 0.01;
  }
  EXPECT_LT(false_alarms, 25);
  EXPECT_GT(false_alarms, 0);
}

TEST(MannWhitney, TiesFallBackToTheCorrectedNormalApproximation) {
  EXPECT_GE(mann_whitney_p_less({1, 1, 1}, {1, 1, 1}), 0.5) << "all tied: no evidence either way";
  EXPECT_LT(mann_whitney_p_less({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}), 1e-4);
}

}  // namespace
}  // namespace lab
