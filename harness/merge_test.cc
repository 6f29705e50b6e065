// Joining shards (harness/merge.h): a round trip, the refusals, missing,
// duplicated and incomplete shards, and cells from two machines.
#include "harness/merge.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

#include "harness/runner.h"

namespace lab {
namespace {

// An unsharded run's file: 2 workloads x 2 thread counts x 2 allocators.
ResultsFile whole() {
  ResultsFile f;
  f.status = "complete";
  f.created_utc = f.updated_utc = "2026-12-03T00:00:00Z";
  f.machine = {{"cpu_model", "A"}};
  f.build = {{"git_commit", "abc"}};
  f.config.allocators = {"ultra_simple", "glibc"};
  f.config.workloads = {"mixed_lifo", "random_free"};
  f.config.threads = {1, 2};
  f.config.reps = 1;
  f.config.baseline = "glibc";
  for (const char* w : {"mixed_lifo", "random_free"})
    for (int t : {1, 2})
      for (const char* a : {"ultra_simple", "glibc"}) {
        Cell c;
        c.allocator = a;
        c.allocator_kind = std::string(a) == "glibc" ? "system" : "hakmem";
        c.workload = w;
        c.threads = t;
        RunRecord r;
        r.ops_per_sec = std::string(a) == "glibc" ? 100 : 200;
        r.seconds = r.cpu_seconds = 1;
        c.runs.push_back({1, static_cast<int>(f.cells.size()) + 1, 1.0, r});
        f.cells.push_back(c);
      }
  f.summarize();
  return f;
}

ShardFile shard(int k, int n = 3) {
  ShardFile f{"shard" + std::to_string(k) + ".json", kSchemaVersion, whole()};
  apply_shard(&f.results, ShardSpec{k, n});
  return f;
}

std::vector<std::tuple<std::string, int, std::string>> keys(const ResultsFile& f) {
  std::vector<std::tuple<std::string, int, std::string>> out;
  for (const Cell& c : f.cells) out.emplace_back(c.workload, c.threads, c.allocator);
  return out;
}

TEST(Merge, TheShardsOfAMatrixGiveBackItsCellsInOrder) {
  const MergeOutcome m = merge_shards({shard(3), shard(1), shard(2)});
  ASSERT_TRUE(m.refusal.empty()) << m.refusal;
  EXPECT_TRUE(m.missing.empty());
  EXPECT_TRUE(m.duplicated.empty());
  EXPECT_EQ(keys(m.merged), keys(whole()));
  EXPECT_EQ(m.merged.status, "complete");
  EXPECT_FALSE(m.merged.shard);
  for (const Cell& c : m.merged.cells) {
    EXPECT_FALSE(c.machine) << "one machine: the file's";
    if (c.allocator == "ultra_simple") EXPECT_DOUBLE_EQ(*c.summary.ratio_to_baseline, 2.0);
  }
  // And through JSON, as the merge tool writes it.
  std::string error;
  const auto back = ResultsFile::from_json(m.merged.to_json(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(keys(*back), keys(whole()));
}

TEST(Merge, MissingAndDuplicatedShardsAreNamedAndTheRestIsKept) {
  const MergeOutcome m = merge_shards({shard(1), shard(3), shard(1)});
  ASSERT_TRUE(m.refusal.empty()) << m.refusal;
  EXPECT_EQ(m.missing, std::vector<int>{2});
  EXPECT_EQ(m.duplicated, std::vector<int>{1});
  ASSERT_EQ(m.notes.size(), 2u);
  EXPECT_EQ(m.notes[0], "shard 1 of 3 given twice (shard1.json and shard1.json): shard1.json is kept");
  EXPECT_EQ(m.notes[1], "missing shard 2 of 3: their cells are not in the merged file");
  EXPECT_EQ(m.merged.status, "interrupted");
  EXPECT_EQ(m.merged.cells.size(), shard(1).results.cells.size() + shard(3).results.cells.size());
}

// A task that was cancelled or ran out of time leaves a shard file that is
// not complete: its cells are kept, and the shard is named so that
// tools/lab slurm --resume submits it again.
TEST(Merge, AnIncompleteShardIsNamedAndItsCellsAreKept) {
  ShardFile cut_short = shard(2);
  cut_short.results.status = "interrupted";
  const MergeOutcome m = merge_shards({shard(1), cut_short, shard(3)});
  ASSERT_TRUE(m.refusal.empty()) << m.refusal;
  EXPECT_TRUE(m.missing.empty());
  EXPECT_EQ(m.incomplete, std::vector<int>{2});
  ASSERT_EQ(m.notes.size(), 1u);
  EXPECT_EQ(m.notes[0], "shard 2 of 3 is interrupted (shard2.json): the cells it measured are merged, the rest are "
                        "not; compare --resume finishes it");
  EXPECT_EQ(m.merged.status, "interrupted");
  EXPECT_EQ(keys(m.merged), keys(whole()));
}

TEST(Merge, FilesThatAreNotShardsOfOneMatrixAndBuildAreRefused) {
  ShardFile not_shard{"whole.json", kSchemaVersion, whole()};
  EXPECT_EQ(merge_shards({shard(1), not_shard}).refusal,
            "whole.json is not a shard (it has no \"shard\": it was not run with compare --shard=K/N)");
  ShardFile other = shard(2);
  other.results.config.reps = 5;
  EXPECT_EQ(merge_shards({shard(1), other}).refusal,
            "cannot merge shard2.json: it is a shard of another matrix than shard1.json");
  ShardFile cut = shard(2, 4);
  EXPECT_EQ(merge_shards({shard(1), cut}).refusal,
            "cannot merge shard2.json: its matrix was cut into other shards than shard1.json's");
  ShardFile build = shard(2);
  build.results.build["git_commit"] = "def";
  EXPECT_EQ(merge_shards({shard(1), build}).refusal,
            "cannot merge shard2.json: it was run from another build than shard1.json");
  ShardFile old = shard(2);
  old.schema_version = 2;
  EXPECT_EQ(merge_shards({shard(1), old}).refusal, "cannot merge shard2.json: schema version 2 is not shard1.json's 3");
  EXPECT_EQ(merge_shards({}).refusal, "no shard files given");
}

TEST(Merge, CellsFromSeveralMachinesKeepTheirMachine) {
  ShardFile b = shard(2);
  b.results.machine = {{"cpu_model", "B"}};
  const MergeOutcome m = merge_shards({shard(1), b, shard(3)});
  ASSERT_TRUE(m.refusal.empty()) << m.refusal;
  size_t on_b = 0;
  for (const Cell& c : m.merged.cells) {
    ASSERT_TRUE(c.machine) << c.key();
    on_b += (*c.machine)["cpu_model"] == "B";
  }
  EXPECT_EQ(on_b, b.results.cells.size());
  EXPECT_GT(on_b, 0u);
  // Two CPUs: every ratio within one machine, the geometric means per machine.
  for (const Cell& c : m.merged.cells)
    if (c.allocator == "ultra_simple") EXPECT_DOUBLE_EQ(*c.summary.ratio_to_baseline, 2.0) << c.key();
  std::set<std::pair<std::string, std::string>> summaries;
  for (const AllocatorSummary& a : m.merged.allocator_summaries) summaries.emplace(a.allocator, a.machine);
  EXPECT_EQ(summaries, (std::set<std::pair<std::string, std::string>>{
                           {"ultra_simple", "A"}, {"glibc", "A"}, {"ultra_simple", "B"}, {"glibc", "B"}}));
  EXPECT_EQ(m.merged.allocator_summaries.size(), 4u);
}

}  // namespace
}  // namespace lab
