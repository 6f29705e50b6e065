#include "workloads/driver.h"

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "common/build_flags.h"
#include "common/process.h"
#include "workloads/support/blocks.h"
#include "workloads/support/measure.h"
#include "workloads/support/protocol.h"
#include "workloads/support/record.h"
#include "workloads/support/validate.h"

namespace lab {
namespace {

constexpr uint64_t kSmokeOps = 50'000;
// The settle step's default length for workloads that measure memory
// return: four times hakmem's default purge delay (250 ms) and 100 times
// mimalloc's (10 ms), so both have long passed, yet short enough that the
// default comparison stays about as long. jemalloc's dirty decay (10 s by
// default) spreads its return over longer than this: what is left after
// one second is what a program sees one second after a fall.
constexpr int64_t kDefaultSettleMs = 1000;

// One call in this many is timed. Measured (issue 14's closing note): the
// cost of sampling at this rate is under 2% of ops/s on every workload.
constexpr int64_t kDefaultLatencySample = 1024;

const std::vector<IntFlagSpec>& common_flags() {
  static const std::vector<IntFlagSpec> kFlags = {
      {"ops", 0, 1, int64_t{1} << 50, "total operations (allocations + frees + reallocs); 0 = workload default"},
      {"threads", 1, 1, 1024, "worker threads"},
      {"seed", 42, 0, INT64_MAX, "PRNG seed: the same seed gives the same sequence of requests"},
      {"cpus", 0, 0, 1024,
       "run every thread on the first N CPUs this process may use (0 = all of them); 1 makes threads "
       "take turns on one CPU, so their interleaving no longer depends on the machine's other load"},
      {"rss_sample_ms", -1, -1, 60'000,
       "sample RSS every N ms into rss_series (0 = off, -1 = the workload's default: 10 for growth and mid_churn, "
       "else off)"},
      {"latency_sample", kDefaultLatencySample, 1, int64_t{1} << 30,
       "time one malloc in N and one free in N (N rounded up to a power of two; rdtscp), into the record's latency "
       "percentiles"},
      {"settle_ms", -1, -1, 600'000,
       "after the drain, stay lightly alive N ms (one small request every 10 ms) and then read RSS into "
       "rss_after_settle_bytes, so every allocator can purge what its delay held back (0 = no settle step, -1 = "
       "the workload's default: 1000 for workloads that measure memory return (growth, mid_churn), else 0)"},
  };
  return kFlags;
}

std::string usage(const char* argv0, const DriverIdentity& id) {
  std::ostringstream out;
  out << "usage: " << argv0 << " --workload=NAME [flags]\n"
      << "Runs one workload on allocator '" << id.allocator_name << "' (" << id.allocator_kind
      << ") and prints one JSON record on stdout.\n\n"
      << "Flags:\n"
      << "  --workload=NAME         workload to run (see below)\n"
      << "  --smoke                 tiny run (" << kSmokeOps << " ops unless --ops is given)\n"
      << "  --list                  print the workload names and exit\n"
      << "  --dry-run               check the flags, build the workload, exit without running\n"
      << "  --preloaded=NAME        this glibc-linked driver runs under LD_PRELOAD of allocator NAME's\n"
      << "                          library: the record is NAME's (preload mode; checked: malloc must\n"
      << "                          not come from libc)\n"
      << "  --inject-fault=K[@A]    test hook: crash, hang, or (test-only builds) corrupt a block,\n"
      << "                          only on allocator A's driver if @A is given\n"
      << "  --help                  this text\n"
      << describe_flags(common_flags())
      << "\nEvery run ends with one JSON line on stdout carrying \"status\": the record itself when it\n"
      << "ran, else {\"status\", \"reason\"} (workloads/support/protocol.h). Exit status and status:\n";
  for (const DriverStatusInfo& s : kDriverStatuses) out << "  " << s.exit_code << " " << s.name << "\n";
  out << "(ok: ran; bad_flags: nothing ran; validation_failed: a block was corrupted; refused: the\n"
      << "allocator declares it cannot serve this run, e.g. bound with several threads).\n"
      << "\nWorkloads and their flags:\n";
  for (const WorkloadDef& w : id.workloads) {
    out << "\n" << w.name << ": " << w.summary << " (default --ops=" << w.default_ops << ")\n"
        << describe_flags(w.params);
  }
  return out.str();
}

// Why this allocator cannot serve this run, or "" when it can.
std::string refusal(const DriverIdentity& id, const Workload& w, int64_t settle_ms) {
  const std::string who = std::string(id.allocator_name);
  if (id.limits.single_thread && w.workers() > 1)
    return who + " serves one thread only; this run has " + std::to_string(w.workers()) + " worker threads";
  if (id.limits.single_thread && w.allocates_from_new_threads())
    return who + " serves one thread only; this workload allocates from a new thread every round";
  if (w.max_block_size() > id.limits.max_size)
    return who + " serves blocks up to " + std::to_string(id.limits.max_size) + " bytes; this run asks for up to " +
           std::to_string(w.max_block_size());
  if (!id.limits.returns_memory && w.measures_memory_return())
    return who + " never returns memory, and this workload measures memory return";
  // The step's requests come from the main thread, which is not a worker,
  // and measure what an allocator gives back.
  if (!id.limits.returns_memory && settle_ms > 0)
    return who + " never returns memory, and --settle-ms asks what memory it returned";
  return "";
}

// One line for the person on stderr, one status line for the harness.
int finish(DriverStatus status, const std::string& reason) {
  const char* prefix = status == DriverStatus::kRefused ? "refused: " : "error: ";
  const char* hint = status == DriverStatus::kBadFlags ? " (try --help)" : "";
  fprintf(stderr, "%s%s%s\n", prefix, reason.c_str(), hint);
  std::cout << status_line(status, reason) << std::endl;
  return exit_code_of(status);
}

int usage_error(const std::string& message) { return finish(DriverStatus::kBadFlags, message); }

// The file that defines `fn` in this process ("unknown" if none says).
std::string defining_file(void* fn) {
  Dl_info info{};
  if (dladdr(fn, &info) != 0 && info.dli_fname != nullptr) return info.dli_fname;
  return "unknown";
}

std::string malloc_provider(const DriverIdentity& id) {
  if (std::string(id.allocator_kind) == "hakmem") return std::string("hakmem:") + id.allocator_name + " (linked, inline)";
  void* (*m)(size_t) = &malloc;
  return defining_file(reinterpret_cast<void*>(m));
}

// Who this process really runs on. Preload mode runs the glibc-linked
// driver with LD_PRELOAD and --preloaded=NAME: the record then speaks for
// NAME, once malloc is seen to come from somewhere other than libc (a
// library that failed to load would otherwise measure glibc under NAME).
struct Subject {
  std::string allocator;
  std::string kind;
  std::string mode;  // "linked" or "preload"
};

std::optional<Subject> subject_of(const DriverIdentity& id, const std::string& preloaded, std::string* error) {
  if (preloaded.empty()) return Subject{id.allocator_name, id.allocator_kind, "linked"};
  if (std::string(id.allocator_name) != "glibc") {
    *error = "--preloaded needs the glibc-linked driver (driver_glibc); this one is linked to " +
             std::string(id.allocator_name);
    return std::nullopt;
  }
  const std::string provider = malloc_provider(id);
  pid_t (*libc_function)() = &getpid;
  if (provider == defining_file(reinterpret_cast<void*>(libc_function))) {
    *error = "--preloaded=" + preloaded + ", but malloc comes from " + provider + ": nothing was preloaded";
    return std::nullopt;
  }
  // hakmem's libraries say which variant they are.
  const bool hakmem = dlsym(RTLD_DEFAULT, "hak_variant_name") != nullptr;
  return Subject{preloaded, hakmem ? "hakmem" : "system", "preload"};
}

using SyscallCounter = void (*)(hak_syscalls*);

// Where this process's hakmem counts its system calls: the linked variant's
// hak_syscall_counts, or a preloaded library's, found by name. nullptr (and
// *reason) when there is none to ask.
SyscallCounter syscall_counter(const DriverIdentity& id, const Subject& subject, std::string* reason) {
  if (subject.kind != "hakmem") {
    *reason = "not counted: not hakmem";
    return nullptr;
  }
  SyscallCounter counter = subject.mode == "linked"
                               ? id.syscall_counts
                               : reinterpret_cast<SyscallCounter>(dlsym(RTLD_DEFAULT, "hak_syscall_counts"));
  if (counter == nullptr) *reason = "not counted: this hakmem build has no hak_syscall_counts (an older library)";
  return counter;
}

SyscallTally read_syscalls(SyscallCounter counter) {
  hak_syscalls c{};
  counter(&c);
  return {c.mmap, c.munmap, c.madvise, c.mremap};
}

// hakmem's learner report: the linked variant's, or a preloaded library's
// found by name; nothing for a peer (or a library from before the learner).
LearnAbi learn_abi(const DriverIdentity& id, const Subject& subject) {
  if (subject.kind != "hakmem") return {nullptr, nullptr};
  if (subject.mode == "linked") return id.learn;
  return {reinterpret_cast<void (*)(hak_learning*)>(dlsym(RTLD_DEFAULT, "hak_learn_report")),
          reinterpret_cast<size_t (*)(hak_learn_decision*, size_t, size_t)>(dlsym(RTLD_DEFAULT, "hak_learn_decisions"))};
}

// What the learner did, its trace's times moved to the timed region's
// origin (start_steady_ns). The learner's clock (CLOCK_MONOTONIC_COARSE,
// ms) is read beside the steady clock (CLOCK_MONOTONIC) once, for the
// offset between them (at most a tick of the coarse clock).
std::optional<RunLearning> read_learning(const LearnAbi& abi, int64_t start_steady_ns,
                                         const nlohmann::ordered_json& phases) {
  if (abi.report == nullptr || abi.decisions == nullptr) return std::nullopt;
  hak_learning report{};
  abi.report(&report);
  const int64_t steady_now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  const double offset_ms = static_cast<double>(steady_now_ns - start_steady_ns) * 1e-6 - static_cast<double>(report.clock_ms);
  RunLearning l;
  l.mode = report.mode != nullptr ? report.mode : "";
  l.interval_ms = report.interval_ms;
  l.passes = report.passes;
  l.cpu_seconds = static_cast<double>(report.cpu_ns) * 1e-9;
  l.error = report.error != nullptr ? report.error : "";
  l.dropped = report.dropped;
  hak_learn_decision batch[256];
  for (size_t first = 0;;) {
    const size_t n = abi.decisions(batch, first, std::size(batch));
    for (size_t i = 0; i < n; ++i) {
      const hak_learn_decision& d = batch[i];
      l.trace.push_back({static_cast<double>(d.t_ms) + offset_ms, d.knob, d.index, d.old_value, d.new_value, d.signal});
    }
    if (n < std::size(batch)) break;
    first += n;
  }
  l.phases = phases;
  return l;
}

nlohmann::ordered_json build_json(const DriverIdentity& id) {
  return {{"compiler", std::string("gcc ") + __VERSION__},
          {"compilation_mode", id.compilation_mode},
          {"compile_flags", compile_flags_of_self()}};
}

}  // namespace

int driver_main(int argc, char** argv, const DriverIdentity& id) {
  RawFlags raw;
  if (auto error = split_flags(argc, argv, &raw)) return usage_error(*error);
  if (!raw.positional.empty()) return usage_error("unexpected argument '" + raw.positional[0] + "'");

  std::string workload_name;
  bool smoke = false;
  bool dry_run = false;
  std::string inject_fault;
  std::string preloaded;
  for (const auto& [name, value] : raw.pairs) {
    if (name == "help") {
      std::cout << usage(argv[0], id);
      return 0;
    }
    if (name == "list") {
      // name, summary and, for a workload whose length is --minutes, a
      // third column "minutes" (compare leaves those out by default).
      for (const WorkloadDef& w : id.workloads)
        std::cout << w.name << "\t" << w.summary << (w.length_in_minutes ? "\tminutes" : "") << "\n";
      return 0;
    }
    if (name == "workload") workload_name = value;
    if (name == "smoke") smoke = true;
    if (name == "dry_run") dry_run = true;
    if (name == "inject_fault") inject_fault = value;
    if (name == "preloaded") preloaded = value;
  }
  if (workload_name.empty()) return usage_error("--workload is required");
  std::string subject_error;
  const std::optional<Subject> subject = subject_of(id, preloaded, &subject_error);
  if (!subject) return usage_error(subject_error);
  const WorkloadDef* def = nullptr;
  std::string known;
  for (const WorkloadDef& w : id.workloads) {
    if (workload_name == w.name) def = &w;
    known += (known.empty() ? "" : ", ") + std::string(w.name);
  }
  if (def == nullptr) return usage_error("unknown workload '" + workload_name + "' (known: " + known + ")");

  std::map<std::string, int64_t> values;
  std::map<std::string, const IntFlagSpec*> specs;
  for (const IntFlagSpec& s : common_flags()) specs[s.name] = &s;
  for (const IntFlagSpec& s : def->params) specs[s.name] = &s;
  for (const auto& [name, spec] : specs) values[name] = spec->default_value;
  std::set<std::string> given;
  for (const auto& [name, value] : raw.pairs) {
    if (name == "workload" || name == "smoke" || name == "dry_run" || name == "inject_fault" || name == "preloaded")
      continue;
    auto it = specs.find(name);
    if (it == specs.end()) return usage_error("unknown flag --" + name + " for workload " + def->name);
    if (auto error = parse_int_flag(*it->second, value, &values[name])) return usage_error(*error);
    given.insert(name);
  }

  WorkloadConfig config;
  config.ops = values["ops"] != 0 ? static_cast<uint64_t>(values["ops"]) : def->default_ops;
  if (smoke && given.count("ops") == 0) config.ops = kSmokeOps;
  config.smoke = smoke;
  if (def->length_in_minutes && given.count("ops") != 0)
    return usage_error("--ops does not apply to " + std::string(def->name) + ": its length is --minutes");
  config.threads = static_cast<unsigned>(values["threads"]);
  config.seed = static_cast<uint64_t>(values["seed"]);
  for (const IntFlagSpec& s : def->params) config.params[s.name] = values[s.name];

  std::string error;
  std::unique_ptr<Workload> workload = def->make(config, &error);
  if (workload == nullptr) return usage_error(error);
  const int64_t settle_ms = values["settle_ms"] >= 0                 ? values["settle_ms"]
                           : workload->measures_memory_return() ? kDefaultSettleMs
                                                                : 0;
  if (const std::string why = refusal(id, *workload, settle_ms); !why.empty())
    return finish(DriverStatus::kRefused, why);

  // Test hook: --inject_fault=KIND[@ALLOCATOR] makes this run crash or hang
  // (only on ALLOCATOR's driver, if given), to test the harness.
  std::string fault = inject_fault.substr(0, inject_fault.find('@'));
  if (inject_fault.find('@') != std::string::npos &&
      inject_fault.substr(inject_fault.find('@') + 1) != id.allocator_name) {
    fault.clear();
  }
  if (!fault.empty() && fault != "crash" && fault != "hang" && fault != "corrupt")
    return usage_error("--inject_fault must be crash, hang or corrupt, optionally @ALLOCATOR; got '" + inject_fault +
                       "'");
  if (fault == "corrupt") {
    if (!id.test_hooks) return usage_error("--inject_fault=corrupt needs a test-hooked driver (hooked_driver_*)");
    g_corrupt_block_id = first_block_id(0) + 100;  // worker 0's 101st block
  }
  std::vector<int> cpus = allowed_cpus();
  if (values["cpus"] != 0) {
    auto kept = restrict_to_first_cpus(static_cast<unsigned>(values["cpus"]), &error);
    if (!kept) return usage_error("--cpus=" + std::to_string(values["cpus"]) + ": " + error);
    cpus = *kept;
  }
  if (dry_run) {
    std::cout << nlohmann::ordered_json{{"status", info_of(DriverStatus::kOk).name}, {"dry_run", true},
                                        {"workload", def->name},
                                        {"allocator", subject->allocator},
                                        {"allocator_kind", subject->kind},
                                        {"mode", subject->mode},
                                        {"ops", config.ops},       {"threads", config.threads},
                                        {"workers", workload->workers()}, {"seed", config.seed},
                                        {"params", config.params}, {"cpus", cpus},
                                        {"settle_ms", settle_ms},
                                        {"build", build_json(id)}}
                     .dump()
              << std::endl;
    return 0;
  }
  set_failure_context(std::string(def->name) + " on " + subject->allocator + " (seed " +
                      std::to_string(config.seed) + ", threads " + std::to_string(config.threads) + ")");

  if (fault == "crash") raise(SIGSEGV);
  if (fault == "hang") pause();

  MeasureOptions options;
  options.workers = workload->workers();
  options.rss_sample_ms = values["rss_sample_ms"] >= 0 ? values["rss_sample_ms"] : def->default_rss_sample_ms;
  options.settle_ms = settle_ms;
  options.settle_request = id.settle_request;
  LatencyRun latency(options.workers, static_cast<uint32_t>(values["latency_sample"]));
  if (!latency.ok()) return usage_error("cannot map the latency histograms (--latency_sample): out of memory");
  options.latency = &latency;
  options.live_bytes = [&workload] { return workload->live_bytes(); };
  RunSyscalls syscalls;
  const SyscallCounter counter = syscall_counter(id, *subject, &syscalls.reason);
  SyscallTally calls_at_start, calls_at_end;
  if (counter != nullptr) {
    options.at_start = [&] { calls_at_start = read_syscalls(counter); };
    options.at_end = [&] { calls_at_end = read_syscalls(counter); };
  }
  Measurement m = measure(
      options, [&](unsigned w) { workload->prepare(w); }, [&](unsigned w) { workload->run(w); },
      [&](unsigned w) { workload->drain(w); });

  if (counter != nullptr) {
    syscalls.timed = calls_at_end - calls_at_start;
    syscalls.process = read_syscalls(counter);  // the drain is over: every worker has joined
  }
  const uint64_t ops = workload->ops_done();
  const WorkerCounts counts = workload->totals();
  RunRecord record;
  record.workload = def->name;
  record.allocator = subject->allocator;
  record.allocator_kind = subject->kind;
  record.mode = subject->mode;
  record.malloc_provider = malloc_provider(id);
  record.threads = static_cast<int>(config.threads);
  record.workers = static_cast<int>(options.workers);
  record.seed = config.seed;
  record.cpus = cpus;
  record.smoke = smoke;
  record.params = config.params;
  record.ops = ops;
  record.seconds = m.seconds;
  record.ops_per_sec = m.seconds > 0 ? static_cast<double>(ops) / m.seconds : 0.0;
  record.cpu_seconds = m.cpu_seconds;
  if (m.cpu_seconds > 0) record.ops_per_cpu_second = static_cast<double>(ops) / m.cpu_seconds;
  record.peak_rss_bytes = m.peak_rss_bytes;
  record.peak_rss_scope = m.peak_rss_reset ? "timed_region_and_drain" : "process_lifetime";
  record.rss_start_bytes = m.rss_start_bytes;
  record.rss_end_bytes = m.rss_end_bytes;
  record.rss_after_drain_bytes = m.rss_after_drain_bytes;
  record.settle_ms = options.settle_ms;
  record.rss_after_settle_bytes = m.rss_after_settle_bytes;
  record.major_faults = m.major_faults;
  record.voluntary_context_switches = m.voluntary_context_switches;
  record.counters = m.counters;
  record.counts = {counts.prepare_allocations, counts.allocations, counts.frees, counts.reallocs, counts.drain_frees};
  record.blocks_checked = counts.checked;
  record.syscalls = syscalls;
  record.latency = latency.summary();
  nlohmann::ordered_json phases = nlohmann::ordered_json::array();
  for (const PhaseMark& mark : workload->phases())
    phases.push_back({{"name", mark.name}, {"t_ms", static_cast<double>(mark.at_ns - m.start_steady_ns) * 1e-6}});
  record.learning = read_learning(learn_abi(id, *subject), m.start_steady_ns, phases);
  if (options.rss_sample_ms > 0) {
    nlohmann::ordered_json t_ms = nlohmann::ordered_json::array(), rss = nlohmann::ordered_json::array(),
                           live = nlohmann::ordered_json::array();
    for (const RssSample& s : m.rss_series) {
      t_ms.push_back(static_cast<double>(s.t_ns) * 1e-6);
      rss.push_back(s.rss_bytes);
      live.push_back(s.live_bytes ? nlohmann::ordered_json(*s.live_bytes) : nlohmann::ordered_json(nullptr));
    }
    record.rss_series = {{"interval_ms", options.rss_sample_ms},
                         {"t_ms", t_ms},
                         {"rss_bytes", rss},
                         {"phases", phases},
                         {"drain_start_ms", static_cast<double>(m.drain_start_ns) * 1e-6},
                         {"drain_end_ms", static_cast<double>(m.drain_end_ns) * 1e-6},
                         {"settle_end_ms", static_cast<double>(m.settle_end_ns) * 1e-6}};
    if (workload->live_bytes()) (*record.rss_series)["live_bytes"] = live;
  }
  record.build = build_json(id);
  record.thp = {{"enabled", thp_setting("enabled")}, {"defrag", thp_setting("defrag")}};
  std::cout << nlohmann::ordered_json(record).dump() << std::endl;
  return 0;
}

}  // namespace lab
