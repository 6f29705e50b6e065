// compare: runs every (allocator, workload, threads) cell of a matrix in
// fresh processes, repetitions interleaved (A B C A B C ...), and writes
// one results JSON, rewritten atomically after every run, then prints the
// table. See --help.
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "common/flags.h"
#include "harness/cli.h"
#include "harness/drivers.h"
#include "harness/machine.h"
#include "harness/matrix.h"
#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/table.h"

#ifndef LAB_COMPILATION_MODE
#define LAB_COMPILATION_MODE "unknown"
#endif

namespace lab {
namespace {

constexpr int kExitCellFailed = 1;

const char* kUsage = R"(usage: bazel run -c opt //harness:compare -- [flags]

Runs each (allocator, workload, threads) cell in fresh processes, repetitions
interleaved (A B C A B C ...), writes one results JSON (rewritten after every
run, so an interrupted run keeps what it measured) and prints a table.

Flags:
  --allocators=LIST    comma-separated allocators (default: all: {all})
  --workloads=LIST     comma-separated workloads (default: all: {workloads})
  --threads=LIST       comma-separated thread counts (default: 1,2)
  --reps=N             repetitions per cell, at least 1; use 5 or more to compare (default: 5)
  --ops=N              operations per run (default: each workload's own)
  --smoke              tiny runs, to check the setup (drivers' --smoke)
  --param=NAME=VALUE   pass --NAME=VALUE to every driver (repeatable); WORKLOAD.NAME=VALUE
                       to that workload's runs only, e.g. --param=mixed_lifo.batch=50
  --baseline=NAME      allocator the ratio column divides by (default: glibc)
  --out=FILE           results JSON (default: results/runs/compare-<UTC time>.json in the workspace)
  --resume             continue the interrupted run in --out (same matrix required)
  --timeout=SECONDS    per-run limit; a run past it is killed and its cell failed (default: 300)
  --callgrind          also count instructions per op under valgrind --tool=callgrind
                       (one run per cell, --callgrind-ops operations)
  --callgrind-ops=N    operations for the callgrind runs (default: 1000000)
  --report[=DIR]       then write the phase report (//analysis:report) into DIR
                       (default: results/reports/<name of --out>/ in the workspace)
  --help               this text

The bound variant (the speed-of-light reference) declines cells it cannot
measure honestly (several threads, blocks over 32 KiB, memory-return
workloads); such cells are shown as refused, with the reason, and are not
failures. Every other cell's ratio to bound is in the JSON and the table.

A cell that cannot run (an unknown allocator or workload name, parameters
its driver rejects, a driver that crashes or passes --timeout) gets a
one-line error, is marked failed in the JSON with the reason, and the other
cells still run. Errors that concern every cell (an unknown flag, --reps,
--ops or --threads out of range, an unknown --baseline, an --out that
cannot be written) stop compare before anything is measured.

Exit status: 0 all cells complete or refused; 1 a cell failed (others still
ran); 2 bad flags or set-up; 130 interrupted (results so far are in --out).
)";

struct Options {
  CompareConfig config;
  std::string out;
  bool resume = false;
  bool callgrind = false;
  int64_t callgrind_ops = 1'000'000;
  std::optional<std::string> report_dir;  // --report: "" means the default
};

// The workloads the drivers contain. Every driver holds every workload, so
// the first known allocator's --list speaks for all.
std::optional<std::vector<std::string>> list_workloads(const DriverLocator& locator, std::string* error) {
  const std::optional<std::string> driver = locator.path(known_allocators().front().driver(), error);
  if (!driver) return std::nullopt;
  const ProcessResult r = run_process({*driver, "--list"}, 60);
  if (!r.ok()) {
    *error = *driver + " --list " + r.describe_failure();
    return std::nullopt;
  }
  std::vector<std::string> names;
  std::istringstream in(r.stdout_text);
  for (std::string line; std::getline(in, line);) names.push_back(line.substr(0, line.find('\t')));
  return names;
}

// Arguments for one run of a cell's driver, after the driver's path.
std::vector<std::string> driver_args(const Cell& cell, const Options& o, bool callgrind) {
  std::vector<std::string> args = {"--workload=" + cell.workload, "--threads=" + std::to_string(cell.threads)};
  const std::optional<int64_t> ops = callgrind ? std::optional<int64_t>(o.callgrind_ops) : o.config.ops;
  if (ops) args.push_back("--ops=" + std::to_string(*ops));
  if (o.config.smoke && !ops) args.push_back("--smoke");
  for (const auto& [name, value] : o.config.params) {
    // "workload.flag" applies to that workload's cells only.
    const auto dot = name.find('.');
    if (dot == std::string::npos) args.push_back("--" + name + "=" + value);
    else if (name.substr(0, dot) == cell.workload) args.push_back("--" + name.substr(dot + 1) + "=" + value);
  }
  return args;
}

std::optional<Options> parse_options(int argc, char** argv, std::string* error, bool* help) {
  const std::optional<RawFlags> flags = read_flags(argc, argv, error);
  if (!flags) return std::nullopt;
  const RawFlags& raw = *flags;
  Options o;
  for (const AllocatorInfo& a : known_allocators()) o.config.allocators.push_back(a.name);
  o.config.threads = {1, 2};
  const IntFlagSpec reps_spec{"reps", 5, 1, 1000, ""};
  const IntFlagSpec ops_spec{"ops", 0, 1, int64_t{1} << 50, ""};
  const IntFlagSpec threads_spec{"threads", 1, 1, 1024, ""};
  const IntFlagSpec timeout_spec{"timeout", 300, 1, 86400, ""};
  const IntFlagSpec callgrind_ops_spec{"callgrind_ops", 1'000'000, 1, int64_t{1} << 40, ""};
  for (const auto& [name, value] : raw.pairs) {
    int64_t n = 0;
    std::optional<std::string> e;
    if (name == "help") {
      *help = true;
      return std::nullopt;
    } else if (name == "allocators") {
      o.config.allocators = split_list(value);
      if (o.config.allocators.empty()) e = "--allocators needs at least one name";
    } else if (name == "workloads") {
      o.config.workloads = split_list(value);
      if (o.config.workloads.empty()) e = "--workloads needs at least one name";
    } else if (name == "threads") {
      o.config.threads.clear();
      for (const std::string& t : split_list(value)) {
        if ((e = parse_int_flag(threads_spec, t, &n))) break;
        o.config.threads.push_back(static_cast<int>(n));
      }
      if (!e && o.config.threads.empty()) e = "--threads needs at least one count";
    } else if (name == "reps") {
      if (!(e = parse_int_flag(reps_spec, value, &n))) o.config.reps = static_cast<int>(n);
    } else if (name == "ops") {
      if (!(e = parse_int_flag(ops_spec, value, &n))) o.config.ops = n;
    } else if (name == "timeout") {
      if (!(e = parse_int_flag(timeout_spec, value, &n))) o.config.timeout_seconds = static_cast<double>(n);
    } else if (name == "callgrind_ops") {
      if (!(e = parse_int_flag(callgrind_ops_spec, value, &n))) o.callgrind_ops = n;
    } else if (name == "smoke") {
      o.config.smoke = true;
    } else if (name == "resume") {
      o.resume = true;
    } else if (name == "callgrind") {
      o.callgrind = true;
    } else if (name == "report") {
      o.report_dir = resolve_path(value);
    } else if (name == "baseline") {
      o.config.baseline = value;
    } else if (name == "out") {
      if (value.empty()) e = "--out needs a file name";
      o.out = resolve_path(value);
    } else if (name == "param") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) e = "--param takes NAME=VALUE, got '" + value + "'";
      else o.config.params[value.substr(0, eq)] = value.substr(eq + 1);
    } else {
      e = "unknown flag --" + name;
    }
    if (e) {
      *error = *e;
      return std::nullopt;
    }
  }
  if (o.out.empty()) o.out = default_out_path("compare");
  if (o.report_dir && o.report_dir->empty()) {
    const char* workspace = getenv("BUILD_WORKSPACE_DIRECTORY");
    o.report_dir = std::string(workspace != nullptr ? workspace : ".") + "/results/reports/" +
                   std::filesystem::path(o.out).stem().string();
  }
  return o;
}

int run(int argc, char** argv) {
  std::string error;
  bool help = false;
  auto parsed = parse_options(argc, argv, &error, &help);
  if (help) {
    std::string workloads = "(drivers not found)";
    std::string why;
    if (auto loc = DriverLocator::create(argv[0], &why))
      if (auto names = list_workloads(*loc, &why)) workloads = join(*names);
    std::string text = kUsage;
    text.replace(text.find("{all}"), 5, known_allocator_names());
    text.replace(text.find("{workloads}"), 11, workloads);
    fmt::print("{}", text);
    return 0;
  }
  if (!parsed) return usage_error(error + " (try --help)");
  Options o = *parsed;

  // A wrong allocator or workload name, or parameters a driver rejects,
  // fail their own cells, not the run: each problem gets a one-line error
  // now, the other cells are measured, the failed cells are in the JSON
  // with the reason, and the exit status is 1. Problems that concern every
  // cell (flags, --reps, --ops, --baseline, --out) stop the run before
  // anything is measured.
  if (std::string(LAB_COMPILATION_MODE) != "opt")
    fmt::print(stderr, "warning: this is a '{}' build, not -c opt: its numbers say little about the allocators' "
                       "speed (bazel run -c opt //harness:compare)\n", LAB_COMPILATION_MODE);
  if (find_allocator(o.config.baseline) == nullptr)
    return usage_error("unknown baseline allocator '" + o.config.baseline + "' (known: " + known_allocator_names() + ")");
  auto locator = DriverLocator::create(argv[0], &error);
  if (!locator) return usage_error(error);
  std::string report_tool;
  if (o.report_dir) {
    auto tool = locator->path("analysis/report", &error);
    if (!tool) return usage_error(error);
    report_tool = *tool;
  }
  std::map<std::string, std::string> driver_of;
  std::map<std::string, std::string> unknown;  // name -> why its cells fail
  for (const std::string& name : o.config.allocators) {
    const AllocatorInfo* a = find_allocator(name);
    if (a == nullptr) {
      unknown[name] = "unknown allocator '" + name + "' (known: " + known_allocator_names() + ")";
      continue;
    }
    auto path = locator->path(a->driver(), &error);
    if (!path) return usage_error(error);
    driver_of[a->name] = *path;
  }
  auto workloads = list_workloads(*locator, &error);
  if (!workloads) return usage_error(error);
  if (o.config.workloads.empty()) o.config.workloads = *workloads;
  for (const std::string& w : o.config.workloads) {
    if (std::find(workloads->begin(), workloads->end(), w) == workloads->end())
      unknown[w] = "unknown workload '" + w + "' (known: " + join(*workloads) + ")";
  }
  for (const auto& [name, why] : unknown) fmt::print(stderr, "error: {}; its cells are marked failed\n", why);

  ResultsFile results;
  if (o.resume) {
    auto loaded = load_results(o.out, &error);
    if (!loaded) return usage_error("cannot resume: " + error);
    if (!(loaded->config == o.config))
      return usage_error("cannot resume " + o.out + ": it was run with a different matrix or flags");
    results = std::move(*loaded);
  } else {
    if (std::filesystem::exists(o.out))
      return usage_error(o.out + " already exists (use --resume to continue it, or another --out)");
    results.created_utc = utc_now();
    results.machine = machine_info();
    results.build = build_info(LAB_COMPILATION_MODE);
    results.config = o.config;
    for (const std::string& w : o.config.workloads)
      for (int t : o.config.threads)
        for (const std::string& name : o.config.allocators) {
          const AllocatorInfo* a = find_allocator(name);
          Cell c;
          c.allocator = name;
          c.allocator_kind = a != nullptr ? a->kind : "unknown";
          c.workload = w;
          c.threads = t;
          for (const std::string& bad : {name, w})
            if (unknown.count(bad) != 0) c.failures.push_back({0, unknown.at(bad)});
          results.cells.push_back(c);
        }
  }
  MatrixRun matrix;
  matrix.results = &results;
  matrix.driver_of = driver_of;
  matrix.args = [&o](const Cell& cell, bool callgrind) { return driver_args(cell, o, callgrind); };
  matrix.timeout_seconds = o.config.timeout_seconds;
  matrix.reps = o.config.reps;
  // Parameter errors show up here, before any timing; each fails its cells.
  for (const std::string& why : dry_run_cells(matrix))
    fmt::print(stderr, "error: {}; the cells given it are marked failed\n", why);

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(o.out).parent_path(), ec);
  auto save = [&](const char* status) {
    results.status = status;
    results.updated_utc = utc_now();
    std::string why;
    if (write_atomically(o.out, results.to_json().dump(1) + "\n", &why)) return true;
    fmt::print(stderr, "error: {}\n", why);
    return false;
  };
  if (!save("running")) return kExitUsage;  // unwritable --out: nothing measured yet

  matrix.save = [&] { return save("running"); };
  install_stop_handlers();
  int total = static_cast<int>(results.cells.size()) * o.config.reps;
  if (o.callgrind) total += static_cast<int>(results.cells.size());
  Progress progress(total);
  bool write_failed = !run_interleaved(matrix, progress);
  if (o.callgrind && !stop_requested())
    write_failed = !count_instructions(matrix, progress, [](const Cell&) { return true; }) || write_failed;
  progress.finish();

  const bool interrupted = stop_requested();
  if (!save(interrupted ? "interrupted" : "complete") || write_failed) {
    // Never lose what was measured: fall back to a file we can write.
    const std::string rescue = "/tmp/hakmem-compare-rescue-" + std::to_string(getpid()) + ".json";
    std::string why;
    if (write_atomically(rescue, results.to_json().dump(1) + "\n", &why))
      fmt::print(stderr, "error: results could not be written to {}; saved to {}\n", o.out, rescue);
    else
      fmt::print(stderr, "error: results could not be saved anywhere: {}\n", why);
  }
  fmt::print("{}", render_table(results));
  fmt::print("\nresults: {}\n", o.out);
  if (interrupted) {
    fmt::print(stderr, "interrupted: completed runs are in {} (continue with --resume --out={})\n", o.out, o.out);
    return kExitInterrupted;
  }
  bool report_failed = false;
  if (o.report_dir) {
    const ProcessResult r = run_process({report_tool, "--results", o.out, "--out", *o.report_dir}, 600);
    fmt::print("{}", r.stdout_text);
    if (!r.ok()) {
      fmt::print(stderr, "{}", r.stderr_tail);
      fmt::print(stderr, "error: the report {}\n", r.exit_code == 1 ? "was written with parts missing" : r.describe_failure());
      report_failed = true;
    }
  }
  int failed = 0;
  for (const Cell& c : results.cells) {
    failed += c.status(o.config.reps) == "failed";
    if (c.refused) fmt::print(stderr, "refused: {}: {}\n", c.key(), *c.refused);
  }
  if (failed > 0) {
    fmt::print(stderr, "{} cell{} failed; see the table and the \"failures\" in {}\n", failed, failed == 1 ? "" : "s",
               o.out);
    return kExitCellFailed;
  }
  return write_failed || report_failed ? kExitCellFailed : 0;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::run(argc, argv); }
