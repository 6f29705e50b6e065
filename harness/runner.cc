#include "harness/runner.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "harness/callgrind.h"
#include "harness/cli.h"
#include "harness/machine.h"

namespace lab {

void add_matrix_flags(FlagTable& table, MatrixFlags* flags, const MatrixFlagRules& rules) {
  table.integer("reps", &flags->reps, rules.min_reps, rules.max_reps, rules.reps_help);
  table.text("out", "FILE", &flags->out, rules.out_help, rules.out_default);
  if (rules.resume)
    table.toggle("resume", &flags->resume, "continue the interrupted run in --out; the flags must match");
  table.integer("timeout", &flags->timeout_seconds, 1, 86400,
                "per-run limit in seconds; a run past it is killed and counted as failed");
}

void resolve_out(MatrixFlags* flags, const std::string& stem) {
  if (!flags->out.empty()) flags->out = resolve_path(flags->out);
  else if (!stem.empty()) flags->out = default_out_path(stem);
}

OutputFile::OutputFile(std::string path, std::function<std::string()> render)
    : path_(std::move(path)), render_(std::move(render)) {}

std::optional<std::string> OutputFile::create(bool resuming, bool resumable) {
  if (path_.empty()) return std::nullopt;
  if (!resuming && std::filesystem::exists(path_))
    return path_ + (resumable ? " already exists (use --resume to continue it, or another --out)"
                              : " already exists; choose another --out");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  std::string why;
  if (!write_atomically(path_, render_(), &why)) return why;
  return std::nullopt;
}

bool OutputFile::save() {
  if (path_.empty()) return true;
  std::string why;
  if (write_atomically(path_, render_(), &why)) return true;
  fmt::print(stderr, "error: {}\n", why);
  failed_ = true;
  return false;
}

bool OutputFile::finish() {
  if (path_.empty()) return true;
  if (save() && !failed_) return true;
  // Never lose what was measured: fall back to a file we can write.
  const std::string rescue = "/tmp/hakmem-lab-rescue-" + std::to_string(getpid()) + ".json";
  std::string why;
  if (write_atomically(rescue, render_(), &why))
    fmt::print(stderr, "error: results could not be written to {}; saved to {}\n", path_, rescue);
  else
    fmt::print(stderr, "error: results could not be saved anywhere: {}\n", why);
  return false;
}

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

void interleave(int units, int reps, Progress& progress, const std::function<bool(int unit, int rep)>& done,
                const std::function<RunReport(int unit, int rep)>& run, OutputFile& out) {
  for (int rep = 1; rep <= reps && !stop_requested(); ++rep) {
    for (int unit = 0; unit < units; ++unit) {
      if (stop_requested()) break;
      if (done(unit, rep)) {
        progress.skip();
        continue;
      }
      const RunReport r = run(unit, rep);
      if (r.interrupted) break;
      progress.report(r.line, r.wall_seconds);
      out.save();
    }
  }
}

DriverOutcome driver_outcome(const ProcessResult& r) {
  DriverOutcome out;
  out.wall_seconds = r.wall_seconds;
  if (r.interrupted) {
    out.kind = DriverOutcome::Kind::kInterrupted;
    out.reason = "interrupted";
    return out;
  }
  // A crash, a kill or a timeout leaves no status line worth trusting.
  if (!r.started || r.timed_out || r.signal != 0) {
    out.reason = r.describe_failure();
    return out;
  }
  std::string why;
  const std::optional<StatusLine> status = read_status_line(r.stdout_text, &why);
  if (!status) {
    out.reason = "exited with code " + std::to_string(r.exit_code) + " and " + why;
    return out;
  }
  if (exit_code_of(status->status) != r.exit_code) {
    out.reason = fmt::format("status \"{}\" with exit code {} (the protocol says {})", info_of(status->status).name,
                             r.exit_code, exit_code_of(status->status));
    return out;
  }
  out.line = status->line;
  out.reason = status->reason;
  switch (status->status) {
    case DriverStatus::kOk: out.kind = DriverOutcome::Kind::kOk; break;
    case DriverStatus::kBadFlags: out.kind = DriverOutcome::Kind::kBadFlags; break;
    case DriverStatus::kValidationFailed: out.kind = DriverOutcome::Kind::kValidationFailed; break;
    case DriverStatus::kRefused: out.kind = DriverOutcome::Kind::kRefused; break;
  }
  return out;
}

DriverOutcome run_driver(const std::vector<std::string>& argv, double timeout_seconds,
                         const std::vector<std::string>& extra_env) {
  return driver_outcome(run_process(argv, timeout_seconds, extra_env, stop_flag()));
}

namespace {

bool runnable(const Cell& c, int reps) { return c.status(reps) != "failed" && !c.refused; }

std::string failure_text(const DriverOutcome& o) {
  return o.kind == DriverOutcome::Kind::kValidationFailed ? "block validation failed: " + o.reason : o.reason;
}

}  // namespace

Invocation DriverMatrix::invocation(const Cell& cell, bool callgrind) const {
  Invocation run;
  // Every preload cell runs the glibc driver; glibc's own has nothing to preload.
  const bool preload = cell.mode == kPreloadMode && cell.allocator != "glibc";
  run.argv = {driver_of.at(cell.mode == kPreloadMode ? "glibc" : cell.allocator)};
  const std::vector<std::string> rest = args(cell, callgrind);
  run.argv.insert(run.argv.end(), rest.begin(), rest.end());
  if (preload) {
    run.argv.push_back("--preloaded=" + cell.allocator);
    run.env.push_back("LD_PRELOAD=" + library_of.at(cell.allocator));
  }
  // A setting allocator's options (hot_mag[learn=on]: HAKMEM_LEARN=on).
  for (const auto& [var, value] : cell.settings) run.env.push_back(var + "=" + value);
  return run;
}

void DriverMatrix::refuse_cells_without_library() {
  std::vector<Cell>& cells = results->cells;
  for (auto it = cells.begin(); it != cells.end();) {
    if (it->mode != kPreloadMode || no_library.count(it->allocator) == 0) {
      ++it;
      continue;
    }
    // bound measured linked needs no refused twin; asked for preload alone, it says why not.
    const Cell* linked = results->find(it->workload, it->allocator, it->threads, kLinkedMode);
    if (linked != nullptr && linked->mode == kLinkedMode) {
      it = cells.erase(it);
    } else {
      it->refused = no_library.at(it->allocator);
      ++it;
    }
  }
}

std::vector<std::string> DriverMatrix::dry_run() {
  std::vector<std::string> bad_flags;
  for (Cell& c : results->cells) {
    if (!runnable(c, reps)) continue;
    Invocation run = invocation(c, false);
    run.argv.push_back("--dry-run");
    const DriverOutcome o = run_driver(run.argv, 60, run.env);
    switch (o.kind) {
      case DriverOutcome::Kind::kRefused:  // the allocator declines this cell (bound outside its limits)
        c.refused = o.reason;
        continue;
      case DriverOutcome::Kind::kBadFlags:
        c.failures.push_back({0, "bad parameters: " + o.reason});
        if (std::find(bad_flags.begin(), bad_flags.end(), o.reason) == bad_flags.end()) bad_flags.push_back(o.reason);
        continue;
      case DriverOutcome::Kind::kOk:
        break;
      default:
        c.failures.push_back({0, "dry run " + failure_text(o)});
        continue;
    }
    try {
      // What this cell runs: its resolved parameters, seed and threads.
      c.params = Json{{"ops", o.line.at("ops")},
                      {"seed", o.line.at("seed")},
                      {"workers", o.line.at("workers")},
                      {"workload_params", o.line.at("params")}};
      // The drivers' own account of how they were compiled (the flags are
      // read back from the binary, not assumed).
      if (!results->build.contains("driver")) results->build["driver"] = o.line.at("build");
      // A --library allocator's kind is what the driver that loaded it saw.
      if (c.allocator_kind == "library") c.allocator_kind = o.line.at("allocator_kind").get<std::string>();
    } catch (const std::exception& e) {
      c.failures.push_back({0, std::string("dry run printed an incomplete status line: ") + e.what()});
    }
  }
  return bad_flags;
}

std::optional<std::string> DriverMatrix::locate(const char* argv0, const std::vector<std::string>& names,
                                                const std::vector<std::string>& modes,
                                                std::map<std::string, std::string>* unknown) {
  std::string error;
  const auto locator = DriverLocator::create(argv0, &error);
  if (!locator) return error;
  const bool preload = std::find(modes.begin(), modes.end(), kPreloadMode) != modes.end();
  std::vector<std::string> wanted = names;
  if (preload) wanted.push_back("glibc");  // preload cells run its driver
  for (const std::string& name : wanted) {
    const AllocatorInfo* a = find_allocator(name);
    if (a == nullptr) {
      const std::string why = "unknown allocator '" + name + "' (known: " + known_allocator_names() + ")";
      if (unknown == nullptr) return why;
      (*unknown)[name] = why;
      continue;
    }
    if (a->library.empty()) {  // a --library allocator has no linked driver
      const auto path = locator->path(a->driver(), &error);
      if (!path) return error;
      driver_of[a->name] = *path;
    }
    if (!preload) continue;
    if (!has_preload_library(*a, &error)) {
      no_library[a->name] = error;
      continue;
    }
    const auto library = preload_library(*a, &error);
    if (!library) return error;
    library_of[a->name] = *library;
  }
  return std::nullopt;
}

OutputFile results_output(const std::string& path, ResultsFile* results) {
  return OutputFile(path, [results] {
    results->updated_utc = utc_now();
    return results->to_json().dump(1) + "\n";
  });
}

MatrixEnd DriverMatrix::run(OutputFile& out) {
  install_stop_handlers();
  results->status = "running";
  std::vector<Cell>& cells = results->cells;
  int counted = 0;
  if (callgrind)
    for (const Cell& c : cells) counted += callgrind(c) ? 1 : 0;
  std::vector<Cell*> timed_cells;
  for (Cell& c : cells)
    if (!timed || timed(c)) timed_cells.push_back(&c);
  Progress progress(static_cast<int>(timed_cells.size()) * reps + counted);
  int seq = 0;
  for (const Cell& c : cells)
    for (const RunEntry& r : c.runs) seq = std::max(seq, r.seq);

  const auto done = [&](int unit, int rep) {
    const Cell& c = *timed_cells[static_cast<size_t>(unit)];
    return !runnable(c, reps) ||
           std::any_of(c.runs.begin(), c.runs.end(), [&](const RunEntry& r) { return r.rep == rep; });
  };
  const auto run_one = [&](int unit, int rep) {
    Cell& c = *timed_cells[static_cast<size_t>(unit)];
    const Invocation run = invocation(c, false);
    const DriverOutcome o = run_driver(run.argv, timeout_seconds, run.env);
    RunReport report{fmt::format("rep {}/{} {:<17} t{} {:<13} {:<7}", rep, reps, c.workload, c.threads, c.allocator, c.mode),
                     o.wall_seconds, o.kind == DriverOutcome::Kind::kInterrupted};
    if (report.interrupted) return report;
    if (o.kind == DriverOutcome::Kind::kOk) {
      try {
        RunEntry entry{rep, ++seq, o.wall_seconds, o.line.get<RunRecord>()};
        report.line += fmt::format(" {:8.1f} Mops/s", entry.record.ops_per_sec / 1e6);
        c.runs.push_back(std::move(entry));
      } catch (const std::exception& e) {
        c.failures.push_back({rep, std::string("the driver's record does not parse: ") + e.what()});
      }
    } else {
      c.failures.push_back({rep, failure_text(o)});
    }
    if (!c.failures.empty() && c.failures.back().rep == rep) report.line += " FAILED: " + c.failures.back().reason;
    results->summarize();
    return report;
  };
  interleave(static_cast<int>(timed_cells.size()), reps, progress, done, run_one, out);

  for (Cell& c : cells) {
    if (!callgrind || !callgrind(c)) continue;
    if (stop_requested()) break;
    if (!runnable(c, reps) || c.callgrind) {
      progress.skip();
      continue;
    }
    std::string why;
    const Invocation run = invocation(c, true);
    const auto cg = run_callgrind(run.argv, timeout_seconds * 20, &why, stop_flag(), run.env);
    if (cg) {
      c.callgrind = Json{{"instructions", cg->instructions},
                         {"ops", cg->ops},
                         {"instructions_per_op", cg->instructions_per_op},
                         {"record", Json(cg->record)}};
    } else if (!stop_requested()) {
      c.callgrind = Json{{"error", why}};
    }
    progress.report(fmt::format("callgrind {:<17} t{} {:<13} {}", c.workload, c.threads, c.allocator,
                                cg ? fmt::format("{:.1f} Ir/op", cg->instructions_per_op) : "FAILED: " + why),
                    0);
    out.save();
  }
  progress.finish();
  MatrixEnd end;
  end.interrupted = stop_requested();
  results->status = end.interrupted ? "interrupted" : "complete";
  end.saved = out.finish();
  return end;
}

std::optional<ResultsFile> open_results(const MatrixFlags& flags, const CompareConfig& config,
                                        const std::string& compilation_mode,
                                        const std::map<std::string, std::string>& failed_names, std::string* error) {
  if (!flags.resume) return new_results(config, compilation_mode, failed_names);
  auto loaded = load_results(flags.out, error);
  if (!loaded) {
    *error = "cannot resume: " + *error;
    return std::nullopt;
  }
  if (!(loaded->config == config)) {
    *error = "cannot resume " + flags.out + ": it was run with a different matrix or flags";
    return std::nullopt;
  }
  return loaded;
}

void apply_shard(ResultsFile* results, const ShardSpec& spec) {
  ShardRecord record;
  record.spec = spec;
  std::map<std::pair<std::string, int>, size_t> group_of;  // (workload, threads) -> index
  std::vector<std::vector<std::string>> modes;
  for (const Cell& c : results->cells) {
    const auto key = std::make_pair(c.workload, c.threads);
    auto [it, added] = group_of.emplace(key, record.groups.size());
    if (added) {
      record.groups.push_back({c.workload, c.threads, "", 0});
      modes.emplace_back();
    }
    ShardGroup& g = record.groups[it->second];
    g.expected_seconds += results->config.reps * expected_run_seconds(c.workload, results->config.params);
    if (std::find(modes[it->second].begin(), modes[it->second].end(), c.mode) == modes[it->second].end())
      modes[it->second].push_back(c.mode);
  }
  for (size_t i = 0; i < record.groups.size(); ++i) record.groups[i].mode = join(modes[i]);
  record.shard_of_group = assign_shards(record.groups, spec.n);
  std::erase_if(results->cells, [&](const Cell& c) {
    return record.shard_of_group[group_of.at({c.workload, c.threads})] != spec.k;
  });
  results->shard = std::move(record);
}

int report_failed_cells(const ResultsFile& results, int reps, const std::string& out_path) {
  int failed = 0;
  for (const Cell& c : results.cells) failed += c.status(reps) == "failed";
  if (failed > 0)
    fmt::print(stderr, "{} cell{} failed; see the table and the \"failures\" in {}\n", failed, failed == 1 ? "" : "s",
               out_path);
  return failed;
}

bool measured_in_mode(const AllocatorInfo& a, const std::string& mode, const std::vector<std::string>& modes) {
  const bool preload_asked = std::find(modes.begin(), modes.end(), kPreloadMode) != modes.end();
  if (a.kind == "system" && preload_asked) return mode == kPreloadMode;
  if (!a.library.empty() || !a.base.empty()) return mode == kPreloadMode;
  return true;
}

ResultsFile new_results(const CompareConfig& config, const std::string& compilation_mode,
                        const std::map<std::string, std::string>& failed_names) {
  ResultsFile results;
  results.created_utc = utc_now();
  results.updated_utc = results.created_utc;
  results.machine = machine_info();
  results.build = build_info(compilation_mode.c_str());
  results.config = config;
  for (const std::string& w : config.workloads)
    for (int t : config.threads)
      for (const std::string& name : config.allocators) {
        const AllocatorInfo* a = find_allocator(name);
        for (const std::string& mode : config.modes) {
          if (a != nullptr && !measured_in_mode(*a, mode, config.modes)) continue;
          Cell c;
          c.allocator = name;
          c.allocator_kind = a != nullptr ? a->kind : "unknown";
          if (a != nullptr) c.settings = a->settings;
          c.workload = w;
          c.threads = t;
          c.mode = mode;
          for (const std::string& bad : {name, w})
            if (auto it = failed_names.find(bad); it != failed_names.end()) c.failures.push_back({0, it->second});
          results.cells.push_back(c);
          if (a == nullptr) break;  // an unknown name fails once, not per mode
        }
      }
  results.summarize();
  return results;
}

}  // namespace lab
