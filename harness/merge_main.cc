// merge: joins the shard files of one matrix (compare --shard=K/N, run on
// one machine or several) into one results file (harness/merge.h).
//
//   bazel run //harness:merge -- --out=FILE SHARD.json ...
#include <fmt/format.h>

#include <string>
#include <vector>

#include "harness/cli.h"
#include "harness/merge.h"

namespace lab {
namespace {

constexpr int kExitIncomplete = 1;

const char* kUsage = R"(usage: bazel run //harness:merge -- --out=FILE SHARD.json ...

Joins the results files of compare --shard=K/N, the shards of one matrix,
into one results file: every cell once, in the order an unsharded run
writes them, each with the machine it ran on when the shards ran on more
than one. Shards of different matrices, schema versions or builds are
refused. A shard missing, given twice or incomplete (its run was
interrupted) is reported by number, and the cells there are are still
written.

Exit status: 0 every shard once and complete; 1 a shard missing, given
twice or incomplete (FILE holds what there is); 2 bad flags, a file that
cannot be read, or files that cannot be joined (nothing written).
)";

int run(int argc, char** argv) {
  std::string out;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (arg.rfind("--out=", 0) == 0) out = resolve_path(arg.substr(6));
    else if (arg.rfind("--", 0) == 0) return usage_error("unknown flag " + arg + " (try --help)");
    else inputs.push_back(resolve_path(arg));
  }
  if (out.empty()) return usage_error("--out=FILE is required (try --help)");
  if (inputs.empty()) return usage_error("no shard files given (try --help)");
  std::vector<ShardFile> files;
  for (const std::string& path : inputs) {
    std::string error;
    const auto json = read_json_file(path, &error);
    auto results = load_results(path, &error);
    if (!results) return usage_error(error);
    files.push_back({path, json && json->is_object() ? json->value("schema_version", 0) : 0, std::move(*results)});
  }
  const MergeOutcome m = merge_shards(files);
  if (!m.refusal.empty()) return usage_error(m.refusal);
  for (const std::string& note : m.notes) fmt::print(stderr, "{}\n", note);
  std::string error;
  if (!write_atomically(out, m.merged.to_json().dump(1) + "\n", &error)) return usage_error(error);
  fmt::print("merged {} cells from {} file{} into {}\n", m.merged.cells.size(), files.size(),
             files.size() == 1 ? "" : "s", out);
  return m.missing.empty() && m.duplicated.empty() && m.incomplete.empty() ? 0 : kExitIncomplete;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::run(argc, argv); }
