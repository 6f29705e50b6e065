// microbench: runs every allocator's Google Benchmark binary in fresh
// processes, repetitions interleaved across allocators, and merges their
// output into one file in Google Benchmark's own JSON format. See --help.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/flags.h"
#include "harness/cli.h"
#include "harness/drivers.h"
#include "harness/machine.h"
#include "harness/results.h"
#include "harness/stats.h"
#include "harness/subprocess.h"

#ifndef LAB_COMPILATION_MODE
#define LAB_COMPILATION_MODE "unknown"
#endif

namespace lab {
namespace {

const char* kUsage = R"(usage: bazel run -c opt //harness:microbench -- [flags]

Nanoseconds per malloc+free pair for each allocator: sizes 16, 64, 256 and
1024 B (tiny), 8 KiB (mid) and 256 KiB (large); batches freed in LIFO, FIFO
and random order. Each allocator's benchmarks run in a fresh process,
repetitions interleaved (A B C A B C ...). The output is one Google Benchmark
JSON file: an "iteration" entry per repetition and a "_median" aggregate per
benchmark, named <allocator>/<order>/<size>, with "variant" (the allocator)
as a field, so Google Benchmark's tools/compare.py can compare two runs.

Flags:
  --allocators=LIST   comma-separated (default: all: {all})
  --reps=N            repetitions per allocator, at least 1 (default: 3)
  --min-time=SECONDS  Google Benchmark's minimum time per benchmark (default: 0.1)
  --filter=REGEX      only benchmarks whose <order>/<size> name matches, e.g. 'lifo/(16|256)$'
  --out=FILE          output JSON (default: results/runs/microbench-<UTC time>.json in the workspace)
  --timeout=SECONDS   per-process limit (default: 600)
  --help              this text

Exit status: 0 every allocator ran; 1 some failed (the others are in --out);
2 bad flags; 130 interrupted (what ran is in --out).
)";

struct Options {
  std::vector<std::string> allocators;
  int reps = 3;
  std::string min_time = "0.1";
  std::string filter;
  std::string out;
  double timeout = 600;
};

std::optional<Options> parse(int argc, char** argv, std::string* error, bool* help) {
  const std::optional<RawFlags> flags = read_flags(argc, argv, error);
  if (!flags) return std::nullopt;
  const RawFlags& raw = *flags;
  Options o;
  for (const AllocatorInfo& a : known_allocators()) o.allocators.push_back(a.name);
  for (const auto& [name, value] : raw.pairs) {
    int64_t n = 0;
    std::optional<std::string> e;
    if (name == "help") {
      *help = true;
      return std::nullopt;
    } else if (name == "allocators") {
      o.allocators = split_list(value);
      if (o.allocators.empty()) e = "--allocators needs at least one name";
    } else if (name == "reps") {
      if (!(e = parse_int_flag({"reps", 3, 1, 100, ""}, value, &n))) o.reps = static_cast<int>(n);
    } else if (name == "timeout") {
      if (!(e = parse_int_flag({"timeout", 600, 1, 86400, ""}, value, &n))) o.timeout = static_cast<double>(n);
    } else if (name == "min_time") {
      char* end = nullptr;
      const double t = strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(t > 0) || t > 60) e = "--min-time must be a number of seconds in (0, 60], got '" + value + "'";
      else o.min_time = value;
    } else if (name == "filter") {
      o.filter = value;
    } else if (name == "out") {
      if (value.empty()) e = "--out needs a file name";
      o.out = resolve_path(value);
    } else {
      e = "unknown flag --" + name;
    }
    if (e) {
      *error = *e;
      return std::nullopt;
    }
  }
  if (o.out.empty()) o.out = default_out_path("microbench");
  return o;
}

struct Merged {
  Json context;
  Json benchmarks = Json::array();  // iteration entries, in run order
  std::map<std::string, std::vector<const Json*>> by_name;
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

// ns per pair: rows are order/size, columns allocators.
std::string render(const Json& merged, const std::vector<const AllocatorInfo*>& allocators) {
  std::map<std::string, std::map<std::string, double>> table;
  std::vector<std::string> rows;
  for (const Json& b : merged["benchmarks"]) {
    if (b.value("aggregate_name", "") != "median") continue;
    const std::string row = b["benchmark"];
    if (!table.count(row)) rows.push_back(row);
    table[row][b["variant"]] = b["real_time"].get<double>();
  }
  std::string out = fmt::format(
      "\nns per malloc+free pair (median of repetitions; - = not served, e.g. bound above 32 KiB)\n{:<14}",
      "order/size");
  for (const AllocatorInfo* a : allocators) out += fmt::format(" {:>12}", a->name);
  out += "\n";
  for (const std::string& row : rows) {
    out += fmt::format("{:<14}", row);
    for (const AllocatorInfo* a : allocators) {
      auto it = table[row].find(a->name);
      out += it == table[row].end() ? fmt::format(" {:>12}", "-") : fmt::format(" {:>12.2f}", it->second);
    }
    out += "\n";
  }
  return out;
}

int run(int argc, char** argv) {
  std::string error;
  bool help = false;
  auto parsed = parse(argc, argv, &error, &help);
  if (help) {
    std::string text = kUsage;
    text.replace(text.find("{all}"), 5, known_allocator_names());
    fmt::print("{}", text);
    return 0;
  }
  if (!parsed) return usage_error(error + " (try --help)");
  const Options o = *parsed;
  const auto allocators = resolve_allocators(o.allocators, &error);
  if (!allocators) return usage_error(error);
  auto locator = DriverLocator::create(argv[0], &error);
  if (!locator) return usage_error(error);
  std::map<std::string, std::string> binary;
  for (const AllocatorInfo* a : *allocators) {
    auto path = locator->path(a->microbench(), &error);
    if (!path) return usage_error(error);
    binary[a->name] = *path;
  }
  if (std::filesystem::exists(o.out)) return usage_error(o.out + " already exists; choose another --out");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(o.out).parent_path(), ec);

  Merged merged;
  merged.context["hakmem_lab"] = {{"schema_version", kSchemaVersion},
                                  {"kind", "hakmem-lab/microbench"},
                                  {"created_utc", utc_now()},
                                  {"machine", machine_info()},
                                  {"build", build_info(LAB_COMPILATION_MODE)},
                                  {"config",
                                   {{"allocators", o.allocators},
                                    {"reps", o.reps},
                                    {"min_time", o.min_time},
                                    {"filter", o.filter}}}};
  const auto save = [&] {
    std::string why;
    if (!write_atomically(o.out, to_json(merged, o.reps).dump(1) + "\n", &why)) {
      fmt::print(stderr, "error: {}\n", why);
      return false;
    }
    return true;
  };
  if (!save()) return kExitUsage;

  install_stop_handlers();
  std::set<std::string> failed;
  const int total = o.reps * static_cast<int>(allocators->size());
  int done = 0;
  for (int rep = 0; rep < o.reps && !stop_requested(); ++rep) {
    for (const AllocatorInfo* a : *allocators) {
      if (stop_requested()) break;
      ++done;
      if (failed.count(a->name)) continue;
      const std::string tmp = o.out + ".part-" + a->name;
      std::vector<std::string> args = {binary[a->name], "--benchmark_format=console",
                                       "--benchmark_out_format=json", "--benchmark_out=" + tmp,
                                       "--benchmark_min_time=" + o.min_time};
      if (!o.filter.empty()) args.push_back("--benchmark_filter=" + o.filter);
      fmt::print(stderr, "[{:>3}/{}] rep {}/{} {}\n", done, total, rep + 1, o.reps, a->name);
      const ProcessResult r = run_process(args, o.timeout, {}, stop_flag());
      Json part;
      std::string why;
      if (r.interrupted) break;
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
      std::filesystem::remove(tmp, ec);
      if (!why.empty()) {
        failed.insert(a->name);
        merged.failures.push_back(a->name + ": " + why);
        fmt::print(stderr, "error: {} microbenchmarks {}\n", a->name, why);
        save();
        continue;
      }
      if (merged.context.size() == 1) {
        for (auto it = part["context"].begin(); it != part["context"].end(); ++it)
          if (it.key() != "allocator" && it.key() != "allocator_kind" && it.key() != "executable")
            merged.context[it.key()] = it.value();
      }
      for (Json b : part["benchmarks"]) {
        const std::string original = b["name"];
        b["benchmark"] = original;
        b["name"] = a->name + "/" + original;
        b["run_name"] = b["name"];
        b["variant"] = a->name;
        b["allocator_kind"] = a->kind;
        b["repetitions"] = o.reps;
        b["repetition_index"] = rep;
        b["run_type"] = "iteration";
        b.erase("label");
        merged.benchmarks.push_back(b);
      }
      save();
    }
  }
  const Json final_json = to_json(merged, o.reps);
  fmt::print("{}", render(final_json, *allocators));
  fmt::print("\nresults: {}\n", o.out);
  if (stop_requested()) {
    fmt::print(stderr, "interrupted: the repetitions that finished are in {}\n", o.out);
    return kExitInterrupted;
  }
  return failed.empty() ? 0 : 1;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::run(argc, argv); }
