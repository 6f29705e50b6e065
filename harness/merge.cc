#include "harness/merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace lab {

namespace {

std::string numbers(const std::vector<int>& v) {
  std::string s;
  for (int n : v) s += (s.empty() ? "" : ", ") + std::to_string(n);
  return s;
}

// Why `b` cannot be joined to `a` (the first file), or "".
std::string mismatch(const ShardFile& a, const ShardFile& b) {
  if (b.schema_version != a.schema_version)
    return fmt::format("schema version {} is not {}'s {}", b.schema_version, a.path, a.schema_version);
  if (!(b.results.config == a.results.config)) return "it is a shard of another matrix than " + a.path;
  if (b.results.shard->spec.n != a.results.shard->spec.n || b.results.shard->groups != a.results.shard->groups)
    return "its matrix was cut into other shards than " + a.path + "'s";
  if (b.results.build != a.results.build) return "it was run from another build than " + a.path;
  return "";
}

}  // namespace

MergeOutcome merge_shards(const std::vector<ShardFile>& files) {
  MergeOutcome out;
  if (files.empty()) {
    out.refusal = "no shard files given";
    return out;
  }
  for (const ShardFile& f : files) {
    if (!f.results.shard) {
      out.refusal = f.path + " is not a shard (it has no \"shard\": it was not run with compare --shard=K/N)";
      return out;
    }
  }
  for (size_t i = 1; i < files.size(); ++i) {
    if (const std::string why = mismatch(files[0], files[i]); !why.empty()) {
      out.refusal = "cannot merge " + files[i].path + ": " + why;
      return out;
    }
  }
  const int n = files[0].results.shard->spec.n;
  std::map<int, const ShardFile*> by_shard;
  for (const ShardFile& f : files) {
    const int k = f.results.shard->spec.k;
    if (!by_shard.emplace(k, &f).second) {
      if (std::find(out.duplicated.begin(), out.duplicated.end(), k) == out.duplicated.end())
        out.duplicated.push_back(k);
      out.notes.push_back(fmt::format("shard {} of {} given twice ({} and {}): {} is kept", k, n,
                                      by_shard[k]->path, f.path, by_shard[k]->path));
    }
  }
  for (int k = 1; k <= n; ++k)
    if (by_shard.count(k) == 0) out.missing.push_back(k);
  if (!out.missing.empty())
    out.notes.push_back(fmt::format("missing shard{} {} of {}: their cells are not in the merged file",
                                    out.missing.size() == 1 ? "" : "s", numbers(out.missing), n));

  const ShardFile& first = *by_shard.begin()->second;
  ResultsFile& m = out.merged;
  m.created_utc = first.results.created_utc;
  m.updated_utc = first.results.updated_utc;
  m.machine = first.results.machine;
  m.build = first.results.build;
  m.config = first.results.config;
  std::set<std::string> machines;
  for (const auto& [k, f] : by_shard) machines.insert(f->results.machine.dump());
  // The cells in the order an unsharded run writes them: by the groups'
  // order in the matrix, each shard's cells keeping their own order.
  std::map<std::pair<std::string, int>, size_t> group_rank;
  for (const ShardGroup& g : first.results.shard->groups)
    group_rank.emplace(std::make_pair(g.workload, g.threads), group_rank.size());
  for (const auto& [k, f] : by_shard) {
    if (f->results.status != "complete") {
      out.incomplete.push_back(k);
      out.notes.push_back(fmt::format("shard {} of {} is {} ({}): the cells it measured are merged, the rest are "
                                      "not; compare --resume finishes it", k, n, f->results.status, f->path));
    }
    m.created_utc = std::min(m.created_utc, f->results.created_utc);
    m.updated_utc = std::max(m.updated_utc, f->results.updated_utc);
    for (Cell c : f->results.cells) {
      if (machines.size() > 1) c.machine = f->results.machine;
      m.cells.push_back(std::move(c));
    }
  }
  std::stable_sort(m.cells.begin(), m.cells.end(), [&](const Cell& a, const Cell& b) {
    return group_rank.at({a.workload, a.threads}) < group_rank.at({b.workload, b.threads});
  });
  m.status = out.missing.empty() && out.incomplete.empty() ? "complete" : "interrupted";
  m.summarize();
  return out;
}

}  // namespace lab
