#include "harness/gate.h"

#include "harness/machine_group.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "harness/stats.h"

namespace lab {
namespace {

Json optional_json(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

std::string pct(double change) { return fmt::format("{:+.2f}%", change * 100); }

std::string mib(double bytes) { return fmt::format("{:.2f} MiB", bytes / (1024.0 * 1024.0)); }

// Beyond min_effect and significant: `m` is slower than `b` on these ratios.
bool clearly_slower(const std::vector<double>& base, const std::vector<double>& cur, const GateThresholds& t,
                    double* change, double* p) {
  *change = quantile(cur, 0.5) / quantile(base, 0.5) - 1;
  *p = mann_whitney_p_less(cur, base);
  return *change <= -t.min_effect && *p < t.alpha;
}

// When bound, which shares no code with the variants, itself moved clearly
// (beyond min_effect, either way) against the reference on some workload,
// the machine moved the allocators' relative speeds: a note saying so, else
// nullopt. (Measured: the machine flips between states in which every
// hakmem cell's mixed_lifo ratio to glibc differs by 16-24%, bound's
// included, and producer_consumer's by up to 12%.)
std::optional<std::string> machine_drift(const std::map<std::string, const GateMeasure*>& base_of,
                                         const std::vector<GateMeasure>& current, const GateThresholds& t) {
  for (const GateMeasure& m : current) {
    if (m.allocator != kBoundAllocator || m.throughput_ratios.empty()) continue;
    auto it = base_of.find(m.key());
    if (it == base_of.end() || it->second->throughput_ratios.empty()) continue;
    double change = 0, p = 1, faster_change = 0, p_faster = 1;
    if (clearly_slower(it->second->throughput_ratios, m.throughput_ratios, t, &change, &p) ||
        clearly_slower(m.throughput_ratios, it->second->throughput_ratios, t, &faster_change, &p_faster))
      return fmt::format("bound, which shares no code with it, moved {} against the reference on {}", pct(change),
                         m.workload);
  }
  return std::nullopt;
}

// A drop against the reference counts as a regression only if the cell
// dropped against its second reference too (when it has one in both runs),
// or, without one, only if bound did not drop likewise elsewhere: otherwise
// the machine moved the allocators' relative speeds, and the row is
// inconclusive.
void confirm_against_second_reference(const GateMeasure& b, const GateMeasure& m, const GateThresholds& t,
                                      const std::optional<std::string>& drift, GateRow* r) {
  if (b.second_ratios.empty() || m.second_ratios.empty() || b.second_reference != m.second_reference) {
    if (drift && m.allocator != kBoundAllocator) {
      r->verdict = Verdict::kInconclusive;
      r->note += "; but " + *drift + ": the machine moved, not this code";
    }
    return;
  }
  double change = 0, p = 1;
  if (clearly_slower(b.second_ratios, m.second_ratios, t, &change, &p)) {
    r->note += fmt::format("; against {} too: {} (p={:.2g})", m.second_reference, pct(change), p);
    return;
  }
  r->verdict = Verdict::kInconclusive;
  r->note += fmt::format("; but against {} {} (p={:.2g}): the machine moved, not this code", m.second_reference,
                         pct(change), p);
}

GateRow row(const GateMeasure& m, const char* metric) { return GateRow{m.key(), metric, "", "", "", "", Verdict::kPass, ""}; }

// A count that must not grow past max(base * (1 + rel), base + abs).
GateRow bounded(const GateMeasure& m, const char* metric, double base, double cur, double rel, double abs,
                const std::function<std::string(double)>& show, const std::string& threshold_text) {
  GateRow r = row(m, metric);
  r.baseline = show(base);
  r.current = show(cur);
  r.change = base != 0 ? pct(cur / base - 1) : "-";
  r.threshold = threshold_text;
  const double limit = std::max(base * (1 + rel), base + abs);
  r.verdict = cur > limit ? Verdict::kRegression : Verdict::kPass;
  return r;
}

}  // namespace

std::vector<GateMeasure> gate_measures(const ResultsFile& results) {
  const std::string& reference = results.config.baseline;
  std::vector<GateMeasure> out;
  for (const Cell& c : results.cells) {
    if (c.allocator == reference || c.allocator == kPeerReference) continue;  // yardsticks are not under test
    GateMeasure m;
    m.allocator = c.allocator;
    m.workload = c.workload;
    m.threads = c.threads;
    m.mode = c.mode;
    m.refused = c.refused;
    if (!c.failures.empty()) m.failure = c.failures.front().reason;
    if (c.callgrind && c.callgrind->contains("instructions_per_op"))
      m.instructions_per_op = (*c.callgrind)["instructions_per_op"].get<double>();
    else if (c.callgrind && c.callgrind->contains("error"))
      m.failure = "callgrind: " + (*c.callgrind)["error"].get<std::string>();
    // The harness summarized every cell once; the gate reads its summary.
    m.minor_faults = c.summary.median("minor_faults");
    m.peak_rss_bytes = c.summary.median("peak_rss_bytes");
    std::string second = c.allocator == kBoundAllocator ? "ultra_simple" : kBoundAllocator;
    const Cell* other = results.find(c.workload, second, c.threads);
    if ((other == nullptr || other->runs.empty()) && c.allocator != kBoundAllocator) {
      second = kPeerReference;  // bound refused the workload
      other = results.find(c.workload, second, c.threads);
    }
    if (other != nullptr && !other->runs.empty()) {
      m.second_reference = second;
      for (const RunEntry& run : c.runs)
        for (const RunEntry& theirs : other->runs)
          if (theirs.rep == run.rep && theirs.record.ops_per_sec > 0)
            m.second_ratios.push_back(run.record.ops_per_sec / theirs.record.ops_per_sec);
    }
    const Cell* ref = results.find(c.workload, reference, c.threads);
    if (ref != nullptr) {
      m.throughput_ratios = c.summary.ratios_to_baseline_by_rep;
      // The smaller share of the two: either one competing for its CPU
      // makes the ratio a fact about the machine.
      const auto mine = c.summary.median("cpu_share");
      const auto theirs = ref->summary.median("cpu_share");
      if (mine && theirs) m.cpu_share = std::min(*mine, *theirs);
    }
    out.push_back(std::move(m));
  }
  return out;
}

Json baseline_json(const GateBaseline& b) {
  Json cells = Json::array();
  for (const GateMeasure& m : b.cells) {
    cells.push_back({{"allocator", m.allocator},
                     {"workload", m.workload},
                     {"threads", m.threads},
                     {"mode", m.mode},
                     {"instructions_per_op", optional_json(m.instructions_per_op)},
                     {"minor_faults", optional_json(m.minor_faults)},
                     {"peak_rss_bytes", optional_json(m.peak_rss_bytes)},
                     {"throughput_ratios", m.throughput_ratios},
                     {"second_reference", m.second_reference},
                     {"second_ratios", m.second_ratios},
                     {"cpu_share", optional_json(m.cpu_share)},
                     {"refused", m.refused ? Json(*m.refused) : Json(nullptr)}});
  }
  return {{"schema_version", kGateBaselineVersion}, {"kind", kGateBaselineKind}, {"created_utc", b.created_utc},
          {"machine", b.machine},             {"build", b.build},           {"config", b.config},
          {"cells", cells}};
}

std::optional<GateBaseline> load_baseline(const std::string& path, std::string* error) {
  std::string why;
  const std::optional<Json> parsed = read_json_file(path, &why);
  if (!parsed) {
    const bool missing = why.rfind("cannot open", 0) == 0;
    *error = "baseline " + path + ": " + why + (missing ? "; create it with --update-baseline" : "");
    return std::nullopt;
  }
  const Json& j = *parsed;
  const auto bad = [&](const std::string& why) {
    *error = "baseline " + path + ": " + why;
    return std::nullopt;
  };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("schema_version") || !j["schema_version"].is_number_integer())
    return bad("no schema_version");
  if (j["schema_version"] != kGateBaselineVersion)
    return bad("schema_version " + j["schema_version"].dump() + " is not the supported version " +
               std::to_string(kGateBaselineVersion) + "; regenerate it with --update-baseline");
  if (j.value("kind", "") != kGateBaselineKind)
    return bad("kind is not \"" + std::string(kGateBaselineKind) + "\" (is this a gate baseline?)");
  for (const char* key : {"created_utc", "machine", "build", "config", "cells"})
    if (!j.contains(key)) return bad(std::string("no \"") + key + "\"");
  if (!j["cells"].is_array()) return bad("\"cells\" is not an array");
  GateBaseline b;
  b.created_utc = j["created_utc"].get<std::string>();
  b.machine = j["machine"];
  b.build = j["build"];
  b.config = j["config"];
  for (const Json& c : j["cells"]) {
    try {
      GateMeasure m;
      m.allocator = c.at("allocator").get<std::string>();
      m.workload = c.at("workload").get<std::string>();
      m.threads = c.at("threads").get<int>();
      m.mode = c.value("mode", kLinkedMode);  // baselines before preload cells: linked
      m.instructions_per_op = number_at(c, {"instructions_per_op"});
      m.minor_faults = number_at(c, {"minor_faults"});
      m.peak_rss_bytes = number_at(c, {"peak_rss_bytes"});
      m.throughput_ratios = c.at("throughput_ratios").get<std::vector<double>>();
      m.cpu_share = number_at(c, {"cpu_share"});
      // A baseline from before second references judges on the reference alone.
      m.second_reference = c.value("second_reference", "");
      if (c.contains("second_ratios")) m.second_ratios = c["second_ratios"].get<std::vector<double>>();
      if (c.contains("refused") && c["refused"].is_string()) m.refused = c["refused"].get<std::string>();
      b.cells.push_back(std::move(m));
    } catch (const std::exception& e) {
      return bad(std::string("a cell is malformed (") + e.what() + ")");
    }
  }
  return b;
}

std::vector<GateRow> compare_with_baseline(const GateBaseline& baseline, const std::vector<GateMeasure>& current,
                                           const Json& config, const Json& machine, const GateThresholds& t) {
  std::vector<GateRow> rows;
  std::map<std::string, const GateMeasure*> base_of;
  for (const GateMeasure& m : baseline.cells) base_of[m.key()] = &m;
  // Throughput ratios are comparable on one CPU only: the model name and,
  // since a VM may call several generations "AMD EPYC", family, model and
  // stepping. (Measured: the same binaries' mixed_lifo ratio to glibc was
  // 1.93 on the baseline's "AMD EPYC" and 1.62 on a family 26 one.)
  const std::string base_cpu = describe_cpu(cpu_identity(baseline.machine));
  const std::string cpu = describe_cpu(cpu_identity(machine));
  const bool same_cpu = base_cpu == cpu;
  const bool same_thp = baseline.machine.value("thp_enabled", "?") == machine.value("thp_enabled", "?");
  const bool same_matrix = baseline.config == config;
  const std::optional<std::string> drift = machine_drift(base_of, current, t);
  std::set<std::string> seen;

  for (const GateMeasure& m : current) {
    seen.insert(m.key());
    if (m.failure) {
      GateRow r = row(m, "run");
      r.verdict = Verdict::kFailed;
      r.note = *m.failure;
      rows.push_back(r);
      continue;
    }
    if (m.refused) continue;  // bound outside its limits: nothing to gate
    auto it = base_of.find(m.key());
    if (it == base_of.end()) {
      GateRow r = row(m, "all");
      r.verdict = Verdict::kNotCompared;
      r.note = "no baseline for this cell (new cell; run --update-baseline)";
      rows.push_back(r);
      continue;
    }
    const GateMeasure& b = *it->second;
    if (!same_matrix) {
      GateRow r = row(m, "all");
      r.verdict = Verdict::kNotCompared;
      r.note = "the gate's matrix changed since the baseline (run --update-baseline)";
      rows.push_back(r);
      continue;
    }
    if (m.instructions_per_op && b.instructions_per_op) {
      GateRow r = row(m, "instructions/op");
      r.baseline = fmt::format("{:.2f}", *b.instructions_per_op);
      r.current = fmt::format("{:.2f}", *m.instructions_per_op);
      const double change = *m.instructions_per_op / *b.instructions_per_op - 1;
      r.change = pct(change);
      r.threshold = fmt::format("±{:.1f}%", t.instructions_rel * 100);
      r.verdict = change > t.instructions_rel    ? Verdict::kRegression
                  : change < -t.instructions_rel ? Verdict::kImproved
                                                 : Verdict::kPass;
      rows.push_back(r);
    }
    for (const auto& [metric, base_v, cur_v, rel, abs, is_bytes] :
         {std::tuple{"minor faults", b.minor_faults, m.minor_faults, t.faults_rel, t.faults_abs, false},
          std::tuple{"peak RSS", b.peak_rss_bytes, m.peak_rss_bytes, t.rss_rel, t.rss_abs, true}}) {
      if (!base_v || !cur_v) continue;
      const auto show = [is_bytes](double v) { return is_bytes ? mib(v) : fmt::format("{:.0f}", v); };
      const std::string threshold = is_bytes ? fmt::format("+max({:.0f}%, {})", rel * 100, mib(abs))
                                             : fmt::format("+max({:.0f}%, {:.0f})", rel * 100, abs);
      if (!same_thp) {
        GateRow r = row(m, metric);
        r.baseline = show(*base_v);
        r.current = show(*cur_v);
        r.verdict = Verdict::kSkipped;
        r.note = "transparent huge page setting differs from the baseline's";
        rows.push_back(r);
        continue;
      }
      rows.push_back(bounded(m, metric, *base_v, *cur_v, rel, abs, show, threshold));
    }
    if (!m.throughput_ratios.empty() && !b.throughput_ratios.empty()) {
      GateRow r = row(m, "ops/s vs reference");
      const double base_median = quantile(b.throughput_ratios, 0.5);
      const double cur_median = quantile(m.throughput_ratios, 0.5);
      r.baseline = fmt::format("{:.3f}", base_median);
      r.current = fmt::format("{:.3f}", cur_median);
      const double change = cur_median / base_median - 1;
      r.change = pct(change);
      r.threshold = fmt::format("-{:.0f}%, p<{}", t.min_effect * 100, t.alpha);
      if (!same_cpu) {
        r.verdict = Verdict::kSkipped;
        r.note = "baseline measured on '" + base_cpu + "', this machine is '" + cpu + "': not compared";
      } else if (m.cpu_share && b.cpu_share && *m.cpu_share < t.min_cpu_share * *b.cpu_share) {
        r.verdict = Verdict::kInconclusive;
        r.note = fmt::format("machine busy: the runs had {:.0f}% of a CPU (baseline {:.0f}%); not judged",
                             *m.cpu_share * 100, *b.cpu_share * 100);
      } else {
        const double p_slower = mann_whitney_p_less(m.throughput_ratios, b.throughput_ratios);
        const double p_faster = mann_whitney_p_less(b.throughput_ratios, m.throughput_ratios);
        if (change <= -t.min_effect) {
          r.verdict = p_slower < t.alpha ? Verdict::kRegression : Verdict::kInconclusive;
          r.note = fmt::format("p={:.2g}{}", p_slower, p_slower < t.alpha ? "" : ": slower, but within the noise");
          if (r.verdict == Verdict::kRegression) confirm_against_second_reference(b, m, t, drift, &r);
        } else if (change >= t.min_effect && p_faster < t.alpha) {
          r.verdict = Verdict::kImproved;
          r.note = fmt::format("p={:.2g}", p_faster);
        } else {
          r.note = fmt::format("p={:.2g}", p_slower);
        }
      }
      rows.push_back(r);
    }
  }
  for (const GateMeasure& b : baseline.cells) {
    if (seen.count(b.key()) || b.refused) continue;
    GateRow r = row(b, "all");
    r.verdict = Verdict::kNotCompared;
    r.note = "in the baseline but not measured now (removed from the matrix?)";
    rows.push_back(r);
  }
  return rows;
}

bool has_failures(const std::vector<GateRow>& rows) {
  for (const GateRow& r : rows)
    if (r.verdict == Verdict::kRegression || r.verdict == Verdict::kFailed) return true;
  return false;
}

std::string verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kImproved: return "improved";
    case Verdict::kRegression: return "REGRESSION";
    case Verdict::kInconclusive: return "inconclusive";
    case Verdict::kSkipped: return "skipped";
    case Verdict::kNotCompared: return "not compared";
    case Verdict::kFailed: return "FAILED";
  }
  return "?";
}

std::string render_gate(const std::vector<GateRow>& rows) {
  const auto line = [](const GateRow& r) {
    std::string text = fmt::format("{:<32} {:<19} {:>11} {:>11} {:>9} {:>19}  {}", r.cell, r.metric, r.baseline,
                                   r.current, r.change, r.threshold, verdict_name(r.verdict));
    if (!r.note.empty()) text += " (" + r.note + ")";
    return text + "\n";
  };
  std::string out = fmt::format("{:<32} {:<19} {:>11} {:>11} {:>9} {:>19}  {}\n", "cell", "metric", "baseline",
                                "current", "change", "threshold", "verdict");
  out += std::string(118, '-') + "\n";
  for (const GateRow& r : rows) out += line(r);
  std::vector<const GateRow*> failing;
  for (const GateRow& r : rows)
    if (r.verdict == Verdict::kRegression || r.verdict == Verdict::kFailed) failing.push_back(&r);
  const auto inconclusive =
      std::count_if(rows.begin(), rows.end(), [](const GateRow& r) { return r.verdict == Verdict::kInconclusive; });
  if (failing.empty()) {
    out += "\ngate: pass (" + std::to_string(rows.size()) + " rows, no regression" +
           (inconclusive != 0 ? ", " + std::to_string(inconclusive) + " inconclusive" : "") + ")\n";
  } else {
    out += "\ngate: FAIL, " + std::to_string(failing.size()) + " failing row" + (failing.size() == 1 ? "" : "s") +
           ":\n";
    for (const GateRow* r : failing) out += "  " + line(*r);
  }
  return out;
}

}  // namespace lab
