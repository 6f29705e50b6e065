// Joining the shards of one matrix (compare --shard=K/N) into one results
// file (issue 15): what may be joined, and what the joined file says.
#pragma once

#include <string>
#include <vector>

#include "harness/results.h"

namespace lab {

// One shard file as read: its path, the schema version it was written in
// (before the reader's conversion) and its contents.
struct ShardFile {
  std::string path;
  int schema_version = kSchemaVersion;
  ResultsFile results;
};

struct MergeOutcome {
  // Set when the files cannot be joined at all (not shards, of different
  // matrices, schema versions or builds): one line naming the file.
  std::string refusal;
  ResultsFile merged;
  std::vector<int> missing;     // shard numbers no file held
  std::vector<int> duplicated;  // shard numbers given more than once (the first file is kept)
  // Shards whose file is not complete (its task failed, was cancelled or
  // ran out of time): their cells so far are joined, and compare --resume
  // (tools/lab slurm --resume) finishes them.
  std::vector<int> incomplete;
  std::vector<std::string> notes;  // one line each, for stderr
};

// Joins `files`, all shards of one matrix: the cells of each shard once, in
// the order an unsharded run writes them, each carrying the machine it ran
// on when the shards ran on more than one; the file's `machine` is the
// first shard's. The joined file has no `shard`; its status is complete
// only when every shard is there and complete.
MergeOutcome merge_shards(const std::vector<ShardFile>& files);

}  // namespace lab
