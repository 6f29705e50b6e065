#include "harness/shard.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
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

double expected_run_seconds(const std::string& workload, const std::map<std::string, std::string>& params) {
  if (workload == "soak") {
    double minutes = 1;
    for (const char* key : {"minutes", "soak.minutes"})
      if (auto it = params.find(key); it != params.end()) minutes = std::atof(it->second.c_str());
    return minutes * 60 + 5;  // and the settle
  }
  static const std::map<std::string, double> kSeconds = {
      {"mixed_lifo", 0.6}, {"random_free", 0.9}, {"producer_consumer", 0.1}, {"larson", 0.6},
      {"growth", 1.2},     {"mid_churn", 2.6},   {"phase_change", 3.4},
  };
  const auto it = kSeconds.find(workload);
  return it == kSeconds.end() ? 1.0 : it->second;
}

Json ShardRecord::to_json() const {
  Json groups_json = Json::array();
  for (size_t i = 0; i < groups.size(); ++i)
    groups_json.push_back({{"workload", groups[i].workload},
                           {"threads", groups[i].threads},
                           {"mode", groups[i].mode},
                           {"expected_seconds", groups[i].expected_seconds},
                           {"shard", shard_of_group[i]}});
  return {{"k", spec.k}, {"n", spec.n}, {"groups", groups_json}};
}

std::optional<ShardRecord> ShardRecord::from_json(const Json& j, std::string* error) {
  ShardRecord r;
  try {
    r.spec = ShardSpec{j.at("k").get<int>(), j.at("n").get<int>()};
    for (const Json& g : j.at("groups")) {
      r.groups.push_back({g.at("workload").get<std::string>(), g.at("threads").get<int>(),
                          g.at("mode").get<std::string>(), g.at("expected_seconds").get<double>()});
      r.shard_of_group.push_back(g.at("shard").get<int>());
    }
  } catch (const Json::exception& e) {
    *error = std::string("\"shard\" is not a shard record (") + e.what() + ")";
    return std::nullopt;
  }
  if (r.spec.n < 1 || r.spec.k < 1 || r.spec.k > r.spec.n) {
    *error = "\"shard\" has k " + std::to_string(r.spec.k) + " not in [1, n = " + std::to_string(r.spec.n) + "]";
    return std::nullopt;
  }
  return r;
}

std::string describe_shards(const ShardRecord& record) {
  std::string out;
  const int total = static_cast<int>(record.groups.size());
  for (int k = 1; k <= record.spec.n; ++k) {
    int count = 0;
    double seconds = 0;
    std::string names;
    for (int i = 0; i < total; ++i) {
      if (record.shard_of_group[i] != k) continue;
      ++count;
      seconds += record.groups[i].expected_seconds;
      names += fmt::format("{}{} t{}", names.empty() ? "" : ", ", record.groups[i].workload, record.groups[i].threads);
    }
    out += fmt::format("shard {} of {}: {} of {} groups, {:.0f} s expected{}\n", k, record.spec.n, count, total,
                       seconds, names.empty() ? " (nothing to run)" : " (" + names + ")");
  }
  return out;
}

}  // namespace lab
