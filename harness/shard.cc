#include "harness/shard.h"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <tuple>

namespace lab {

namespace {

std::optional<int> parse_int(const std::string& s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<ShardSpec> parse_shard(const std::string& text, std::string* error) {
  const size_t slash = text.find('/');
  const std::optional<int> k = slash == std::string::npos ? std::nullopt : parse_int(text.substr(0, slash));
  const std::optional<int> n = slash == std::string::npos ? std::nullopt : parse_int(text.substr(slash + 1));
  if (!k || !n) {
    *error = "--shard=" + text + ": expected K/N, two integers (shard K of N)";
    return std::nullopt;
  }
  if (*n < 1) {
    *error = "--shard=" + text + ": N must be at least 1";
    return std::nullopt;
  }
  if (*k < 1 || *k > *n) {
    *error = "--shard=" + text + ": K must be in [1, " + std::to_string(*n) + "]";
    return std::nullopt;
  }
  return ShardSpec{*k, *n};
}

std::vector<int> assign_shards(const std::vector<ShardGroup>& groups, int n) {
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  // Longest first; equal times by key, so the input's order does not matter.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ShardGroup& x = groups[a];
    const ShardGroup& y = groups[b];
    return std::tie(y.expected_seconds, x.workload, x.threads, x.mode) <
           std::tie(x.expected_seconds, y.workload, y.threads, y.mode);
  });
  std::vector<double> load(static_cast<size_t>(std::max(n, 1)), 0.0);
  std::vector<int> shard(groups.size(), 1);
  for (const size_t g : order) {
    const auto least = std::min_element(load.begin(), load.end());  // the first of equals: the lower shard
    *least += groups[g].expected_seconds;
    shard[g] = static_cast<int>(least - load.begin()) + 1;
  }
  return shard;
}

}  // namespace lab
