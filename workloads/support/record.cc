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
    full.learning = RunLearning{};
    full.latency = RunLatency{};
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
                                              "settle_ms", "rss_after_settle_bytes", "learning", "latency"};
  return kKeys;
}

// The trace is a table: one row per decision, the columns named once.
const Json& trace_columns() {
  static const Json kColumns = {"t_ms", "knob", "index", "old", "new", "signal"};
  return kColumns;
}

Json learning_json(const RunLearning& l) {
  Json rows = Json::array();
  for (const LearnDecision& d : l.trace) rows.push_back({d.t_ms, d.knob, d.index, d.old_value, d.new_value, d.signal});
  Json j = {{"mode", l.mode},
            {"interval_ms", l.interval_ms},
            {"passes", l.passes},
            {"cpu_seconds", l.cpu_seconds},
            {"dropped", l.dropped},
            {"columns", trace_columns()},
            {"trace", rows},
            {"phases", l.phases}};
  if (!l.error.empty()) j["error"] = l.error;
  return j;
}

RunLearning learning_of(const Json& j) {
  if (!j.is_object()) throw Json::type_error::create(302, "learning must be an object", &j);
  RunLearning l;
  l.mode = j.at("mode").get<std::string>();
  l.interval_ms = j.value("interval_ms", uint64_t{0});
  l.passes = j.value("passes", uint64_t{0});
  l.cpu_seconds = j.value("cpu_seconds", 0.0);
  l.dropped = j.value("dropped", uint64_t{0});
  l.error = j.value("error", std::string());
  if (j.contains("columns") && j.at("columns") != trace_columns())
    throw Json::other_error::create(501, "learning.columns must be " + trace_columns().dump(), &j);
  for (const Json& row : j.value("trace", Json::array())) {
    if (!row.is_array() || row.size() != trace_columns().size())
      throw Json::type_error::create(302, "a learning.trace row must have 6 columns", &row);
    l.trace.push_back({row[0].get<double>(), row[1].get<std::string>(), row[2].get<int>(), row[3].get<uint64_t>(),
                       row[4].get<uint64_t>(), row[5].get<std::string>()});
  }
  l.phases = j.value("phases", Json::array());
  return l;
}

Json latency_op_json(const LatencyOp& op) {
  Json curve = Json::array();
  for (const auto& point : op.curve) curve.push_back({point[0], point[1]});
  return {{"samples", op.samples}, {"p50_ns", op.p50_ns},     {"p90_ns", op.p90_ns},
          {"p99_ns", op.p99_ns},   {"p99_9_ns", op.p99_9_ns}, {"p99_99_ns", op.p99_99_ns},
          {"max_ns", op.max_ns},   {"over_10us", op.over_10us}, {"curve", curve}};
}

LatencyOp latency_op_of(const Json& j) {
  LatencyOp op;
  j.at("samples").get_to(op.samples);
  j.at("p50_ns").get_to(op.p50_ns);
  j.at("p90_ns").get_to(op.p90_ns);
  j.at("p99_ns").get_to(op.p99_ns);
  j.at("p99_9_ns").get_to(op.p99_9_ns);
  j.at("p99_99_ns").get_to(op.p99_99_ns);
  j.at("max_ns").get_to(op.max_ns);
  j.at("over_10us").get_to(op.over_10us);
  for (const Json& point : j.value("curve", Json::array())) {
    if (!point.is_array() || point.size() != 2)
      throw Json::type_error::create(302, "a latency curve point must be [percentile, ns]", &point);
    op.curve.push_back({point[0].get<double>(), point[1].get<double>()});
  }
  return op;
}

Json latency_json(const RunLatency& l) {
  return {{"method", l.method},
          {"sample_every", l.sample_every},
          {"calibration",
           {{"clock", "CLOCK_MONOTONIC"}, {"ns", l.calibration_ns}, {"ticks", l.calibration_ticks},
            {"ticks_per_ns", l.tsc_ticks_per_ns}}},
          {"timer_floor_ns", l.timer_floor_ns},
          {"malloc", latency_op_json(l.malloc)},
          {"free", latency_op_json(l.free)}};
}

RunLatency latency_of(const Json& j) {
  if (!j.is_object()) throw Json::type_error::create(302, "latency must be an object", &j);
  RunLatency l;
  j.at("method").get_to(l.method);
  j.at("sample_every").get_to(l.sample_every);
  const Json& c = j.at("calibration");
  c.at("ns").get_to(l.calibration_ns);
  c.at("ticks").get_to(l.calibration_ticks);
  c.at("ticks_per_ns").get_to(l.tsc_ticks_per_ns);
  j.at("timer_floor_ns").get_to(l.timer_floor_ns);
  l.malloc = latency_op_of(j.at("malloc"));
  l.free = latency_op_of(j.at("free"));
  return l;
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
  if (r.learning) j["learning"] = learning_json(*r.learning);
  if (r.latency) j["latency"] = latency_json(*r.latency);
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
  if (j.contains("learning") && !j.at("learning").is_null()) r.learning = learning_of(j.at("learning"));
  if (j.contains("latency") && !j.at("latency").is_null()) r.latency = latency_of(j.at("latency"));
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

namespace {

// The time-integral of RSS over the timed region, in MiB x s: the
// trapezoids between rss_series' samples up to the drain's start.
std::optional<double> rss_integral_mib_s(const RunRecord& r) {
  if (!r.rss_series || !r.rss_series->contains("t_ms") || !r.rss_series->contains("rss_bytes")) return std::nullopt;
  const Json& t = r.rss_series->at("t_ms");
  const Json& rss = r.rss_series->at("rss_bytes");
  const double end = r.rss_series->value("drain_start_ms", r.seconds * 1e3);
  double sum = 0;
  size_t used = 0;
  for (size_t i = 1; i < t.size() && i < rss.size(); ++i) {
    const double t0 = t[i - 1].get<double>(), t1 = std::min(t[i].get<double>(), end);
    if (t1 <= t0) break;
    sum += (t1 - t0) * 1e-3 * (rss[i - 1].get<double>() + rss[i].get<double>()) / 2 / (1 << 20);
    ++used;
  }
  return used != 0 ? std::optional<double>(sum) : std::nullopt;
}

// RSS at the end of a quiet pause, above the timed region's start: the
// last rss_series sample before the mark that follows the one named
// "idle_quiet" (phase_change: every thread has made its last call, and none
// calls again until the next phase). What the allocator returned with no
// call to return it in.
std::optional<double> rss_idle_end_bytes(const RunRecord& r) {
  if (!r.rss_series || !r.rss_start_bytes || !r.rss_series->contains("phases")) return std::nullopt;
  const Json& phases = r.rss_series->at("phases");
  for (size_t i = 0; i + 1 < phases.size(); ++i) {
    if (phases[i].value("name", "") != "idle_quiet") continue;
    const double end = phases[i + 1].value("t_ms", 0.0);
    const Json& t = r.rss_series->at("t_ms");
    const Json& rss = r.rss_series->at("rss_bytes");
    std::optional<double> last;
    for (size_t k = 0; k < t.size() && k < rss.size() && t[k].get<double>() <= end; ++k)
      if (t[k].get<double>() >= phases[i].value("t_ms", 0.0)) last = rss[k].get<double>();
    if (!last) return std::nullopt;
    return *last - static_cast<double>(*r.rss_start_bytes);
  }
  return std::nullopt;
}

// Fragmentation over the timed region (soak): RSS over the bytes the
// workload holds, at each rss_series sample up to the drain with live
// bytes above 0.
struct FragmentationPoint {
  double t_min;
  double ratio;
};
std::vector<FragmentationPoint> fragmentation(const RunRecord& r) {
  std::vector<FragmentationPoint> points;
  if (!r.rss_series || !r.rss_series->contains("live_bytes")) return points;
  const Json& t = r.rss_series->at("t_ms");
  const Json& rss = r.rss_series->at("rss_bytes");
  const Json& live = r.rss_series->at("live_bytes");
  const double end = r.rss_series->value("drain_start_ms", r.seconds * 1e3);
  for (size_t i = 0; i < t.size() && i < rss.size() && i < live.size(); ++i) {
    if (t[i].get<double>() > end) break;
    if (!live[i].is_number() || live[i].get<double>() <= 0) continue;
    points.push_back({t[i].get<double>() / 60'000, rss[i].get<double>() / live[i].get<double>()});
  }
  return points;
}

std::optional<double> fragmentation_mean(const RunRecord& r) {
  const auto points = fragmentation(r);
  if (points.empty()) return std::nullopt;
  double sum = 0;
  for (const FragmentationPoint& p : points) sum += p.ratio;
  return sum / static_cast<double>(points.size());
}

std::optional<double> fragmentation_final(const RunRecord& r) {
  const auto points = fragmentation(r);
  return points.empty() ? std::nullopt : std::optional<double>(points.back().ratio);
}

// The least-squares slope of the ratio against time over the second half
// of the timed region, in ratio per minute: the drift a longer life would
// continue.
std::optional<double> fragmentation_slope(const RunRecord& r) {
  const auto points = fragmentation(r);
  if (points.size() < 4) return std::nullopt;
  const double half = points.back().t_min / 2;
  double n = 0, st = 0, sr = 0, stt = 0, str = 0;
  for (const FragmentationPoint& p : points) {
    if (p.t_min < half) continue;
    n += 1;
    st += p.t_min;
    sr += p.ratio;
    stt += p.t_min * p.t_min;
    str += p.t_min * p.ratio;
  }
  const double d = n * stt - st * st;
  if (n < 2 || d <= 0) return std::nullopt;
  return (n * str - st * sr) / d;
}

// One percentile of one kind of call's sampled latency; null without
// samples (program runs, older records).
template <LatencyOp RunLatency::*Op, double LatencyOp::*Field>
std::optional<double> latency_ns(const RunRecord& r) {
  if (!r.latency || (*r.latency.*Op).samples == 0) return std::nullopt;
  return *r.latency.*Op.*Field;
}

template <LatencyOp RunLatency::*Op>
std::optional<double> latency_over_10us(const RunRecord& r) {
  if (!r.latency || (*r.latency.*Op).samples == 0) return std::nullopt;
  return static_cast<double>((*r.latency.*Op).over_10us);
}

}  // namespace

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
      // RSS over the timed region's time (phase_change's memory, issue 13).
      {"rss_integral_mib_s", "MiB*s", &rss_integral_mib_s},
      {"rss_idle_end_bytes", "B", &rss_idle_end_bytes},
      // hakmem's learner thread: its CPU time over the run's (whole
      // process against the timed region: an upper bound on its share).
      {"learner_cpu_share", "1",
       [](const RunRecord& r) {
         if (!r.learning || r.learning->interval_ms == 0 || r.cpu_seconds <= 0) return std::optional<double>();
         return std::optional<double>(r.learning->cpu_seconds / r.cpu_seconds);
       }},
      // The knob changes the learner made (its trace less the start entries).
      {"learner_changes", "1",
       [](const RunRecord& r) {
         if (!r.learning) return std::optional<double>();
         const auto starts = std::count_if(r.learning->trace.begin(), r.learning->trace.end(),
                                           [](const LearnDecision& d) { return d.signal == "start"; });
         return std::optional<double>(static_cast<double>(r.learning->trace.size()) - static_cast<double>(starts));
       }},
      // RSS over live bytes (soak): mean, at the end, and its drift.
      {"frag_mean_ratio", "1", &fragmentation_mean},
      {"frag_final_ratio", "1", &fragmentation_final},
      {"frag_slope_per_min", "1/min", &fragmentation_slope},
      // Sampled call latency (drivers): the median over repetitions of
      // each run's percentile.
      {"malloc_p50_ns", "ns", &latency_ns<&RunLatency::malloc, &LatencyOp::p50_ns>},
      {"malloc_p90_ns", "ns", &latency_ns<&RunLatency::malloc, &LatencyOp::p90_ns>},
      {"malloc_p99_ns", "ns", &latency_ns<&RunLatency::malloc, &LatencyOp::p99_ns>},
      {"malloc_p99_9_ns", "ns", &latency_ns<&RunLatency::malloc, &LatencyOp::p99_9_ns>},
      {"malloc_p99_99_ns", "ns", &latency_ns<&RunLatency::malloc, &LatencyOp::p99_99_ns>},
      {"malloc_max_ns", "ns", &latency_ns<&RunLatency::malloc, &LatencyOp::max_ns>},
      {"malloc_over_10us", "1", &latency_over_10us<&RunLatency::malloc>},
      {"free_p50_ns", "ns", &latency_ns<&RunLatency::free, &LatencyOp::p50_ns>},
      {"free_p90_ns", "ns", &latency_ns<&RunLatency::free, &LatencyOp::p90_ns>},
      {"free_p99_ns", "ns", &latency_ns<&RunLatency::free, &LatencyOp::p99_ns>},
      {"free_p99_9_ns", "ns", &latency_ns<&RunLatency::free, &LatencyOp::p99_9_ns>},
      {"free_p99_99_ns", "ns", &latency_ns<&RunLatency::free, &LatencyOp::p99_99_ns>},
      {"free_max_ns", "ns", &latency_ns<&RunLatency::free, &LatencyOp::max_ns>},
      {"free_over_10us", "1", &latency_over_10us<&RunLatency::free>},
  };
  return kMetrics;
}

const RunMetric* find_run_metric(const std::string& name) {
  for (const RunMetric& m : run_metrics())
    if (name == m.name) return &m;
  return nullptr;
}

}  // namespace lab
