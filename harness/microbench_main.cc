// microbench: runs every allocator's Google Benchmark binary in fresh
// processes, repetitions interleaved across allocators, and merges their
// output into one file in Google Benchmark's own JSON format. See --help.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "harness/cli.h"
#include "harness/drivers.h"
#include "harness/flag_table.h"
#include "harness/machine.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/stats.h"
#include "harness/subprocess.h"

#ifndef LAB_COMPILATION_MODE
#define LAB_COMPILATION_MODE "unknown"
#endif

namespace lab {
namespace {

const char* kIntro = R"(usage: bazel run -c opt //harness:microbench -- [flags]

Nanoseconds per malloc+free pair for each allocator: sizes 16, 64, 256 and
1024 B (tiny), 8 KiB (mid), 64, 256 and 512 KiB (L25: 32 KiB to 2 MiB) and
4 MiB (large); batches freed in LIFO, FIFO and random order. Each allocator's
benchmarks run in a fresh process, repetitions interleaved (A B C A B C ...).

Modes, as in compare: "linked" runs each allocator's own benchmark binary
(hakmem's fast path inlined into it); "preload" runs the glibc-linked binary
under LD_PRELOAD of each allocator's library, so every allocator runs the
same code: quote allocator ratios from it. The peers run once (preloaded
when preload is asked for); bound has no library and runs linked only.

The output is one Google Benchmark JSON file: an "iteration" entry per
repetition and a "_median" aggregate per benchmark, named
<allocator>/<order>/<size> (<variant>@preload/... for a hakmem variant's
preload runs), with "variant" (the allocator) and "mode" as fields, so
Google Benchmark's tools/compare.py can compare two runs.

)";

const char* kOutro = R"(
Exit status: 0 every allocator ran; 1 some failed (the others are in --out);
2 bad flags; 130 interrupted (what ran is in --out).
)";

// The "hakmem_lab" context's own version (the rest is Google Benchmark's).
constexpr int kMicrobenchVersion = 1;

struct Options {
  std::vector<std::string> allocators;  // default: every known allocator
  std::vector<std::string> modes = {kLinkedMode, kPreloadMode};
  MatrixFlags matrix{3, 600};  // --reps, --timeout
  double min_time = 0.1;
  std::string filter;
};

Options default_options() {
  Options o;
  for (const AllocatorInfo& a : known_allocators()) o.allocators.push_back(a.name);
  return o;
}

FlagTable flag_table(Options* o) {
  FlagTable t;
  t.list("allocators", &o->allocators, "comma-separated allocators", "all: " + known_allocator_names());
  t.custom("modes", "LIST",
           "linked (each allocator's own binary) and/or preload (the glibc binary under LD_PRELOAD of each "
           "allocator's library: the same code for every allocator)",
           join(o->modes), [o](const std::string& value) -> std::optional<std::string> {
             o->modes = split_list(value);
             for (const std::string& m : o->modes)
               if (m != kLinkedMode && m != kPreloadMode) return "--modes takes linked and preload, got '" + m + "'";
             if (o->modes.empty()) return std::string("--modes needs at least one mode");
             return std::nullopt;
           });
  MatrixFlagRules rules("output JSON (Google Benchmark's format)");
  rules.out_default = "results/runs/microbench-<UTC time>.json in the workspace";
  rules.max_reps = 100;
  rules.reps_help = "repetitions per allocator";
  add_matrix_flags(t, &o->matrix, rules);
  t.number("min-time", &o->min_time, 0, 60, "Google Benchmark's minimum time per benchmark, in seconds");
  t.text("filter", "REGEX", &o->filter, "only benchmarks whose <order>/<size> name matches, e.g. 'lifo/(16|256)$'",
         "all");
  return t;
}

struct Merged {
  Json context;
  Json benchmarks = Json::array();  // iteration entries, in run order
  std::vector<std::string> failures;
};

Json to_json(const Merged& m, int reps) {
  Json out;
  out["context"] = m.context;
  Json benchmarks = m.benchmarks;
  std::map<std::string, std::vector<Json>> groups;
  for (const Json& b : m.benchmarks)
    if (!b.value("error_occurred", false)) groups[b["name"]].push_back(b);
  // Aggregates in Google Benchmark's shape: one "_median" per benchmark.
  for (const Json& first : m.benchmarks) {
    const std::string name = first["name"];
    auto it = groups.find(name);
    if (it == groups.end()) continue;
    std::vector<double> real, cpu;
    for (const Json& b : it->second) {
      real.push_back(b["real_time"].get<double>());
      cpu.push_back(b["cpu_time"].get<double>());
    }
    Json agg = first;
    agg["name"] = name + "_median";
    agg["run_type"] = "aggregate";
    agg["aggregate_name"] = "median";
    agg["repetitions"] = reps;
    agg["iterations"] = static_cast<int64_t>(it->second.size());
    agg["real_time"] = quantile(real, 0.5);
    agg["cpu_time"] = quantile(cpu, 0.5);
    agg.erase("repetition_index");
    agg.erase("items_per_second");
    benchmarks.push_back(agg);
    groups.erase(it);
  }
  out["benchmarks"] = benchmarks;
  if (!m.failures.empty()) out["context"]["hakmem_lab"]["failures"] = m.failures;
  return out;
}

// One process per repetition: an allocator in one mode.
struct Unit {
  const AllocatorInfo* allocator;
  std::string mode;
  std::string label;   // the name's prefix: the allocator, "<variant>@preload" for a variant preloaded
  std::string binary;  // the benchmark binary's path
  std::vector<std::string> env;  // LD_PRELOAD=... in preload mode
};

// Adds one unit's Google Benchmark output (repetition `rep_index`, from 0)
// to the merged file.
void merge(Merged* merged, const Json& part, const Unit& unit, int rep_index, int reps) {
  const AllocatorInfo& a = *unit.allocator;
  if (merged->context.size() == 1) {
    for (auto it = part["context"].begin(); it != part["context"].end(); ++it)
      if (it.key() != "allocator" && it.key() != "allocator_kind" && it.key() != "executable")
        merged->context[it.key()] = it.value();
  }
  for (Json b : part["benchmarks"]) {
    const std::string original = b["name"];
    b["benchmark"] = original;
    b["name"] = unit.label + "/" + original;
    b["run_name"] = b["name"];
    b["variant"] = a.name;
    b["mode"] = unit.mode;
    b["allocator_kind"] = a.kind;
    b["repetitions"] = reps;
    b["repetition_index"] = rep_index;
    b["run_type"] = "iteration";
    b.erase("label");
    merged->benchmarks.push_back(b);
  }
}

// ns per pair: rows are order/size, columns units.
std::string render(const Json& merged, const std::vector<Unit>& units) {
  std::map<std::string, std::map<std::string, double>> table;
  std::vector<std::string> rows;
  for (const Json& b : merged["benchmarks"]) {
    if (b.value("aggregate_name", "") != "median") continue;
    const std::string row = b["benchmark"];
    if (!table.count(row)) rows.push_back(row);
    const std::string name = b["name"];
    table[row][name.substr(0, name.find('/'))] = b["real_time"].get<double>();
  }
  std::string out = fmt::format(
      "\nns per malloc+free pair (median of repetitions; - = not served: the allocator declares it cannot)\n{:<14}",
      "order/size");
  for (const Unit& u : units) out += fmt::format(" {:>20}", u.label);
  out += "\n";
  for (const std::string& row : rows) {
    out += fmt::format("{:<14}", row);
    for (const Unit& u : units) {
      auto it = table[row].find(u.label);
      out += it == table[row].end() ? fmt::format(" {:>20}", "-") : fmt::format(" {:>20.2f}", it->second);
    }
    out += "\n";
  }
  return out;
}

int run(int argc, char** argv) {
  Options o = default_options();
  bool help = false;
  const FlagTable flags = flag_table(&o);
  if (auto e = flags.parse(argc, argv, &help)) return usage_error(*e + " (try --help)");
  if (help) {
    Options shown = default_options();
    fmt::print("{}{}{}", kIntro, flag_table(&shown).usage(), kOutro);
    return 0;
  }
  resolve_out(&o.matrix, "microbench");
  std::string error;
  const auto allocators = resolve_allocators(o.allocators, &error);
  if (!allocators) return usage_error(error);
  auto locator = DriverLocator::create(argv[0], &error);
  if (!locator) return usage_error(error);
  std::vector<Unit> units;
  for (const AllocatorInfo* a : *allocators) {
    for (const std::string& mode : o.modes) {
      if (!measured_in_mode(*a, mode, o.modes)) continue;
      Unit u{a, mode, a->name, "", {}};
      if (mode == kPreloadMode) {
        if (!has_preload_library(*a, &error)) {
          // bound: measured linked when linked is asked for, else an error.
          if (std::find(o.modes.begin(), o.modes.end(), kLinkedMode) != o.modes.end()) continue;
          return usage_error(error);
        }
        const auto library = preload_library(*a, &error);
        if (!library) return usage_error(error);
        if (!library->empty()) u.env.push_back("LD_PRELOAD=" + *library);
        if (a->kind == "hakmem") u.label += "@preload";
      }
      const AllocatorInfo* binary_of = mode == kPreloadMode ? find_allocator("glibc") : a;
      auto path = locator->path(binary_of->microbench(), &error);
      if (!path) return usage_error(error);
      u.binary = *path;
      units.push_back(std::move(u));
    }
  }

  const std::string min_time = fmt::format("{}", o.min_time);
  Merged merged;
  merged.context["hakmem_lab"] = {{"schema_version", kMicrobenchVersion},
                                  {"kind", "hakmem-lab/microbench"},
                                  {"created_utc", utc_now()},
                                  {"machine", machine_info()},
                                  {"build", build_info(LAB_COMPILATION_MODE)},
                                  {"config",
                                   {{"allocators", o.allocators},
                                    {"modes", o.modes},
                                    {"reps", o.matrix.reps},
                                    {"min_time", min_time},
                                    {"filter", o.filter}}}};
  OutputFile out(o.matrix.out, [&] { return to_json(merged, o.matrix.reps).dump(1) + "\n"; });
  if (auto e = out.create(false, false)) return usage_error(*e);

  install_stop_handlers();
  std::set<std::string> failed;
  Progress progress(o.matrix.reps * static_cast<int>(units.size()));
  const auto done = [&](int unit, int) { return failed.count(units[static_cast<size_t>(unit)].label) != 0; };
  const auto run_one = [&](int index, int rep) {
    const Unit& unit = units[static_cast<size_t>(index)];
    const std::string tmp = o.matrix.out + ".part-" + unit.label;
    std::vector<std::string> args = {unit.binary, "--benchmark_format=console", "--benchmark_out_format=json",
                                     "--benchmark_out=" + tmp, "--benchmark_min_time=" + min_time};
    if (!o.filter.empty()) args.push_back("--benchmark_filter=" + o.filter);
    const ProcessResult r = run_process(args, static_cast<double>(o.matrix.timeout_seconds), unit.env, stop_flag());
    RunReport report{fmt::format("rep {}/{} {}", rep, o.matrix.reps, unit.label), r.wall_seconds, r.interrupted};
    Json part;
    std::string why;
    if (!r.ok()) {
      why = r.describe_failure();
    } else {
      try {
        std::ifstream in(tmp);
        part = Json::parse(in);
      } catch (const std::exception& e) {
        why = std::string("its output is not Google Benchmark JSON: ") + e.what();
      }
    }
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    if (report.interrupted) return report;
    if (!why.empty()) {
      failed.insert(unit.label);
      merged.failures.push_back(unit.label + ": " + why);
      report.line += " FAILED: " + why;
      return report;
    }
    merge(&merged, part, unit, rep - 1, o.matrix.reps);
    return report;
  };
  interleave(static_cast<int>(units.size()), o.matrix.reps, progress, done, run_one, out);
  progress.finish();
  out.finish();
  const Json final_json = to_json(merged, o.matrix.reps);
  fflush(stderr);
  fmt::print("{}", render(final_json, units));
  fmt::print("\nresults: {}\n", o.matrix.out);
  if (stop_requested()) {
    fmt::print(stderr, "interrupted: the repetitions that finished are in {}\n", o.matrix.out);
    return kExitInterrupted;
  }
  return failed.empty() ? 0 : 1;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::run(argc, argv); }
