// The partition of a matrix into shards (harness/shard.h).
#include "harness/shard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace lab {
namespace {

// A matrix like compare's default: 8 workloads x 2 thread counts x 2 modes,
// of uneven expected times (soak's minutes among them).
std::vector<ShardGroup> matrix() {
  const std::vector<std::pair<std::string, double>> workloads = {
      {"mixed_lifo", 40},  {"random_free", 35}, {"producer_consumer", 30}, {"larson", 45},
      {"growth", 20},      {"mid_churn", 60},   {"phase_change", 90},      {"soak", 2100}};
  std::vector<ShardGroup> groups;
  for (const auto& [w, seconds] : workloads)
    for (int t : {1, 2})
      for (const char* mode : {"linked", "preload"}) groups.push_back({w, t, mode, seconds * t});
  return groups;
}

TEST(Shard, EveryGroupIsInExactlyOneShardAndTheLoadsStayWithinTheLongestGroup) {
  const std::vector<ShardGroup> groups = matrix();
  double longest = 0, total = 0;
  for (const ShardGroup& g : groups) {
    longest = std::max(longest, g.expected_seconds);
    total += g.expected_seconds;
  }
  for (int n = 1; n <= 16; ++n) {
    SCOPED_TRACE(n);
    const std::vector<int> shard = assign_shards(groups, n);
    ASSERT_EQ(shard.size(), groups.size());  // one shard per group: a group is never split
    std::vector<double> load(n, 0.0);
    for (size_t i = 0; i < groups.size(); ++i) {
      ASSERT_GE(shard[i], 1);
      ASSERT_LE(shard[i], n);
      load[shard[i] - 1] += groups[i].expected_seconds;
    }
    double sum = 0;
    for (double l : load) sum += l;
    EXPECT_DOUBLE_EQ(sum, total);
    const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    EXPECT_LE(*hi - *lo, longest) << "the balance lies within the longest group's time";
  }
}

TEST(Shard, TheAssignmentDoesNotDependOnTheGroupsOrder) {
  const std::vector<ShardGroup> groups = matrix();
  std::vector<ShardGroup> reversed(groups.rbegin(), groups.rend());
  const std::vector<int> a = assign_shards(groups, 5);
  const std::vector<int> b = assign_shards(reversed, 5);
  for (size_t i = 0; i < groups.size(); ++i) EXPECT_EQ(a[i], b[groups.size() - 1 - i]) << groups[i].workload;
}

TEST(Shard, EqualGroupsSpreadOverTheShards) {
  std::vector<ShardGroup> groups;
  for (int i = 0; i < 6; ++i) groups.push_back({"w" + std::to_string(i), 1, "preload", 10});
  std::map<int, int> per_shard;
  for (int s : assign_shards(groups, 3)) ++per_shard[s];
  EXPECT_EQ(per_shard, (std::map<int, int>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST(Shard, ParsesKOfNAndRejectsTheRestInOneLine) {
  std::string error;
  EXPECT_EQ(parse_shard("2/3", &error), (ShardSpec{2, 3}));
  EXPECT_EQ(parse_shard("1/1", &error), (ShardSpec{1, 1}));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"0/3", "--shard=0/3: K must be in [1, 3]"},
      {"4/3", "--shard=4/3: K must be in [1, 3]"},
      {"1/0", "--shard=1/0: N must be at least 1"},
      {"1/-2", "--shard=1/-2: N must be at least 1"},
      {"3", "--shard=3: expected K/N, two integers (shard K of N)"},
      {"a/b", "--shard=a/b: expected K/N, two integers (shard K of N)"},
      {"1/2/3", "--shard=1/2/3: expected K/N, two integers (shard K of N)"},
  };
  for (const auto& [text, message] : bad) {
    error.clear();
    EXPECT_FALSE(parse_shard(text, &error)) << text;
    EXPECT_EQ(error, message);
  }
}

}  // namespace
}  // namespace lab
