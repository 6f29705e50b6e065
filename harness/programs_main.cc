// programs: the real-program suite. Runs unmodified programs from Debian
// packages under each allocator by LD_PRELOAD, repetitions interleaved,
// checks every run's output byte for byte against glibc's, and writes one
// results file in compare's schema (mode "preload"), then prints a table.
// See --help; the suite itself is harness/programs_suite.cc.
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "harness/cli.h"
#include "harness/drivers.h"
#include "harness/flag_table.h"
#include "harness/machine.h"
#include "harness/programs_faults.h"
#include "harness/programs_run.h"
#include "harness/programs_suite.h"
#include "harness/programs_table.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "tools/cpp/runfiles/runfiles.h"

#ifndef LAB_COMPILATION_MODE
#define LAB_COMPILATION_MODE "unknown"
#endif

namespace lab {
namespace {

constexpr const char* kReference = "glibc";  // whose output every run must reproduce
constexpr uint64_t kSeed = 42;

const char* kIntro = R"(usage: bazel run -c opt //harness:programs -- [flags]

Runs unmodified programs from Debian packages under each allocator, the
allocator's library in LD_PRELOAD (glibc: nothing preloaded), each run in a
fresh process, repetitions interleaved (rep 1 of every program and
allocator, then rep 2, ...). Records wall time, CPU time, peak RSS, major
faults and voluntary context switches (wait4's rusage, the program and its
children), the exit status and a checksum of the output. Every output must
be byte-identical to the program's output under glibc (a reference run
under glibc, before the timed runs, says what it is). Writes one results
JSON (compare's schema, mode "preload"; rewritten after every run) and
prints a table.

)";

const char* kOutro = R"(
Before any program runs, each allocator's library is preloaded into a tiny
probe that prints the file its malloc comes from: a library ld.so cannot
load is only a warning to ld.so, and the program would silently run on
glibc's malloc.

A cell that cannot run or whose run goes wrong (an unknown name, an
allocator without a library such as bound, a library that does not load, a
program that is not installed, a run that exits non-zero, crashes, passes
--timeout or prints other bytes than under glibc) gets a one-line reason,
is marked failed in the JSON and the table, and every other cell still
runs. Bad flags, or an --out that cannot be written, stop the run before
anything runs.

Exit status: 0 every cell complete; 1 a cell failed (the others ran);
2 bad flags or set-up; 130 interrupted (what ran is in --out).
)";

struct Options {
  std::vector<std::string> programs;
  std::vector<std::string> allocators;
  SuiteSize size = SuiteSize::kSmall;
  // Whom the ratio column and the geometric means divide by. Outputs are
  // always checked against glibc's (kReference), whatever this is.
  std::string baseline = kReference;
  MatrixFlags matrix{5, 600};  // --reps, --timeout
  ProgramFaults faults;
  HakmemEnv hakmem_env;
  // Where the inputs go and stay, so that a program can be rerun by hand
  // (under callgrind, perf or gdb) with the command its cells record.
  std::string keep_inputs;
};

// The peers, then every hakmem variant that has a library to preload
// (bound, the reference, has none: name it to see why).
std::vector<std::string> default_allocators() {
  std::vector<std::string> names = {"glibc", "jemalloc", "tcmalloc", "mimalloc"};
  for (const AllocatorInfo& a : known_allocators()) {
    std::string why;
    if (a.kind == "hakmem" && preload_library(a, &why)) names.push_back(a.name);
  }
  return names;
}

Options default_options() {
  Options o;
  for (const Program& p : program_suite()) o.programs.push_back(p.name);
  o.allocators = default_allocators();
  return o;
}

FlagTable flag_table(Options* o) {
  FlagTable t;
  t.list("programs", &o->programs, "comma-separated programs", "all: " + program_names());
  t.list("allocators", &o->allocators, "comma-separated allocators",
         "the peers and every hakmem variant with a library: " + join(o->allocators));
  add_hakmem_env_flag(&t, &o->hakmem_env);
  t.custom("size", "SIZE", "input sizes: smoke (CI, a fraction of a second a run), small, full (numbers to quote)",
           suite_size_name(o->size), [o](const std::string& value) -> std::optional<std::string> {
             const auto size = parse_suite_size(value);
             if (!size) return "--size must be smoke, small or full, got '" + value + "'";
             o->size = *size;
             return std::nullopt;
           });
  t.text("baseline", "NAME", &o->baseline,
         "allocator the ratio column and the geometric means divide by (outputs are checked against glibc's)");
  MatrixFlagRules rules("results JSON");
  rules.out_default = "results/runs/programs-<UTC time>.json in the workspace";
  add_matrix_flags(t, &o->matrix, rules);
  t.text("keep-inputs", "DIR", &o->keep_inputs,
         "write each program's input into DIR/PROGRAM/ (DIR must not exist) and keep it; each cell's params "
         "hold the command and environment that rerun it by hand",
         "a scratch directory, removed at the end");
  t.custom("inject-fault", "KIND@NAME", ProgramFaults::help(), "",
           [o](const std::string& value) { return o->faults.add(value); }, /*repeatable=*/true);
  return t;
}

std::string program_list() {
  std::string out = "\nPrograms (each from its Debian package, installed by tools/lab):\n";
  for (const Program& p : program_suite())
    out += fmt::format("  {:<9} {} thread{}  {} (Debian package {})\n  {:<9} {}\n", p.name, p.threads,
                       p.threads == 1 ? " " : "s", p.executable, p.package, "", p.what);
  return out;
}

// One program's inputs and the output every run must reproduce.
struct PreparedProgram {
  const Program* program = nullptr;
  std::string package;
  std::optional<ProgramCommand> command;        // the real input
  std::optional<ProgramCommand> other_command;  // output@: another seed's input
  std::optional<ExpectedOutput> expected;
};

// The suite's input directory: a scratch directory removed at the end, or
// the --keep-inputs directory, created here and kept.
class WorkDir {
 public:
  bool create(const std::string& keep_flag, std::string* error) {
    if (!keep_flag.empty()) {
      const std::string keep = resolve_path(keep_flag);
      std::error_code ec;
      if (std::filesystem::exists(keep, ec)) {
        *error = "--keep-inputs=" + keep_flag + ": already exists (name a new directory)";
        return false;
      }
      if (!std::filesystem::create_directories(keep, ec)) {
        *error = "--keep-inputs=" + keep_flag + ": cannot create it: " + ec.message();
        return false;
      }
      path_ = std::filesystem::absolute(keep, ec).string();
      kept_ = true;
      return true;
    }
    const char* tmp = getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hakmem-lab-programs-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      *error = "cannot create a scratch directory " + templ + ": " + strerror(errno);
      return false;
    }
    path_ = templ;
    return true;
  }
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty() && !kept_) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool kept_ = false;
};

class Suite {
 public:
  Suite(Options& o, ResultsFile& results) : o_(o), results_(results) {}

  // Every allocator's library, probed; a failure fails that allocator's cells.
  void resolve_allocators(const std::string& probe) {
    for (const std::string& name : with_reference(o_.allocators)) {
      const AllocatorInfo* info = find_allocator(name);
      if (info == nullptr) continue;  // its cells failed already (unknown name)
      std::string why;
      std::optional<std::string> library = preload_library(*info, &why);
      if (library) library = o_.faults.library(name, *library);
      std::optional<std::string> provider = library ? probe_malloc_provider(probe, *library, &why) : std::nullopt;
      if (!provider) {
        fail_allocator(name, name + ": " + why);
        continue;
      }
      allocators_[name] = {name, info->kind, *library, *provider, info->env()};
    }
  }

  // Every program: installed, its input written, its reference run under
  // glibc. A failure fails that program's cells.
  void prepare_programs(const std::string& work_dir, const std::string& scripts_dir) {
    const auto glibc = allocators_.find(kReference);
    for (const std::string& name : o_.programs) {
      if (stop_requested()) return;
      const Program* program = find_program(name);
      if (program == nullptr) continue;  // its cells failed already (unknown name)
      PreparedProgram& p = programs_[name];
      p.program = program;
      const std::string executable = o_.faults.executable(*program);
      if (access(executable.c_str(), X_OK) != 0) {
        fail_program(name, fmt::format("{}: {} is not installed (Debian package {}; tools/lab setup installs it)",
                                       name, executable, program->package));
        continue;
      }
      if (glibc == allocators_.end()) {
        fail_program(name, name + ": no reference run: glibc's cells failed (see them)");
        continue;
      }
      fmt::print(stderr, "preparing {} ({} input, reference run under glibc)\n", name, suite_size_name(o_.size));
      p.package = installed_package(*program);
      std::string why;
      p.command = prepare_input(*program, work_dir + "/" + name, scripts_dir, kSeed, &why);
      if (p.command && o_.faults.any_other_input())
        p.other_command = prepare_input(*program, work_dir + "/" + name + "-other-seed", scripts_dir, kSeed + 1, &why);
      if (stop_requested()) return;
      if (!p.command || (o_.faults.any_other_input() && !p.other_command)) {
        fail_program(name, name + ": cannot prepare its input: " + why);
        continue;
      }
      const ProgramRun reference = run_program(*program, *p.command, glibc->second, std::nullopt, setting(p));
      if (reference.interrupted) return;
      if (!reference.record) {
        fail_program(name, "reference run: " + reference.failure);
        continue;
      }
      p.expected = ExpectedOutput{*reference.exit_status, *reference.checksum};
      for (Cell& c : results_.cells)
        if (c.workload == name)
          c.params = {{"command", p.command->argv},
                      {"env", p.command->env},
                      {"size", suite_size_name(o_.size)},
                      {"seed", kSeed},
                      {"package", p.package},
                      {"reference", {{"exit_status", p.expected->exit_status},
                                     {"output_checksum", p.expected->checksum}}}};
      results_.build["programs"][name] = p.package;
    }
  }

  // The timed repetitions, interleaved; saves after every run.
  void run(OutputFile& out) {
    std::vector<Cell>& cells = results_.cells;
    Progress progress(static_cast<int>(cells.size()) * o_.matrix.reps);
    int seq = 0;
    const auto done = [&](int unit, int) { return cells[static_cast<size_t>(unit)].status(o_.matrix.reps) == "failed"; };
    const auto run_one = [&](int unit, int rep) {
      Cell& c = cells[static_cast<size_t>(unit)];
      const PreparedProgram& p = programs_.at(c.workload);
      const PreloadedAllocator& a = allocators_.at(c.allocator);
      const ProgramCommand& real = o_.faults.other_input(a.name) ? *p.other_command : *p.command;
      const std::optional<ProgramCommand> broken = o_.faults.broken_command(a.name, real);
      const ProgramRun r = run_program(*p.program, broken ? *broken : real, a, p.expected, setting(p));
      RunReport report{fmt::format("rep {}/{} {:<9} {:<13}", rep, o_.matrix.reps, c.workload, c.allocator),
                       r.wall_seconds, r.interrupted};
      if (r.interrupted) return report;
      if (r.record) {
        c.runs.push_back({rep, ++seq, r.wall_seconds, *r.record});
        report.line += fmt::format(" {:8.3f} s", r.record->seconds);
      } else {
        c.failures.push_back({rep, r.failure});
        report.line += " FAILED: " + r.failure;
      }
      results_.summarize();
      return report;
    };
    interleave(static_cast<int>(cells.size()), o_.matrix.reps, progress, done, run_one, out);
    progress.finish();
  }

 private:
  // The reference allocator is probed even when it is not in the run.
  static std::vector<std::string> with_reference(std::vector<std::string> names) {
    if (std::find(names.begin(), names.end(), kReference) == names.end()) names.push_back(kReference);
    return names;
  }

  std::optional<ProgramCommand> prepare_input(const Program& program, const std::string& dir,
                                              const std::string& scripts_dir, uint64_t seed, std::string* why) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      *why = "cannot create " + dir + ": " + ec.message();
      return std::nullopt;
    }
    return program.prepare(InputPlace{dir, scripts_dir, o_.size, seed}, why);
  }

  RunSetting setting(const PreparedProgram& p) const {
    return {o_.size, kSeed, p.package, static_cast<double>(o_.matrix.timeout_seconds)};
  }

  void fail_allocator(const std::string& name, const std::string& why) {
    fail_cells([&](const Cell& c) { return c.allocator == name; }, why);
  }
  void fail_program(const std::string& name, const std::string& why) {
    fail_cells([&](const Cell& c) { return c.workload == name; }, why);
  }
  void fail_cells(const std::function<bool(const Cell&)>& which, const std::string& why) {
    bool any = false;
    for (Cell& c : results_.cells)
      if (which(c) && c.failures.empty()) {
        c.failures.push_back({0, why});
        any = true;
      }
    if (any) fmt::print(stderr, "error: {}; its cells are marked failed\n", why);
  }

  Options& o_;
  ResultsFile& results_;
  std::map<std::string, PreloadedAllocator> allocators_;
  std::map<std::string, PreparedProgram> programs_;
};

// The results file: one cell per (program, allocator), in that order;
// names nobody knows fail their cells now (*unknown: why, once each).
ResultsFile new_program_results(const Options& o, std::vector<std::string>* unknown) {
  ResultsFile results;
  results.created_utc = utc_now();
  results.updated_utc = results.created_utc;
  results.machine = machine_info();
  results.build = build_info(LAB_COMPILATION_MODE);
  CompareConfig& config = results.config;
  config.allocators = o.allocators;
  config.workloads = o.programs;
  config.reps = o.matrix.reps;
  config.smoke = o.size == SuiteSize::kSmoke;
  config.baseline = o.baseline;
  config.timeout_seconds = static_cast<double>(o.matrix.timeout_seconds);
  // Tells this suite's files from compare's.
  config.params = {{"suite", "programs"}, {"size", suite_size_name(o.size)}};
  std::set<int> threads;
  const auto why_unknown = [&](bool known, const std::string& what, const std::string& name,
                               const std::string& names) -> std::optional<std::string> {
    if (known) return std::nullopt;
    const std::string why = "unknown " + what + " '" + name + "' (known: " + names + ")";
    if (std::find(unknown->begin(), unknown->end(), why) == unknown->end()) unknown->push_back(why);
    return why;
  };
  for (const std::string& name : o.programs) {
    const Program* program = find_program(name);
    if (program != nullptr) threads.insert(program->threads);
    for (const std::string& allocator : o.allocators) {
      const AllocatorInfo* info = find_allocator(allocator);
      Cell c;
      c.workload = name;
      c.allocator = allocator;
      c.allocator_kind = info != nullptr ? info->kind : "unknown";
      if (info != nullptr) c.settings = info->settings;
      c.threads = program != nullptr ? program->threads : 1;
      c.mode = "preload";
      const auto bad_program = why_unknown(program != nullptr, "program", name, program_names());
      const auto bad_allocator = why_unknown(info != nullptr, "allocator", allocator, known_allocator_names());
      if (bad_program || bad_allocator) c.failures.push_back({0, bad_program ? *bad_program : *bad_allocator});
      results.cells.push_back(c);
    }
  }
  config.threads.assign(threads.begin(), threads.end());
  results.summarize();
  return results;
}

int run(int argc, char** argv) {
  std::string error;
  // preload_library() reads the runfiles, for the default list already.
  const auto locator = DriverLocator::create(argv[0], &error);
  if (!locator) return usage_error(error);
  Options o = default_options();
  bool help = false;
  if (auto e = flag_table(&o).parse(argc, argv, &help)) return usage_error(*e + " (try --help)");
  if (help) {
    Options shown = default_options();
    fmt::print("{}{}{}{}", kIntro, flag_table(&shown).usage(), program_list(), kOutro);
    return 0;
  }
  bool settings = false;  // every program runs preloaded, so any allocator may carry settings
  if (auto e = apply_hakmem_env(o.hakmem_env, o.baseline, &o.allocators, &settings)) return usage_error(*e);
  if (std::error_code ec; !o.keep_inputs.empty() && std::filesystem::exists(resolve_path(o.keep_inputs), ec))
    return usage_error("--keep-inputs=" + o.keep_inputs + ": already exists (name a new directory)");
  if (std::find(o.allocators.begin(), o.allocators.end(), o.baseline) == o.allocators.end())
    return usage_error("--baseline=" + o.baseline + " is not one of --allocators (" + join(o.allocators) + ")");
  if (std::string(LAB_COMPILATION_MODE) != "opt")
    fmt::print(stderr, "warning: this is a '{}' build, not -c opt (the programs are Debian's; the harness is not)\n",
               LAB_COMPILATION_MODE);
  const auto probe = locator->path("harness/programs_probe", &error);
  if (!probe) return usage_error(error);
  std::unique_ptr<bazel::tools::cpp::runfiles::Runfiles> runfiles(
      bazel::tools::cpp::runfiles::Runfiles::Create(argv[0], &error));
  const std::string any_script = runfiles ? runfiles->Rlocation("hakmem_lab/harness/program_scripts/churn.py") : "";
  if (any_script.empty() || access(any_script.c_str(), R_OK) != 0)
    return usage_error("harness/program_scripts/ (the scripts) not found in the runfiles; run through `bazel run`");
  const std::string scripts_dir = std::filesystem::path(any_script).parent_path().string();
  resolve_out(&o.matrix, "programs");

  std::vector<std::string> unknown;
  ResultsFile results = new_program_results(o, &unknown);
  for (const std::string& why : unknown) fmt::print(stderr, "error: {}; its cells are marked failed\n", why);
  OutputFile out = results_output(o.matrix.out, &results);
  if (auto e = out.create(false, false)) return usage_error(*e);  // nothing has run yet
  WorkDir work;
  if (!work.create(o.keep_inputs, &error)) return usage_error(error);

  install_stop_handlers();
  Suite suite(o, results);
  suite.resolve_allocators(*probe);
  suite.prepare_programs(work.path(), scripts_dir);
  out.save();
  if (!stop_requested()) suite.run(out);
  results.status = stop_requested() ? "interrupted" : "complete";
  const bool saved = out.finish();

  if (stop_requested()) fmt::print(stderr, "interrupted: the runs that finished are in {}\n", o.matrix.out);
  const int failed = report_failed_cells(results, o.matrix.reps, o.matrix.out);
  fflush(stderr);
  fmt::print("{}\nresults: {}\n", render_program_table(results), o.matrix.out);
  fflush(stdout);
  if (stop_requested()) return kExitInterrupted;
  return failed > 0 || !saved ? 1 : 0;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::run(argc, argv); }
