#include "harness/results.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <utility>

#include "harness/machine_group.h"

namespace lab {
std::string cell_key(const std::string& workload, const std::string& allocator, int threads,
                     const std::string& mode) {
  return workload + "/" + allocator + "/t" + std::to_string(threads) + (mode == kLinkedMode ? "" : "/" + mode);
}

std::optional<double> number_at(const Json& j, std::initializer_list<const char*> path) {
  const Json* node = &j;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return std::nullopt;
    node = &(*node)[key];
  }
  if (!node->is_number()) return std::nullopt;
  return node->get<double>();
}

namespace {

Json optional_number(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json spread_json(const Spread& s) {
  return {{"min", s.min}, {"p25", s.p25}, {"median", s.median}, {"p75", s.p75},
          {"max", s.max}, {"rel_iqr", s.rel_iqr}, {"n", s.n}};
}

template <class T>
bool get_field(const Json& j, const char* key, T* out, std::string* error, const char* where) {
  if (!j.contains(key)) {
    *error = std::string(where) + " has no \"" + key + "\"";
    return false;
  }
  try {
    *out = j.at(key).get<T>();
  } catch (const std::exception&) {
    *error = std::string(where) + ": \"" + key + "\" has the wrong type";
    return false;
  }
  return true;
}

}  // namespace

std::string Cell::status(int reps) const {
  if (refused) return "refused";
  if (!failures.empty()) return "failed";
  return static_cast<int>(runs.size()) >= reps ? "complete" : "partial";
}

std::string Cell::key() const { return cell_key(workload, allocator, threads, mode); }

Json CompareConfig::to_json() const {
  Json j = {{"allocators", allocators}, {"workloads", workloads}, {"threads", threads},
            {"modes", modes},           {"reps", reps},         {"ops", ops ? Json(*ops) : Json(nullptr)},
            {"smoke", smoke},           {"baseline", baseline}, {"timeout_seconds", timeout_seconds},
            {"params", params}};
  if (!libraries.empty()) j["libraries"] = libraries;
  return j;
}

std::optional<CompareConfig> CompareConfig::from_json(const Json& j, std::string* error) {
  CompareConfig c;
  const char* where = "config";
  if (!j.is_object()) {
    *error = "config is not an object";
    return std::nullopt;
  }
  if (!get_field(j, "allocators", &c.allocators, error, where) ||
      !get_field(j, "workloads", &c.workloads, error, where) ||
      !get_field(j, "threads", &c.threads, error, where) || !get_field(j, "reps", &c.reps, error, where) ||
      !get_field(j, "smoke", &c.smoke, error, where) || !get_field(j, "baseline", &c.baseline, error, where) ||
      !get_field(j, "timeout_seconds", &c.timeout_seconds, error, where) ||
      !get_field(j, "params", &c.params, error, where)) {
    return std::nullopt;
  }
  if (j.contains("ops") && j["ops"].is_number_integer()) c.ops = j["ops"].get<int64_t>();
  if (j.contains("modes") && !get_field(j, "modes", &c.modes, error, where)) return std::nullopt;
  if (j.contains("libraries") && !get_field(j, "libraries", &c.libraries, error, where)) return std::nullopt;
  return c;
}

const Spread* CellSummary::spread(const std::string& metric) const {
  auto it = metrics.find(metric);
  return it == metrics.end() ? nullptr : &it->second;
}

std::optional<double> CellSummary::median(const std::string& metric) const {
  const Spread* s = spread(metric);
  return s != nullptr ? std::optional<double>(s->median) : std::nullopt;
}

namespace {

CellSummary metrics_of(const Cell& cell) {
  CellSummary s;
  s.reps = static_cast<int>(cell.runs.size());
  for (const RunMetric& metric : run_metrics()) {
    std::vector<double> values;
    for (const RunEntry& run : cell.runs)
      if (auto v = metric.of(run.record)) values.push_back(*v);
    if (auto spread = spread_of(values)) s.metrics[metric.name] = *spread;
  }
  return s;
}

std::optional<double> median_ratio(const CellSummary& mine, const Cell* reference,
                                   const char* metric = "ops_per_sec") {
  if (reference == nullptr) return std::nullopt;
  const auto a = mine.median(metric);
  const auto b = reference->summary.median(metric);
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

// exp(mean(log x)): the mean of ratios that treats 2x and 0.5x as opposite
// and equal; nullopt for no values.
std::optional<double> geometric_mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += std::log(v);
  return std::exp(sum / static_cast<double>(values.size()));
}

// One per (allocator, mode), or per (allocator, mode, machine group) when
// there are several groups; `group_of` holds each cell's group.
std::vector<AllocatorSummary> allocator_summaries_of(const std::vector<Cell>& cells,
                                                     const std::vector<MachineGroup>& groups,
                                                     const std::vector<size_t>& group_of) {
  const bool several = groups.size() > 1;
  const auto same = [&](size_t a, size_t b) {
    return cells[a].allocator == cells[b].allocator && cells[a].mode == cells[b].mode &&
           (!several || group_of[a] == group_of[b]);
  };
  std::vector<AllocatorSummary> out;
  std::vector<size_t> firsts;  // the first cell of each summary
  for (size_t i = 0; i < cells.size(); ++i) {
    if (std::any_of(firsts.begin(), firsts.end(), [&](size_t first) { return same(first, i); })) continue;
    firsts.push_back(i);
    std::vector<double> speed, peak;
    for (size_t j = 0; j < cells.size(); ++j) {
      if (!same(i, j)) continue;
      if (const auto r = cells[j].summary.ratio_to_baseline; r && *r > 0) speed.push_back(*r);
      if (const auto r = cells[j].summary.peak_rss_to_baseline; r && *r > 0) peak.push_back(*r);
    }
    out.push_back({cells[i].allocator, cells[i].mode, static_cast<int>(speed.size()), geometric_mean(speed),
                   geometric_mean(peak), several ? groups[group_of[i]].label : ""});
  }
  return out;
}

// ResultsFile::find's choice among the cells at `among` (one machine
// group's; every cell when null): the cell in `mode`, else the allocator's
// cell in another mode.
const Cell* find_among(const std::vector<Cell>& cells, const std::vector<size_t>* among, const std::string& workload,
                       const std::string& allocator, int threads, const std::string& mode) {
  const Cell* other_mode = nullptr;
  const size_t n = among != nullptr ? among->size() : cells.size();
  for (size_t k = 0; k < n; ++k) {
    const Cell& c = cells[among != nullptr ? (*among)[k] : k];
    if (c.workload != workload || c.allocator != allocator || c.threads != threads) continue;
    if (c.mode == mode) return &c;
    other_mode = &c;
  }
  return other_mode;
}

}  // namespace

void ResultsFile::summarize() {
  for (Cell& c : cells) c.summary = metrics_of(c);
  const std::vector<MachineGroup> groups = machine_groups(*this);
  std::vector<size_t> group_of(cells.size());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i : groups[g].cells) group_of[i] = g;
  for (size_t i = 0; i < cells.size(); ++i) {
    Cell& c = cells[i];
    const std::vector<size_t>& mine = groups[group_of[i]].cells;
    const Cell* base = find_among(cells, &mine, c.workload, config.baseline, c.threads, c.mode);
    c.summary.ratio_to_baseline = median_ratio(c.summary, base);
    c.summary.ratio_to_bound =
        median_ratio(c.summary, find_among(cells, &mine, c.workload, kBoundAllocator, c.threads, c.mode));
    c.summary.peak_rss_to_baseline = median_ratio(c.summary, base, "peak_rss_bytes");
    c.summary.ratios_to_baseline_by_rep.clear();
    if (base == nullptr) continue;
    for (const RunEntry& run : c.runs)
      for (const RunEntry& theirs : base->runs)
        if (theirs.rep == run.rep && theirs.record.ops_per_sec > 0)
          c.summary.ratios_to_baseline_by_rep.push_back(run.record.ops_per_sec / theirs.record.ops_per_sec);
  }
  allocator_summaries = allocator_summaries_of(cells, groups, group_of);
}

Cell* ResultsFile::find(const std::string& workload, const std::string& allocator, int threads,
                        const std::string& mode) {
  return const_cast<Cell*>(std::as_const(*this).find(workload, allocator, threads, mode));
}

const Cell* ResultsFile::find(const std::string& workload, const std::string& allocator, int threads,
                              const std::string& mode) const {
  return find_among(cells, nullptr, workload, allocator, threads, mode);
}

Json ResultsFile::to_json() const {
  Json j;
  j["schema_version"] = schema_version;
  j["kind"] = kResultsKind;
  j["status"] = status;
  j["created_utc"] = created_utc;
  j["updated_utc"] = updated_utc;
  j["machine"] = machine;
  j["build"] = build;
  j["config"] = config.to_json();
  if (shard) j["shard"] = shard->to_json();
  Json allocators = Json::array();
  for (const AllocatorSummary& a : allocator_summaries)
    allocators.push_back({{"allocator", a.allocator},
                          {"mode", a.mode},
                          {"cells", a.cells},
                          {"geomean_ratio_to_baseline", optional_number(a.geomean_ratio_to_baseline)},
                          {"geomean_peak_rss_to_baseline", optional_number(a.geomean_peak_rss_to_baseline)}});
  // Per machine group only in a file that spans several (SCHEMA.md).
  for (size_t i = 0; i < allocator_summaries.size(); ++i)
    if (!allocator_summaries[i].machine.empty()) allocators[i]["machine"] = allocator_summaries[i].machine;
  j["summary"] = {{"allocators", allocators}};
  Json cells_json = Json::array();
  for (const Cell& c : cells) {
    Json cj;
    cj["allocator"] = c.allocator;
    cj["allocator_kind"] = c.allocator_kind;
    cj["workload"] = c.workload;
    cj["threads"] = c.threads;
    cj["mode"] = c.mode;
    if (!c.settings.empty()) cj["settings"] = c.settings;
    if (c.machine) cj["machine"] = *c.machine;
    cj["status"] = c.status(config.reps);
    cj["error"] = c.failures.empty() ? Json(nullptr) : Json(c.failures.front().reason);
    cj["refused"] = c.refused ? Json(*c.refused) : Json(nullptr);
    cj["params"] = c.params;
    Json runs = Json::array();
    for (const RunEntry& r : c.runs)
      runs.push_back({{"rep", r.rep}, {"seq", r.seq}, {"wall_seconds", r.wall_seconds}, {"record", Json(r.record)}});
    cj["runs"] = runs;
    Json failures = Json::array();
    for (const RunFailure& f : c.failures) failures.push_back({{"rep", f.rep}, {"reason", f.reason}});
    cj["failures"] = failures;
    const CellSummary& s = c.summary;
    Json sj;
    sj["reps"] = s.reps;
    sj["ratio_to_baseline"] = optional_number(s.ratio_to_baseline);
    sj["ratio_to_bound"] = optional_number(s.ratio_to_bound);
    sj["peak_rss_to_baseline"] = optional_number(s.peak_rss_to_baseline);
    sj["ratios_to_baseline_by_rep"] = s.ratios_to_baseline_by_rep;
    Json metrics = Json::object();
    for (const RunMetric& m : run_metrics()) {
      const Spread* spread = s.spread(m.name);
      metrics[m.name] = spread != nullptr ? spread_json(*spread) : Json(nullptr);
    }
    sj["metrics"] = metrics;
    cj["summary"] = sj;
    if (c.callgrind) cj["callgrind"] = *c.callgrind;
    cells_json.push_back(cj);
  }
  j["cells"] = cells_json;
  return j;
}

std::optional<ResultsFile> ResultsFile::from_json(const Json& j, std::string* error) {
  if (!j.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  ResultsFile f;
  if (!get_field(j, "schema_version", &f.schema_version, error, "results")) return std::nullopt;
  if (f.schema_version < kOldestReadableSchema || f.schema_version > kSchemaVersion) {
    *error = "schema_version " + std::to_string(f.schema_version) + " is not a supported version (" +
             std::to_string(kOldestReadableSchema) + " to " + std::to_string(kSchemaVersion) + ")";
    return std::nullopt;
  }
  // What is read is held in this version's terms from here on.
  f.schema_version = kSchemaVersion;
  std::string kind;
  if (!get_field(j, "kind", &kind, error, "results")) return std::nullopt;
  if (kind != kResultsKind) {
    *error = "kind \"" + kind + "\" is not \"" + kResultsKind + "\"";
    return std::nullopt;
  }
  if (!get_field(j, "status", &f.status, error, "results") ||
      !get_field(j, "created_utc", &f.created_utc, error, "results") ||
      !get_field(j, "updated_utc", &f.updated_utc, error, "results") ||
      !get_field(j, "machine", &f.machine, error, "results") ||
      !get_field(j, "build", &f.build, error, "results")) {
    return std::nullopt;
  }
  if (!j.contains("config")) {
    *error = "results has no \"config\"";
    return std::nullopt;
  }
  auto config = CompareConfig::from_json(j["config"], error);
  if (!config) return std::nullopt;
  f.config = *config;
  if (j.contains("shard")) {
    f.shard = ShardRecord::from_json(j["shard"], error);
    if (!f.shard) return std::nullopt;
  }
  if (!j.contains("cells") || !j["cells"].is_array()) {
    *error = "results has no \"cells\" array";
    return std::nullopt;
  }
  for (const Json& cj : j["cells"]) {
    Cell c;
    const std::string where = "a cell";
    if (!get_field(cj, "allocator", &c.allocator, error, where.c_str()) ||
        !get_field(cj, "allocator_kind", &c.allocator_kind, error, where.c_str()) ||
        !get_field(cj, "workload", &c.workload, error, where.c_str()) ||
        !get_field(cj, "threads", &c.threads, error, where.c_str()) ||
        !get_field(cj, "mode", &c.mode, error, where.c_str())) {
      return std::nullopt;
    }
    if (!cj.contains("runs") || !cj["runs"].is_array()) {
      *error = "cell " + c.key() + " has no \"runs\" array";
      return std::nullopt;
    }
    for (const Json& rj : cj["runs"]) {
      RunEntry r;
      if (!get_field(rj, "rep", &r.rep, error, "a run") || !get_field(rj, "seq", &r.seq, error, "a run") ||
          !get_field(rj, "wall_seconds", &r.wall_seconds, error, "a run") ||
          !get_field(rj, "record", &r.record, error, "a run")) {
        return std::nullopt;
      }
      c.runs.push_back(std::move(r));
    }
    if (cj.contains("failures") && cj["failures"].is_array()) {
      for (const Json& fj : cj["failures"]) {
        RunFailure fail;
        if (!get_field(fj, "rep", &fail.rep, error, "a failure") ||
            !get_field(fj, "reason", &fail.reason, error, "a failure")) {
          return std::nullopt;
        }
        c.failures.push_back(std::move(fail));
      }
    }
    if (cj.contains("refused") && cj["refused"].is_string()) c.refused = cj["refused"].get<std::string>();
    if (cj.contains("params")) c.params = cj["params"];
    if (cj.contains("settings") && cj["settings"].is_object())
      c.settings = cj["settings"].get<std::map<std::string, std::string>>();
    if (cj.contains("machine") && cj["machine"].is_object()) c.machine = cj["machine"];
    if (cj.contains("callgrind")) c.callgrind = cj["callgrind"];
    f.cells.push_back(std::move(c));
  }
  f.summarize();
  return f;
}

bool write_atomically(const std::string& path, const std::string& text, std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot write " + path + ": " + strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = "cannot write " + path + ": " + strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    *error = "cannot write " + path + ": " + strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::optional<Json> read_json_file(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = std::string("cannot open (") + strerror(errno) + ")";
    return std::nullopt;
  }
  try {
    return Json::parse(in);
  } catch (const std::exception& e) {
    *error = std::string("not valid JSON (") + e.what() + ")";
    return std::nullopt;
  }
}

std::optional<ResultsFile> load_results(const std::string& path, std::string* error) {
  std::string why;
  const std::optional<Json> j = read_json_file(path, &why);
  if (!j) {
    *error = path + ": " + why;
    return std::nullopt;
  }
  auto f = ResultsFile::from_json(*j, &why);
  if (!f) *error = path + ": " + why;
  return f;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace lab
