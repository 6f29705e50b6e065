#include "harness/stats.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lab
