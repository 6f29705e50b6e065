// Sharding a compare matrix across machines (issue 15): which shard runs
// which group of cells.
//
// The unit is a group: one (workload, threads) with all its allocators and
// modes, so every ratio is computed between runs made on one machine,
// interleaved as ever. (The issue asked for (workload, threads, mode); a
// system allocator has one cell, preloaded, which is the baseline of the
// linked cells as well, so the modes of a group cannot be split.) Groups go to shards by longest expected time first,
// each to the shard with the least expected time so far (ties: the lower
// shard), which is deterministic and keeps the longest shard within the
// longest group's time of the shortest (greedy list scheduling).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lab {

using Json = nlohmann::ordered_json;  // as harness/results.h

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
  std::string mode;  // the group's modes, comma-separated ("linked,preload")
  double expected_seconds = 0;
  bool operator==(const ShardGroup&) const = default;
};

// The shard (1 .. n) of each group, in the groups' order. Depends only on
// the groups' keys and expected times, not on their order.
std::vector<int> assign_shards(const std::vector<ShardGroup>& groups, int n);

// What one run of `workload` is expected to take, in seconds, for balancing
// shards only: the median wall time of a run at the workload's default
// length on this lab's 2-core VM (results/runs/phase7-latency.json, every
// allocator, 1 and 2 threads), soak's --minutes, and 1 s for a workload not
// in the table. --ops is not scaled in: the estimate orders groups, it does
// not predict their time.
double expected_run_seconds(const std::string& workload, const std::map<std::string, std::string>& params);

// A sharded results file's record of its shard: K, N, and every group of
// the full matrix with its expected time and its shard.
struct ShardRecord {
  ShardSpec spec;
  std::vector<ShardGroup> groups;
  std::vector<int> shard_of_group;  // parallel to groups
  bool operator==(const ShardRecord&) const = default;

  Json to_json() const;
  // nullopt and a one-line *error when `j` is not a shard record.
  static std::optional<ShardRecord> from_json(const Json& j, std::string* error);
};

// The plan of a sharded matrix, one line per shard: "shard 2 of 3: 4 of 14
// groups, 310 s expected (mixed_lifo t1, ...)"; compare --dry-run prints it
// so that a cut can be judged before anything is queued.
std::string describe_shards(const ShardRecord& record);

}  // namespace lab
