// The run record: what one driver run measured. This type is the record's
// one owner. The driver fills it and prints it as its status line
// (workloads/support/protocol.h); the harness parses it back into the same
// type, summarizes it (run_metrics() below) and stores it verbatim in the
// results file. results/SCHEMA.md documents every field.
//
// Adding a metric: a field here, its line in to_json/from_json (record.cc),
// a row in run_metrics() if it is to be summarized over repetitions, a line
// in results/SCHEMA.md, and the places that show it (the table, the
// report). Nothing else reads records by key.
//
// Records are written back as they were read: a version 1 record (results
// files before schema 2) reads with the fields it lacks empty and listed
// in `absent`, and is written back without them; keys this type does not
// know are kept in `unknown` and written back verbatim, so an older reader
// loses nothing of a newer record.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lab {

inline constexpr int kRecordVersion = 2;

struct RunCounts {
  uint64_t prepare_allocations = 0;  // untimed set-up
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t reallocs = 0;
  uint64_t drain_frees = 0;  // untimed drain
};

// System calls of one kind each, made by the allocator under test.
//   total() == mmap + munmap + madvise + mremap
struct SyscallTally {
  uint64_t mmap = 0;
  uint64_t munmap = 0;
  uint64_t madvise = 0;
  uint64_t mremap = 0;
  uint64_t total() const { return mmap + munmap + madvise + mremap; }
  SyscallTally operator-(const SyscallTally& earlier) const {
    return {mmap - earlier.mmap, munmap - earlier.munmap, madvise - earlier.madvise, mremap - earlier.mremap};
  }
};

// What hakmem's Pal counted (hak_syscall_counts). A peer's calls are not
// counted (seeing them would take ptrace or seccomp, which slow every call
// down): both are null and `reason` says why, never a made-up 0.
struct RunSyscalls {
  std::optional<SyscallTally> timed;    // over the timed region
  std::optional<SyscallTally> process;  // since the process started, read after the drain
  std::string reason;                   // why they are null, else empty
};

// One decision of hakmem's learner (hak_learn_decisions): at t_ms, from
// the timed region's start (rss_series' origin; before it is negative),
// knob (of tiny class or SuperSlab group `index`, or -1) went from
// old_value to new_value because of `signal`. "start" entries give every
// knob's value when the learner began.
struct LearnDecision {
  double t_ms = 0;
  std::string knob;
  int index = -1;
  uint64_t old_value = 0;
  uint64_t new_value = 0;
  std::string signal;
  bool operator==(const LearnDecision&) const = default;
};

// What hakmem's learning layer did in the run (HAKMEM_LEARN; hakmem drivers
// only, linked or preloaded). results/SCHEMA.md, "learning".
struct RunLearning {
  std::string mode;          // "off", "rules", "on" or "frozen"
  uint64_t interval_ms = 0;  // the learner thread's period; 0: no thread
  uint64_t passes = 0;       // its passes, whole process
  double cpu_seconds = 0;    // its CPU time, whole process
  std::string error;         // why frozen ran without its file's knobs, else empty
  uint64_t dropped = 0;      // decisions past the trace's capacity
  std::vector<LearnDecision> trace;
  nlohmann::ordered_json phases = nlohmann::ordered_json::array();  // the workload's marks: [{name, t_ms}]
};

// One kind of call's sampled latencies (workloads/support/latency.h), in
// ns. Percentiles are the highest value of their histogram bucket (at most
// 0.1% above the true value), never above max_ns.
//   p50_ns <= p90_ns <= p99_ns <= p99_9_ns <= p99_99_ns <= max_ns
struct LatencyOp {
  uint64_t samples = 0;
  double p50_ns = 0;
  double p90_ns = 0;
  double p99_ns = 0;
  double p99_9_ns = 0;
  double p99_99_ns = 0;
  double max_ns = 0;
  uint64_t over_10us = 0;  // sampled calls above 10 us: page faults, system calls, preemption
  // [percentile, ns] pairs at evenly spaced points of a log tail axis
  // (p = 100 (1 - 10^(-j/5))) as far as the samples reach, then max: what
  // the report's percentile plot draws.
  std::vector<std::array<double, 2>> curve;
  bool operator==(const LatencyOp&) const = default;
};

// Per-call latency of the timed region, malloc and free (results/SCHEMA.md,
// "latency"). Drivers only.
struct RunLatency {
  std::string method;          // how a call is timed: "rdtscp; lfence"
  uint64_t sample_every = 0;   // one call in this many (mean), per kind of call
  double tsc_ticks_per_ns = 0;  // calibration_ticks / calibration_ns
  int64_t calibration_ns = 0;   // CLOCK_MONOTONIC over the timed region
  uint64_t calibration_ticks = 0;
  double timer_floor_ns = 0;  // an empty bracket's median: part of every sample, not subtracted
  LatencyOp malloc;
  LatencyOp free;
  bool operator==(const RunLatency&) const = default;
};

struct RunRecord {
  int record_version = kRecordVersion;
  std::string status = "ok";  // the protocol's status: a record is always "ok"
  std::string workload;
  std::string allocator;
  std::string allocator_kind;   // "hakmem" or "system"
  std::string mode = "linked";  // "linked": the driver is built on the allocator; "preload": LD_PRELOAD (version 2)
  std::string malloc_provider;  // what malloc resolves to in the measured process
  int threads = 1;
  int workers = 1;
  uint64_t seed = 0;
  std::vector<int> cpus;
  bool smoke = false;
  nlohmann::ordered_json params = nlohmann::ordered_json::object();  // the workload's own flags
  uint64_t ops = 0;  // allocations + frees + reallocs in the timed region
  double seconds = 0;
  double ops_per_sec = 0;
  double cpu_seconds = 0;  // user + system, all threads
  std::optional<double> ops_per_cpu_second;
  std::optional<int64_t> peak_rss_bytes;
  std::string peak_rss_scope;  // "timed_region_and_drain" or "process_lifetime"
  std::optional<int64_t> rss_start_bytes;
  std::optional<int64_t> rss_end_bytes;
  std::optional<int64_t> rss_after_drain_bytes;
  // The settle step (workloads/support/measure.cc): its length, and RSS at
  // its end (null when it was 0 ms: no step). Written only when settle_ms
  // is set: drivers always set it, program runs never; records written
  // before it lack both keys.
  std::optional<int64_t> settle_ms;
  std::optional<int64_t> rss_after_settle_bytes;
  // getrusage over the timed region, all threads (version 2).
  std::optional<int64_t> major_faults;
  std::optional<int64_t> voluntary_context_switches;
  // A program run (the program suite, harness/programs_main.cc); written
  // only when set, so driver records do not carry them.
  std::optional<int> exit_status;              // the program's exit code
  std::optional<std::string> output_checksum;  // "fnv1a64:<16 hex digits>" of its stdout and output files
  // perf counters: {name: {"value": N | null, "reason"?, ...}}
  nlohmann::ordered_json counters = nlohmann::ordered_json::object();
  RunCounts counts;
  uint64_t blocks_checked = 0;  // "validation"
  // Written only when set: drivers always set it (version 2), program runs
  // never (the program's calls are not the harness's to read).
  std::optional<RunSyscalls> syscalls;
  std::optional<nlohmann::ordered_json> rss_series;  // present when RSS was sampled
  std::optional<RunLearning> learning;               // hakmem's learner; written only when set
  std::optional<RunLatency> latency;                 // sampled call latency; drivers only
  nlohmann::ordered_json build = nlohmann::ordered_json::object();
  nlohmann::ordered_json thp = nlohmann::ordered_json::object();
  nlohmann::ordered_json unknown = nlohmann::ordered_json::object();  // keys this version does not know
  // Keys this type knows that the record read had not (an older record):
  // they are written back absent, not as defaults.
  std::vector<std::string> absent;

  // A perf counter's value, when the machine had it.
  std::optional<double> counter(const char* name) const;
};

void to_json(nlohmann::ordered_json& j, const RunRecord& r);
// Throws nlohmann::json::exception on a field of the wrong type.
void from_json(const nlohmann::ordered_json& j, RunRecord& r);

// The metrics summarized over a cell's repetitions, in this order, by name.
struct RunMetric {
  const char* name;
  const char* unit;
  std::optional<double> (*of)(const RunRecord& record);
};
const std::vector<RunMetric>& run_metrics();
const RunMetric* find_run_metric(const std::string& name);

}  // namespace lab
