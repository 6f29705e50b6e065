#include "workloads/support/record.h"

#include <algorithm>
#include <set>

namespace lab {
namespace {

using Json = nlohmann::ordered_json;

template <class T>
Json optional_json(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

// Reads `key` into `out` when present; a null leaves an optional empty.
template <class T>
void read(const Json& j, const char* key, T& out) {
  if (j.contains(key)) j.at(key).get_to(out);
}

template <class T>
void read(const Json& j, const char* key, std::optional<T>& out) {
  if (j.contains(key) && !j.at(key).is_null()) out = j.at(key).get<T>();
}

// Every key to_json writes (those of a full record); anything else a
// record carries is kept verbatim.
const std::set<std::string>& known_keys() {
  static const std::set<std::string> kKeys = [] {
    RunRecord full;
    full.rss_series = Json::object();
    full.exit_status = 0;
    full.output_checksum = "";
    full.syscalls = RunSyscalls{};
    full.settle_ms = 0;
    const Json written = full;
    std::set<std::string> keys;
    for (auto it = written.begin(); it != written.end(); ++it) keys.insert(it.key());
    return keys;
  }();
  return kKeys;
}

// Keys written only when set: their absence says nothing about the version.
const std::set<std::string>& optional_keys() {
  static const std::set<std::string> kKeys = {"rss_series", "exit_status", "output_checksum", "syscalls",
                                              "settle_ms", "rss_after_settle_bytes"};
  return kKeys;
}

Json tally_json(const std::optional<SyscallTally>& t) {
  if (!t) return nullptr;
  return {{"mmap", t->mmap}, {"munmap", t->munmap}, {"madvise", t->madvise}, {"mremap", t->mremap}};
}

std::optional<SyscallTally> tally_of(const Json& j) {
  if (j.is_null()) return std::nullopt;
  if (!j.is_object()) throw Json::type_error::create(302, "system-call counts must be an object or null", &j);
  SyscallTally t;
  read(j, "mmap", t.mmap);
  read(j, "munmap", t.munmap);
  read(j, "madvise", t.madvise);
  read(j, "mremap", t.mremap);
  return t;
}

template <class T>
std::optional<double> as_double(const std::optional<T>& v) {
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}

}  // namespace

std::optional<double> RunRecord::counter(const char* name) const {
  if (!counters.contains(name) || !counters[name].is_object()) return std::nullopt;
  const Json& value = counters[name].value("value", Json(nullptr));
  return value.is_number() ? std::optional<double>(value.get<double>()) : std::nullopt;
}

void to_json(Json& j, const RunRecord& r) {
  j = Json::object();
  const auto put = [&](const char* key, Json value) {
    if (std::find(r.absent.begin(), r.absent.end(), key) == r.absent.end()) j[key] = std::move(value);
  };
  put("record_version", r.record_version);
  put("status", r.status);
  put("workload", r.workload);
  put("allocator", r.allocator);
  put("allocator_kind", r.allocator_kind);
  put("mode", r.mode);
  put("malloc_provider", r.malloc_provider);
  put("threads", r.threads);
  put("workers", r.workers);
  put("seed", r.seed);
  put("cpus", r.cpus);
  put("smoke", r.smoke);
  put("params", r.params);
  put("ops", r.ops);
  put("seconds", r.seconds);
  put("ops_per_sec", r.ops_per_sec);
  put("cpu_seconds", r.cpu_seconds);
  put("ops_per_cpu_second", optional_json(r.ops_per_cpu_second));
  put("peak_rss_bytes", optional_json(r.peak_rss_bytes));
  put("peak_rss_scope", r.peak_rss_scope);
  put("rss_start_bytes", optional_json(r.rss_start_bytes));
  put("rss_end_bytes", optional_json(r.rss_end_bytes));
  put("rss_after_drain_bytes", optional_json(r.rss_after_drain_bytes));
  if (r.settle_ms) {
    j["settle_ms"] = *r.settle_ms;
    j["rss_after_settle_bytes"] = optional_json(r.rss_after_settle_bytes);
  }
  put("major_faults", optional_json(r.major_faults));
  put("voluntary_context_switches", optional_json(r.voluntary_context_switches));
  if (r.exit_status) j["exit_status"] = *r.exit_status;
  if (r.output_checksum) j["output_checksum"] = *r.output_checksum;
  put("counters", r.counters);
  put("counts", {{"prepare_allocations", r.counts.prepare_allocations},
                 {"allocations", r.counts.allocations},
                 {"frees", r.counts.frees},
                 {"reallocs", r.counts.reallocs},
                 {"drain_frees", r.counts.drain_frees}});
  put("validation", {{"blocks_checked", r.blocks_checked}});
  if (r.rss_series) j["rss_series"] = *r.rss_series;
  if (r.syscalls) {
    Json& calls = j["syscalls"] = {{"timed", tally_json(r.syscalls->timed)},
                                   {"process", tally_json(r.syscalls->process)}};
    if (!r.syscalls->reason.empty()) calls["reason"] = r.syscalls->reason;
  }
  put("build", r.build);
  put("thp", r.thp);
  for (auto it = r.unknown.begin(); it != r.unknown.end(); ++it) j[it.key()] = it.value();
}

void from_json(const Json& j, RunRecord& r) {
  if (!j.is_object()) throw Json::type_error::create(302, "a run record must be an object", &j);
  r = RunRecord{};
  if (!j.contains("record_version")) r.record_version = 1;  // the earliest records did not say
  read(j, "record_version", r.record_version);
  read(j, "status", r.status);
  read(j, "workload", r.workload);
  read(j, "allocator", r.allocator);
  read(j, "allocator_kind", r.allocator_kind);
  read(j, "mode", r.mode);
  read(j, "malloc_provider", r.malloc_provider);
  read(j, "threads", r.threads);
  read(j, "workers", r.workers);
  read(j, "seed", r.seed);
  read(j, "cpus", r.cpus);
  read(j, "smoke", r.smoke);
  read(j, "params", r.params);
  read(j, "ops", r.ops);
  read(j, "seconds", r.seconds);
  read(j, "ops_per_sec", r.ops_per_sec);
  read(j, "cpu_seconds", r.cpu_seconds);
  read(j, "ops_per_cpu_second", r.ops_per_cpu_second);
  read(j, "peak_rss_bytes", r.peak_rss_bytes);
  read(j, "peak_rss_scope", r.peak_rss_scope);
  read(j, "rss_start_bytes", r.rss_start_bytes);
  read(j, "rss_end_bytes", r.rss_end_bytes);
  read(j, "rss_after_drain_bytes", r.rss_after_drain_bytes);
  read(j, "settle_ms", r.settle_ms);
  read(j, "rss_after_settle_bytes", r.rss_after_settle_bytes);
  read(j, "major_faults", r.major_faults);
  read(j, "voluntary_context_switches", r.voluntary_context_switches);
  read(j, "exit_status", r.exit_status);
  read(j, "output_checksum", r.output_checksum);
  read(j, "counters", r.counters);
  if (j.contains("counts")) {
    const Json& c = j.at("counts");
    read(c, "prepare_allocations", r.counts.prepare_allocations);
    read(c, "allocations", r.counts.allocations);
    read(c, "frees", r.counts.frees);
    read(c, "reallocs", r.counts.reallocs);
    read(c, "drain_frees", r.counts.drain_frees);
  }
  if (j.contains("validation")) read(j.at("validation"), "blocks_checked", r.blocks_checked);
  if (j.contains("rss_series")) r.rss_series = j.at("rss_series");
  if (j.contains("syscalls")) {
    const Json& calls = j.at("syscalls");
    r.syscalls = RunSyscalls{tally_of(calls.value("timed", Json(nullptr))),
                             tally_of(calls.value("process", Json(nullptr))), calls.value("reason", "")};
  }
  read(j, "build", r.build);
  read(j, "thp", r.thp);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (known_keys().count(it.key()) == 0) r.unknown[it.key()] = it.value();
  for (const std::string& key : known_keys())
    if (!j.contains(key) && optional_keys().count(key) == 0) r.absent.push_back(key);
}

const std::vector<RunMetric>& run_metrics() {
  static const std::vector<RunMetric> kMetrics = {
      {"ops_per_sec", "1/s", [](const RunRecord& r) { return std::optional<double>(r.ops_per_sec); }},
      {"seconds", "s", [](const RunRecord& r) { return std::optional<double>(r.seconds); }},
      {"cpu_seconds", "s", [](const RunRecord& r) { return std::optional<double>(r.cpu_seconds); }},
      {"ops_per_cpu_second", "1/s", [](const RunRecord& r) { return r.ops_per_cpu_second; }},
      // CPU time over wall time: about 1 per busy thread when the run had
      // its CPUs to itself, far less when another process competed.
      {"cpu_share", "1",
       [](const RunRecord& r) {
         return r.seconds > 0 ? std::optional<double>(r.cpu_seconds / r.seconds) : std::nullopt;
       }},
      {"peak_rss_bytes", "B", [](const RunRecord& r) { return as_double(r.peak_rss_bytes); }},
      {"rss_end_bytes", "B", [](const RunRecord& r) { return as_double(r.rss_end_bytes); }},
      {"rss_after_drain_bytes", "B", [](const RunRecord& r) { return as_double(r.rss_after_drain_bytes); }},
      {"rss_after_settle_bytes", "B", [](const RunRecord& r) { return as_double(r.rss_after_settle_bytes); }},
      {"minor_faults", "1", [](const RunRecord& r) { return r.counter("minor_faults"); }},
      {"major_faults", "1", [](const RunRecord& r) { return as_double(r.major_faults); }},
      {"voluntary_context_switches", "1",
       [](const RunRecord& r) { return as_double(r.voluntary_context_switches); }},
      // hakmem's mmap, munmap, madvise and mremap calls in the timed region
      // per million operations; null where they were not counted (peers).
      {"syscalls_per_mop", "1/Mop",
       [](const RunRecord& r) {
         if (!r.syscalls || !r.syscalls->timed || r.ops == 0) return std::optional<double>();
         return std::optional<double>(static_cast<double>(r.syscalls->timed->total()) * 1e6 /
                                      static_cast<double>(r.ops));
       }},
  };
  return kMetrics;
}

const RunMetric* find_run_metric(const std::string& name) {
  for (const RunMetric& m : run_metrics())
    if (name == m.name) return &m;
  return nullptr;
}

}  // namespace lab
