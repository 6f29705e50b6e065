#include "harness/matrix.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>

#include "harness/callgrind.h"
#include "harness/cli.h"
#include "harness/subprocess.h"

namespace lab {
namespace {

constexpr int kExitRefused = 4;
constexpr int kExitBadFlags = 2;

std::vector<std::string> command(const MatrixRun& run, const Cell& cell, bool callgrind) {
  std::vector<std::string> argv = {run.driver_of.at(cell.allocator)};
  const std::vector<std::string> rest = run.args(cell, callgrind);
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

bool runnable(const Cell& c, int reps) { return c.status(reps) != "failed" && !c.refused; }

// A driver's one-line message ("refused: ...", "error: ... (try --help)")
// without its prefix and hint.
std::string driver_message(const std::string& stderr_text, const std::string& prefix) {
  std::string why = stderr_text.substr(0, stderr_text.find('\n'));
  if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
  if (const size_t hint = why.rfind(" (try --help)"); hint != std::string::npos) why.erase(hint);
  return why;
}

}  // namespace

Progress::Progress(int total) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::report(const std::string& line, double wall_seconds) {
  ++done_;
  elapsed_ += wall_seconds;
  const double eta = done_ > 0 ? elapsed_ / done_ * (total_ - done_) : 0;
  const std::string text = fmt::format("[{:>3}/{}] {}  (eta {:.0f} s)", done_, total_, line, eta);
  if (tty_) fmt::print(stderr, "\r\033[K{}", text);
  else fmt::print(stderr, "{}\n", text);
}

void Progress::finish() {
  if (tty_) fmt::print(stderr, "\n");
}

std::vector<std::string> dry_run_cells(MatrixRun& run) {
  ResultsFile& results = *run.results;
  std::vector<std::string> bad_flags;
  for (Cell& c : results.cells) {
    if (!runnable(c, run.reps)) continue;
    std::vector<std::string> argv = command(run, c, false);
    argv.push_back("--dry-run");
    const ProcessResult r = run_process(argv, 60);
    if (r.exit_code == kExitRefused) {
      // The allocator declines this cell (bound outside its limits).
      c.refused = driver_message(r.stderr_tail, "refused: ");
      continue;
    }
    if (r.exit_code == kExitBadFlags) {
      const std::string why = driver_message(r.stderr_tail, "error: ");
      c.failures.push_back({0, "bad parameters: " + why});
      if (std::find(bad_flags.begin(), bad_flags.end(), why) == bad_flags.end()) bad_flags.push_back(why);
      continue;
    }
    if (!r.ok()) {
      c.failures.push_back({0, "dry run " + r.describe_failure()});
      continue;
    }
    try {
      const Json dry = Json::parse(r.stdout_text);
      // What this cell runs: its resolved parameters, seed and threads.
      c.params = Json{{"ops", dry.at("ops")},
                      {"seed", dry.at("seed")},
                      {"workers", dry.at("workers")},
                      {"workload_params", dry.at("params")}};
      // The drivers' own account of how they were compiled (the flags are
      // read back from the binary, not assumed).
      if (!results.build.contains("driver")) results.build["driver"] = dry.at("build");
    } catch (const std::exception& e) {
      c.failures.push_back({0, std::string("dry run printed no usable JSON: ") + e.what()});
    }
  }
  return bad_flags;
}

bool run_interleaved(MatrixRun& run, Progress& progress) {
  ResultsFile& results = *run.results;
  bool saved = true;
  int seq = 0;
  for (const Cell& c : results.cells)
    for (const RunEntry& r : c.runs) seq = std::max(seq, r.seq);
  for (int rep = 1; rep <= run.reps && !stop_requested(); ++rep) {
    for (Cell& c : results.cells) {
      if (stop_requested()) break;
      const bool done = std::any_of(c.runs.begin(), c.runs.end(), [&](const RunEntry& r) { return r.rep == rep; });
      if (done || !runnable(c, run.reps)) {
        progress.skip();
        continue;
      }
      const ProcessResult r = run_process(command(run, c, false), run.timeout_seconds, {}, stop_flag());
      if (r.interrupted) break;
      const std::string where = fmt::format("rep {}/{} {:<17} t{} {:<13}", rep, run.reps, c.workload, c.threads, c.allocator);
      std::string line;
      if (r.ok()) {
        try {
          RunEntry entry{rep, ++seq, r.wall_seconds, Json::parse(r.stdout_text)};
          line = fmt::format("{} {:8.1f} Mops/s", where, entry.record.value("ops_per_sec", 0.0) / 1e6);
          c.runs.push_back(std::move(entry));
        } catch (const std::exception& e) {
          c.failures.push_back({rep, std::string("driver printed no JSON record: ") + e.what()});
        }
      } else {
        c.failures.push_back({rep, r.describe_failure()});
      }
      if (line.empty()) line = where + " FAILED: " + c.failures.back().reason;
      progress.report(line, r.wall_seconds);
      saved = run.save() && saved;
    }
  }
  return saved;
}

bool count_instructions(MatrixRun& run, Progress& progress, const std::function<bool(const Cell&)>& wanted) {
  bool saved = true;
  for (Cell& c : run.results->cells) {
    if (stop_requested()) break;
    if (!runnable(c, run.reps) || c.callgrind || !wanted(c)) {
      progress.skip();
      continue;
    }
    std::string why;
    const auto cg = run_callgrind(command(run, c, true), run.timeout_seconds * 20, &why, stop_flag());
    if (cg) {
      c.callgrind = Json{{"instructions", cg->instructions},
                         {"ops", cg->ops},
                         {"instructions_per_op", cg->instructions_per_op},
                         {"record", cg->record}};
    } else if (!stop_requested()) {
      c.callgrind = Json{{"error", why}};
    }
    progress.report(fmt::format("callgrind {:<17} t{} {:<13} {}", c.workload, c.threads, c.allocator,
                                cg ? fmt::format("{:.1f} Ir/op", cg->instructions_per_op) : "FAILED: " + why),
                    0);
    saved = run.save() && saved;
  }
  return saved;
}

}  // namespace lab
