#include "harness/programs_run.h"

#include <fmt/format.h>

#include <filesystem>

#include "common/process.h"
#include "harness/cli.h"
#include "harness/programs_checksum.h"
#include "harness/results.h"
#include "harness/subprocess.h"

namespace lab {
namespace {

std::string canonical(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::canonical(path, ec);
  return ec ? path : p.string();
}

std::string first_line(const std::string& text) {
  const size_t start = text.find_first_not_of('\n');
  if (start == std::string::npos) return "";
  return text.substr(start, text.find('\n', start) - start);
}

std::string who(const Program& program, const PreloadedAllocator& allocator) {
  return fmt::format("{} under {}", program.name, allocator.name);
}

}  // namespace

std::optional<std::string> probe_malloc_provider(const std::string& probe, const std::string& library,
                                                 std::string* why) {
  const ProcessResult r = run_process({probe}, 60, {"LD_PRELOAD=" + library});
  const std::string preload = library.empty() ? "with nothing preloaded" : "with LD_PRELOAD=" + library;
  if (!r.ok()) {
    *why = "the malloc probe " + preload + " " + r.describe_failure();
    return std::nullopt;
  }
  const std::string provider = canonical(first_line(r.stdout_text));
  const bool expected = library.empty()
                            ? std::filesystem::path(provider).filename().string().rfind("libc.so", 0) == 0
                            : provider == canonical(library);
  if (!expected) {
    const std::string said = first_line(r.stderr_tail);
    *why = fmt::format("{} malloc resolves to {}, not {}{}", preload, provider.empty() ? "nothing" : provider,
                       library.empty() ? "the C library" : library, said.empty() ? "" : ": " + said);
    return std::nullopt;
  }
  return provider;
}

ProgramRun run_program(const Program& program, const ProgramCommand& command, const PreloadedAllocator& allocator,
                       const std::optional<ExpectedOutput>& expected, const RunSetting& setting) {
  ProgramRun run;
  for (const std::string& output : command.outputs) {
    std::error_code ec;
    std::filesystem::remove(output, ec);  // what it writes must be this run's
  }
  std::vector<std::string> env = command.env;
  // "LD_PRELOAD=" for glibc also clears one this harness inherited.
  env.push_back("LD_PRELOAD=" + allocator.library);
  env.insert(env.end(), allocator.env.begin(), allocator.env.end());
  const ProcessResult r = run_process(command.argv, setting.timeout_seconds, env, stop_flag());
  run.wall_seconds = r.wall_seconds;
  if (r.interrupted) {
    run.interrupted = true;
    return run;
  }
  if (!r.started || r.timed_out || r.signal != 0) {
    run.failure = who(program, allocator) + " " + r.describe_failure();
    return run;
  }
  run.exit_status = r.exit_code;
  const int expected_status = expected ? expected->exit_status : 0;
  if (r.exit_code != expected_status) {
    run.failure = fmt::format("{} exited with code {} ({}: {}){}", who(program, allocator), r.exit_code,
                              expected ? "glibc's reference run" : "expected", expected_status,
                              first_line(r.stderr_tail).empty() ? "" : ": " + first_line(r.stderr_tail));
    return run;
  }
  std::string why;
  run.checksum = output_checksum(r.stdout_text, command.outputs, &why);
  if (!run.checksum) {
    run.failure = who(program, allocator) + ": " + why;
    return run;
  }
  if (expected && *run.checksum != expected->checksum) {
    run.failure = fmt::format("{}: output differs from glibc's ({} vs glibc's {})", who(program, allocator),
                              *run.checksum, expected->checksum);
    return run;
  }
  if (!r.usage) {
    run.failure = who(program, allocator) + ": no resource usage from wait4";
    return run;
  }

  RunRecord& rec = run.record.emplace();
  rec.workload = program.name;
  rec.allocator = allocator.name;
  rec.allocator_kind = allocator.kind;
  rec.malloc_provider = allocator.malloc_provider;
  rec.mode = kPreloadMode;  // a program is glibc-linked: its allocator is always preloaded
  rec.threads = program.threads;
  rec.workers = program.threads;
  rec.seed = setting.seed;
  rec.cpus = allowed_cpus();
  rec.smoke = setting.size == SuiteSize::kSmoke;
  rec.params = {{"command", command.argv}, {"env", env}, {"size", suite_size_name(setting.size)}};
  // One operation is one whole program run.
  rec.ops = 1;
  rec.seconds = r.wall_seconds;
  rec.ops_per_sec = r.wall_seconds > 0 ? 1 / r.wall_seconds : 0;
  rec.cpu_seconds = r.usage->cpu_seconds();
  if (rec.cpu_seconds > 0) rec.ops_per_cpu_second = 1 / rec.cpu_seconds;
  rec.peak_rss_bytes = r.usage->max_rss_bytes;
  rec.peak_rss_scope = "process_lifetime";
  rec.major_faults = r.usage->major_faults;
  rec.voluntary_context_switches = r.usage->voluntary_context_switches;
  rec.exit_status = r.exit_code;
  rec.output_checksum = run.checksum;
  rec.build = {{"package", setting.package}};
  rec.thp = {{"enabled", thp_setting("enabled")}, {"defrag", thp_setting("defrag")}};
  return run;
}

}  // namespace lab
