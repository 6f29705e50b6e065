// migrate: the one-time rewrite of older results files into this schema
// version. Each file is read with the results reader (which accepts every
// version from kOldestReadableSchema), its summaries are computed by the
// harness, and it is written back whole and atomically in this version.
// The runs and their records are kept as they were measured: a version 1
// record stays record_version 1, and the fields it never had stay empty.
//
//   bazel run //harness:migrate -- results/runs/phase3-workloads.json ...
#include <fmt/format.h>

#include "harness/cli.h"
#include "harness/results.h"

int main(int argc, char** argv) {
  using namespace lab;
  if (argc < 2 || std::string(argv[1]) == "--help") {
    fmt::print(argc < 2 ? stderr : stdout,
               "usage: bazel run //harness:migrate -- FILE...\n"
               "Rewrites each results file in schema version {} (summaries computed by the harness).\n"
               "Exit status: 0 all rewritten; 2 a file could not be read or written (the others still are).\n",
               kSchemaVersion);
    return argc < 2 ? kExitUsage : 0;
  }
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string path = resolve_path(argv[i]);
    std::string error;
    const auto json = read_json_file(path, &error);
    const int before = json && json->is_object() ? json->value("schema_version", 0) : 0;
    auto results = load_results(path, &error);
    if (!results || !write_atomically(path, results->to_json().dump(1) + "\n", &error)) {
      fmt::print(stderr, "error: {}\n", error);
      status = kExitUsage;
      continue;
    }
    fmt::print("{}: schema version {} -> {}\n", path, before, kSchemaVersion);
  }
  return status;
}
