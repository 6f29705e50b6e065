// compare: runs every (allocator, workload, threads) cell of a matrix in
// fresh processes, repetitions interleaved (A B C A B C ...), and writes
// one results JSON, rewritten atomically after every run, then prints the
// table. See --help.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "harness/cli.h"
#include "harness/drivers.h"
#include "harness/flag_table.h"
#include "harness/machine.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/shard.h"
#include "harness/subprocess.h"
#include "harness/table.h"

#ifndef LAB_COMPILATION_MODE
#define LAB_COMPILATION_MODE "unknown"
#endif

namespace lab {
namespace {

constexpr int kExitCellFailed = 1;

const char* kIntro = R"(usage: bazel run -c opt //harness:compare -- [flags]

Runs each (allocator, workload, threads) cell in fresh processes, repetitions
interleaved (A B C A B C ...), writes one results JSON (rewritten after every
run, so an interrupted run keeps what it measured) and prints a table.

)";

const char* kOutro = R"(
The bound variant (the speed-of-light reference) declines cells it cannot
measure honestly (several threads, blocks beyond its declared limits,
memory-return workloads); such cells are shown as refused, with the reason,
and are not failures. Every other cell's ratio to bound is in the JSON and
the table.

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
  CompareConfig config;  // allocators, workloads, threads, ops, smoke, params, baseline
  MatrixFlags matrix{5, 300};  // --reps, --timeout
  bool callgrind = false;
  int64_t callgrind_ops = 1'000'000;
  TableOptions table;
  std::optional<std::string> report_dir;  // --report: "" means the default
  // --hakmem-env: each hakmem allocator once per value, in order.
  HakmemEnv hakmem_env;
  // Workloads whose length is their --minutes (soak), from the drivers' --list.
  std::set<std::string> minute_workloads;
  std::optional<ShardSpec> shard;  // --shard=K/N
  bool dry_run = false;            // --dry-run: check and plan, measure nothing
  bool build_info = false;         // --build-info: print the build facts a results file records
};

// compare's defaults, each written once; --help shows them from here.
Options default_options() {
  Options o;
  for (const AllocatorInfo& a : known_allocators()) o.config.allocators.push_back(a.name);
  // config.workloads stays empty: every workload the drivers hold, less
  // those whose length is minutes (soak: named to be run).
  o.config.threads = {1, 2};
  o.config.modes = {kLinkedMode, kPreloadMode};
  o.config.baseline = "glibc";
  return o;
}

// The workloads the drivers contain, and which of them are measured in
// minutes (a third column "minutes"). Every driver holds every workload, so
// the first known allocator's --list speaks for all.
struct WorkloadList {
  std::vector<std::string> names;
  std::set<std::string> in_minutes;
};
std::optional<WorkloadList> list_workloads(const char* argv0, std::string* error) {
  const auto locator = DriverLocator::create(argv0, error);
  if (!locator) return std::nullopt;
  const std::optional<std::string> driver = locator->path(known_allocators().front().driver(), error);
  if (!driver) return std::nullopt;
  const ProcessResult r = run_process({*driver, "--list"}, 60);
  if (!r.ok()) {
    *error = *driver + " --list " + r.describe_failure();
    return std::nullopt;
  }
  WorkloadList list;
  std::istringstream in(r.stdout_text);
  for (std::string line; std::getline(in, line);) {
    const std::string name = line.substr(0, line.find('\t'));
    list.names.push_back(name);
    if (line.size() > 8 && line.compare(line.size() - 8, 8, "\tminutes") == 0) list.in_minutes.insert(name);
  }
  return list;
}

// Arguments for one run of a cell's driver, after the driver's path.
std::vector<std::string> driver_args(const Cell& cell, const Options& o, bool callgrind) {
  std::vector<std::string> args = {"--workload=" + cell.workload, "--threads=" + std::to_string(cell.threads)};
  std::optional<int64_t> ops = callgrind ? std::optional<int64_t>(o.callgrind_ops) : o.config.ops;
  if (o.minute_workloads.count(cell.workload) != 0) ops.reset();  // its length is --minutes
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

// Every flag of compare, bound to the option it sets; --help is made from it.
FlagTable flag_table(Options* o, const std::string& workloads_default) {
  FlagTable t;
  t.list("allocators", &o->config.allocators, "comma-separated allocators", "all: " + known_allocator_names());
  t.list("workloads", &o->config.workloads, "comma-separated workloads", "all: " + workloads_default);
  t.int_list("threads", &o->config.threads, 1, 1024, "comma-separated thread counts");
  t.custom("modes", "LIST",
           "comma-separated: linked (each allocator's own driver; hakmem's fast path inlined into it) and preload "
           "(one glibc-linked driver under LD_PRELOAD of each allocator's library: quote allocator ratios from "
           "these); hakmem variants run in each, the others once",
           join(o->config.modes), [o](const std::string& value) -> std::optional<std::string> {
             o->config.modes = split_list(value);
             for (const std::string& m : o->config.modes)
               if (m != kLinkedMode && m != kPreloadMode)
                 return "--modes takes linked and preload, got '" + m + "'";
             if (o->config.modes.empty()) return std::string("--modes needs at least one mode");
             return std::nullopt;
           });
  MatrixFlagRules rules("results JSON");
  rules.out_default = "results/runs/compare-<UTC time>.json in the workspace";
  rules.resume = true;
  add_matrix_flags(t, &o->matrix, rules);
  t.optional_integer("ops", &o->config.ops, 1, int64_t{1} << 50, "operations per run", "each workload's own");
  t.toggle("smoke", &o->config.smoke, "tiny runs, to check the setup (drivers' --smoke)");
  t.custom("param", "NAME=VALUE",
           "pass --NAME=VALUE to every driver; WORKLOAD.NAME=VALUE to that workload's runs only, e.g. "
           "--param=mixed_lifo.batch=50",
           "", [o](const std::string& value) -> std::optional<std::string> {
             const auto eq = value.find('=');
             if (eq == std::string::npos || eq == 0) return "--param takes NAME=VALUE, got '" + value + "'";
             o->config.params[value.substr(0, eq)] = value.substr(eq + 1);
             return std::nullopt;
           }, /*repeatable=*/true);
  t.custom("library", "NAME=PATH",
           "also run allocator NAME from the malloc library at PATH, in preload mode (another build of a variant, "
           "to compare two builds in one interleaved run; NAME is added to --allocators and can be the --baseline)",
           "", [o](const std::string& value) -> std::optional<std::string> {
             const auto eq = value.find('=');
             if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
               return "--library takes NAME=PATH, got '" + value + "'";
             o->config.libraries[value.substr(0, eq)] = resolve_path(value.substr(eq + 1));
             return std::nullopt;
           }, /*repeatable=*/true);
  add_hakmem_env_flag(&t, &o->hakmem_env);
  t.text("baseline", "NAME", &o->config.baseline, "allocator the ratio column divides by");
  t.toggle("callgrind", &o->callgrind,
           "also count instructions per op under valgrind --tool=callgrind (one run per cell, --callgrind-ops "
           "operations)");
  t.integer("callgrind-ops", &o->callgrind_ops, 1, int64_t{1} << 40, "operations for the callgrind runs");
  t.toggle("latency", &o->table.latency,
           "add malloc and free p99 / p99.9 columns (ns) to the table (every run samples them; the JSON has all)");
  t.custom("shard", "K/N",
           "run only shard K of N of the matrix: its (workload, threads) groups, each with all its allocators and "
           "modes (ratios stay within one machine), dealt to the shards by expected run time; the results file "
           "records K, N and every group's shard (harness:merge joins the shards)",
           "", [o](const std::string& value) -> std::optional<std::string> {
             std::string error;
             o->shard = parse_shard(value, &error);
             if (!o->shard) return error;
             return std::nullopt;
           });
  t.toggle("dry-run", &o->dry_run,
           "check the flags and every cell's parameters with its driver (with --shard, the cells of every shard), "
           "print the plan (with --shard, every shard's groups and expected time) and stop: nothing is measured or "
           "written");
  t.toggle("build-info", &o->build_info,
           "print the build facts a results file records (compiler, mode, git commit, dirty) as JSON and stop; "
           "a file of them named by LAB_BUILD_INFO is recorded instead of the workspace's (tools/lab slurm)");
  t.custom("report", "DIR", "then write the phase report (//analysis:report) into DIR; --report alone: the default",
           "results/reports/<name of --out>/ in the workspace",
           [o](const std::string& value) -> std::optional<std::string> {
             o->report_dir = value.empty() ? value : resolve_path(value);
             return std::nullopt;
           });
  return t;
}

// Reads the command line into *o. Returns an exit code when compare is
// done already (--help, bad flags), else nullopt.
std::optional<int> parse_command_line(int argc, char** argv, Options* o) {
  bool help = false;
  // --help lists the workloads the drivers hold; a run lists them later.
  if (auto e = flag_table(o, "the drivers' --list").parse(argc, argv, &help)) return usage_error(*e + " (try --help)");
  if (help) {
    std::string error;
    const auto workloads = list_workloads(argv[0], &error);
    Options shown = default_options();
    std::string all = "(drivers not found)";
    if (workloads) {
      std::vector<std::string> by_default;
      for (const std::string& w : workloads->names)
        if (workloads->in_minutes.count(w) == 0) by_default.push_back(w);
      all = join(by_default);
      if (!workloads->in_minutes.empty())
        all += "; named only: " + join({workloads->in_minutes.begin(), workloads->in_minutes.end()}) +
               " (minutes a cell, --param=soak.minutes=N)";
    }
    fmt::print("{}{}{}", kIntro, flag_table(&shown, all).usage(), kOutro);
    return 0;
  }
  o->config.reps = o->matrix.reps;
  o->config.timeout_seconds = static_cast<double>(o->matrix.timeout_seconds);
  resolve_out(&o->matrix, "compare");
  if (o->report_dir && o->report_dir->empty()) {
    const char* workspace = getenv("BUILD_WORKSPACE_DIRECTORY");
    o->report_dir = std::string(workspace != nullptr ? workspace : ".") + "/results/reports/" +
                    std::filesystem::path(o->matrix.out).stem().string();
  }
  return std::nullopt;
}

// The minutes a soak-like workload's cells run: its --param, else 1.
int64_t minutes_of(const std::string& workload, const CompareConfig& config) {
  for (const std::string& key : {workload + ".minutes", std::string("minutes")}) {
    const auto it = config.params.find(key);
    if (it != config.params.end()) return std::atoll(it->second.c_str());
  }
  return 1;
}

// The workloads the run names, checked against the drivers' list; an
// unknown one goes to *unknown (its cells fail alone), and so does a
// workload measured in minutes that cannot finish within --timeout. An
// error concerns every cell.
std::optional<std::string> resolve_workloads(const char* argv0, Options* o,
                                             std::map<std::string, std::string>* unknown) {
  CompareConfig* config = &o->config;
  std::string error;
  const auto workloads = list_workloads(argv0, &error);
  if (!workloads) return error;
  o->minute_workloads = workloads->in_minutes;
  if (config->workloads.empty())
    for (const std::string& w : workloads->names)
      if (workloads->in_minutes.count(w) == 0) config->workloads.push_back(w);
  for (const std::string& w : config->workloads) {
    if (std::find(workloads->names.begin(), workloads->names.end(), w) == workloads->names.end()) {
      (*unknown)[w] = "unknown workload '" + w + "' (known: " + join(workloads->names) + ")";
      continue;
    }
    if (workloads->in_minutes.count(w) == 0) continue;
    // The run itself, its set-up and its one-second settle step.
    const int64_t minutes = minutes_of(w, *config);
    if (static_cast<double>(minutes) * 60 + 30 > config->timeout_seconds)
      (*unknown)[w] = fmt::format("--param={}.minutes={}: a {}-minute run cannot finish within --timeout={:.0f} s "
                                  "(raise --timeout above {} s)",
                                  w, minutes, minutes, config->timeout_seconds, minutes * 60 + 30);
  }
  return std::nullopt;
}

// Runs //analysis:report on the results; false when it could not write it whole.
bool write_report(const std::string& tool, const Options& o) {
  const ProcessResult r = run_process({tool, "--results", o.matrix.out, "--out", *o.report_dir}, 600);
  fmt::print("{}", r.stdout_text);
  fflush(stdout);
  if (r.ok()) return true;
  fmt::print(stderr, "{}", r.stderr_tail);
  fmt::print(stderr, "error: the report {}\n", r.exit_code == 1 ? "was written with parts missing" : r.describe_failure());
  return false;
}

// --dry-run: what a run of these flags would do, and whether every cell of
// the whole matrix can run (with --shard too: the check before a job is
// queued must reach the cells of every shard); then, with --shard, the
// plan of every shard. Exit 0 when all can run, 1 when some would fail
// (each reason once).
int print_plan(const std::vector<std::string>& bad_params, ResultsFile* results, const Options& o) {
  for (const std::string& why : bad_params) fmt::print(stderr, "error: {}; the cells given it would fail\n", why);
  int runnable = 0, refused = 0;
  for (const Cell& c : results->cells) {
    if (c.refused) ++refused;
    else if (c.failures.empty()) ++runnable;
  }
  const int failing = static_cast<int>(results->cells.size()) - runnable - refused;
  fmt::print("dry run: {} cells ({} to run, {} refused, {} failing), {} reps each; nothing measured or written\n",
             results->cells.size(), runnable, refused, failing, o.config.reps);
  if (o.shard) {
    apply_shard(results, *o.shard);
    fmt::print("{}", describe_shards(*results->shard));
  }
  return failing > 0 ? kExitCellFailed : 0;
}

int run(int argc, char** argv) {
  Options o = default_options();
  if (auto done = parse_command_line(argc, argv, &o)) return *done;
  if (o.build_info) {
    fmt::print("{}\n", build_info(LAB_COMPILATION_MODE).dump(1));
    return 0;
  }
  std::string pin_error;
  const std::optional<Json> pinned_build = pinned_build_info(&pin_error);
  if (!pin_error.empty()) return usage_error(pin_error);

  // A wrong allocator or workload name, or parameters a driver rejects,
  // fail their own cells, not the run: each problem gets a one-line error
  // now, the other cells are measured, the failed cells are in the JSON
  // with the reason, and the exit status is 1. Problems that concern every
  // cell (flags, --reps, --ops, --baseline, --out) stop the run before
  // anything is measured.
  if (std::string(LAB_COMPILATION_MODE) != "opt")
    fmt::print(stderr, "warning: this is a '{}' build, not -c opt: its numbers say little about the allocators' "
                       "speed (bazel run -c opt //harness:compare)\n", LAB_COMPILATION_MODE);
  for (const auto& [name, path] : o.config.libraries) {
    if (auto e = add_library_allocator(name, path)) return usage_error(*e);
    if (std::find(o.config.allocators.begin(), o.config.allocators.end(), name) == o.config.allocators.end())
      o.config.allocators.push_back(name);
  }
  if (!o.config.libraries.empty() &&
      std::find(o.config.modes.begin(), o.config.modes.end(), kPreloadMode) == o.config.modes.end())
    return usage_error("--library allocators run in preload mode only, and --modes leaves it out");
  bool settings = false;
  if (auto e = apply_hakmem_env(o.hakmem_env, o.config.baseline, &o.config.allocators, &settings))
    return usage_error(*e);
  if (settings && std::find(o.config.modes.begin(), o.config.modes.end(), kPreloadMode) == o.config.modes.end())
    return usage_error("allocators with settings (VARIANT[key=value]) run in preload mode only, and --modes leaves "
                       "it out");
  if (find_allocator(o.config.baseline) == nullptr)
    return usage_error("unknown baseline allocator '" + o.config.baseline + "' (known: " + known_allocator_names() + ")");
  std::string error;
  std::string report_tool;
  if (o.report_dir) {
    const auto locator = DriverLocator::create(argv[0], &error);
    const auto tool = locator ? locator->path("analysis/report", &error) : std::nullopt;
    if (!tool) return usage_error(error);
    report_tool = *tool;
  }
  DriverMatrix matrix;
  std::map<std::string, std::string> unknown;  // name -> why its cells fail
  if (auto e = matrix.locate(argv[0], o.config.allocators, o.config.modes, &unknown)) return usage_error(*e);
  if (auto e = resolve_workloads(argv[0], &o, &unknown)) return usage_error(*e);
  for (const auto& [name, why] : unknown) fmt::print(stderr, "error: {}; its cells are marked failed\n", why);

  std::optional<ResultsFile> opened = open_results(o.matrix, o.config, LAB_COMPILATION_MODE, unknown, &error);
  if (!opened) return usage_error(error);
  ResultsFile& results = *opened;
  if (o.matrix.resume) {
    if (results.shard.has_value() != o.shard.has_value() || (o.shard && results.shard->spec != *o.shard))
      return usage_error("cannot resume " + o.matrix.out + ": it was run " +
                         (results.shard ? fmt::format("as --shard={}/{}", results.shard->spec.k, results.shard->spec.n)
                                        : std::string("without --shard")));
  } else {
    if (pinned_build) results.build = *pinned_build;
    if (o.shard && !o.dry_run) apply_shard(&results, *o.shard);  // a dry run checks the whole matrix
  }
  matrix.results = &results;
  matrix.refuse_cells_without_library();
  matrix.args = [&o](const Cell& cell, bool callgrind) { return driver_args(cell, o, callgrind); };
  matrix.timeout_seconds = o.config.timeout_seconds;
  matrix.reps = o.config.reps;
  if (o.callgrind) matrix.callgrind = [](const Cell&) { return true; };
  if (o.dry_run) return print_plan(matrix.dry_run(), &results, o);
  OutputFile out = results_output(o.matrix.out, &results);
  if (auto e = out.create(o.matrix.resume, true)) return usage_error(*e);  // nothing measured yet
  // Parameter errors show up here, before any timing; each fails its cells.
  for (const std::string& why : matrix.dry_run())
    fmt::print(stderr, "error: {}; the cells given it are marked failed\n", why);
  const MatrixEnd end = matrix.run(out);

  // Every diagnostic goes to stderr before the table starts, so the two
  // streams never interleave on a terminal; refusals are in the table.
  if (end.interrupted)
    fmt::print(stderr, "interrupted: completed runs are in {} (continue with --resume --out={})\n", o.matrix.out,
               o.matrix.out);
  const int failed = report_failed_cells(results, o.config.reps, o.matrix.out);
  fflush(stderr);
  fmt::print("{}\nresults: {}\n", render_table(results, o.table), o.matrix.out);
  fflush(stdout);
  if (end.interrupted) return kExitInterrupted;
  const bool report_ok = !o.report_dir || write_report(report_tool, o);
  return failed > 0 || !end.saved || !report_ok ? kExitCellFailed : 0;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::run(argc, argv); }
