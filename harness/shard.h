// Sharding a compare matrix across machines (issue 15): which shard runs
// which group of cells.
//
// The unit is a group: one (workload, threads, mode) with all its
// allocators, so every ratio is computed between runs made on one machine,
// interleaved as ever. Groups go to shards by longest expected time first,
// each to the shard with the least expected time so far (ties: the lower
// shard), which is deterministic and keeps the longest shard within the
// longest group's time of the shortest (greedy list scheduling).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lab {

// Shard k of n, 1 <= k <= n.
struct ShardSpec {
  int k = 1;
  int n = 1;
  bool operator==(const ShardSpec&) const = default;
};

// Parses --shard=K/N's value; nullopt and a one-line *error naming the flag
// when it is not two integers with 1 <= K <= N.
std::optional<ShardSpec> parse_shard(const std::string& text, std::string* error);

// One group of the matrix and what it is expected to cost, in seconds.
struct ShardGroup {
  std::string workload;
  int threads = 1;
  std::string mode;
  double expected_seconds = 0;
};

// The shard (1 .. n) of each group, in the groups' order. Depends only on
// the groups' keys and expected times, not on their order.
std::vector<int> assign_shards(const std::vector<ShardGroup>& groups, int n);

}  // namespace lab
