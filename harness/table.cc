#include "harness/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

#include "harness/machine_group.h"

namespace lab {
namespace {

std::string format_ratio(std::optional<double> ratio) { return ratio ? fmt::format("{:.2f}x", *ratio) : "-"; }

// "linked (inline)": hakmem's fast path compiled into the driver; the
// peers' linked drivers call their shared library, like preload does.
std::string mode_label(const Cell& c) {
  if (c.mode == kPreloadMode) return "preload";
  return c.allocator_kind == "hakmem" ? "linked (inline)" : "linked";
}

// hakmem's learner in a cell: its mode, the knob changes of a run (median)
// and the learner thread's CPU time over the run's (median): "on 57 ch,
// 0.4% CPU"; "-" for a peer.
std::string learning_label(const Cell& c) {
  if (c.runs.empty() || !c.runs.front().record.learning) return "-";
  std::string label = c.runs.front().record.learning->mode;
  if (const auto changes = c.summary.median("learner_changes"); changes && label != "off" && label != "frozen")
    label += fmt::format(" {:.0f} ch", *changes);
  if (const auto share = c.summary.median("learner_cpu_share")) label += fmt::format(", {:.1f}% CPU", *share * 100);
  return label;
}

}  // namespace

std::string format_mops(std::optional<double> per_second) {
  if (!per_second) return "-";
  const double mops = *per_second / 1e6;
  return mops >= 1 ? fmt::format("{:.1f}", mops) : fmt::format("{:.3g}", mops);
}

std::string format_bytes(std::optional<double> bytes) {
  if (!bytes) return "-";
  return fmt::format("{:.1f} MiB", *bytes / (1024.0 * 1024.0));
}

std::string format_tail(std::optional<double> p99_ns, std::optional<double> p99_9_ns) {
  if (!p99_ns || !p99_9_ns) return "-";
  return fmt::format("{:.0f}/{:.0f}", *p99_ns, *p99_9_ns);
}

namespace {

// The per-(workload, threads) tables of `cells` (the file's, or one machine
// group's), columns chosen by what these cells have.
std::string render_cells(const ResultsFile& results, const std::vector<const Cell*>& cells,
                         const TableOptions& options) {
  std::string out;
  const std::string& baseline = results.config.baseline;
  std::vector<std::pair<std::string, int>> groups;
  std::set<std::pair<std::string, int>> seen;
  for (const Cell* c : cells)
    if (seen.insert({c->workload, c->threads}).second) groups.emplace_back(c->workload, c->threads);

  bool any_callgrind = false, any_bound = false, any_settle = false, any_learning = false, any_frag = false;
  size_t name_width = 14;  // setting allocators (hot_mag[learn=on]) are longer
  for (const Cell* cell : cells) {
    const Cell& c = *cell;
    any_callgrind |= c.callgrind.has_value();
    any_bound |= c.allocator == kBoundAllocator && !c.runs.empty();
    any_settle |= c.summary.median("rss_after_settle_bytes").has_value();
    any_frag |= c.summary.median("frag_final_ratio").has_value();
    any_learning |= !c.runs.empty() && c.runs.front().record.learning && c.runs.front().record.learning->mode != "off";
    name_width = std::max(name_width, c.allocator.size());
  }

  for (const auto& [workload, threads] : groups) {
    out += fmt::format("\n{}, {} thread{} (median of {} reps; spread = interquartile range / median{}{}{})\n", workload,
                       threads, threads == 1 ? "" : "s", results.config.reps,
                       any_bound ? "; t/bound = time relative to bound, 1.00 = speed of light" : "",
                       options.latency ? "; p99/99.9 in ns, sampled calls" : "",
                       any_frag ? "; RSS/live at the end and its drift per minute over the second half" : "");
    std::string header = fmt::format("{:<{}} {:<15} {:>9} {:>8} {:>9}", "allocator", name_width, "mode", "Mops/s",
                                     "spread", "x" + baseline);
    if (any_bound) header += fmt::format(" {:>8}", "t/bound");
    header += fmt::format(" {:>11} {:>11} {:>12}", "Mops/CPU-s", "peak RSS", "after drain");
    if (any_settle) header += fmt::format(" {:>12}", "after settle");
    if (any_frag) header += fmt::format(" {:>9} {:>10}", "RSS/live", "drift/min");
    if (options.latency) header += fmt::format(" {:>15} {:>15}", "malloc p99/99.9", "free p99/99.9");
    if (any_callgrind) header += fmt::format(" {:>8}", "Ir/op");
    if (any_learning) header += fmt::format(" {:<22}", "learning");
    header += "  status";
    out += header + "\n" + std::string(header.size() + 6, '-') + "\n";
    for (const Cell* cell : cells) {
      const Cell& c = *cell;
      if (c.workload != workload || c.threads != threads) continue;
      const CellSummary& s = c.summary;
      const Spread* rate = s.spread("ops_per_sec");
      std::string row = fmt::format("{:<{}} {:<15} {:>9} {:>8} {:>9}", c.allocator, name_width, mode_label(c),
                                    format_mops(s.median("ops_per_sec")),
                                    rate ? fmt::format("{:.1f}%", rate->rel_iqr * 100) : "-",
                                    format_ratio(s.ratio_to_baseline));
      if (any_bound)
        row += fmt::format(" {:>8}", s.ratio_to_bound ? fmt::format("{:.2f}", 1 / *s.ratio_to_bound) : "-");
      row += fmt::format(" {:>11} {:>11} {:>12}", format_mops(s.median("ops_per_cpu_second")),
                         format_bytes(s.median("peak_rss_bytes")), format_bytes(s.median("rss_after_drain_bytes")));
      if (any_settle) row += fmt::format(" {:>12}", format_bytes(s.median("rss_after_settle_bytes")));
      if (any_frag) {
        const auto end = s.median("frag_final_ratio"), drift = s.median("frag_slope_per_min");
        row += fmt::format(" {:>9} {:>10}", end ? fmt::format("{:.2f}", *end) : "-",
                           drift ? fmt::format("{:+.3f}", *drift) : "-");
      }
      if (options.latency)
        row += fmt::format(" {:>15} {:>15}", format_tail(s.median("malloc_p99_ns"), s.median("malloc_p99_9_ns")),
                           format_tail(s.median("free_p99_ns"), s.median("free_p99_9_ns")));
      if (any_callgrind) {
        row += c.callgrind && c.callgrind->contains("instructions_per_op")
                   ? fmt::format(" {:>8.1f}", (*c.callgrind)["instructions_per_op"].get<double>())
                   : fmt::format(" {:>8}", "-");
      }
      if (any_learning) row += fmt::format(" {:<22}", learning_label(c));
      const std::string status = c.status(results.config.reps);
      row += "  " + (status == "failed"    ? "FAILED: " + c.failures.front().reason
                     : status == "refused" ? "refused: " + *c.refused
                                           : fmt::format("{}/{} {}", c.runs.size(), results.config.reps, status));
      out += row + "\n";
    }
  }
  return out;
}

// "a", "a and b", "a, b and c".
std::string listed(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return s;
}

// The distinct values `value` reads from the group's machine records, in
// the order first seen.
std::vector<std::string> seen_values(const MachineGroup& g, const std::function<std::string(const Json&)>& value) {
  std::vector<std::string> out;
  for (const Json& m : g.machines)
    if (const std::string v = value(m); std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  return out;
}

// A machine record's field as text; "?" where the record lacks it.
std::string text_of(const Json& machine, const char* key) {
  const std::string text = machine_text(machine, key);
  return text.empty() ? "?" : text;
}

// "machine 1 of 2: <label>" and what the group's nodes were: cores,
// kernels, THP settings (nodes of one CPU may differ in them).
std::string machine_heading(const MachineGroup& g, size_t index, size_t count) {
  const auto cores = seen_values(g, [](const Json& m) { return text_of(m, "cores"); });
  const auto kernels = seen_values(g, [](const Json& m) { return text_of(m, "kernel"); });
  const auto thp = seen_values(g, [](const Json& m) {
    return fmt::format("enabled [{}] defrag [{}]", text_of(m, "thp_enabled"), text_of(m, "thp_defrag"));
  });
  const std::string title = fmt::format("machine {} of {}: {}", index + 1, count, g.label);
  return fmt::format("\n{}\n{}\n{} cores; kernel{} {}; THP {}\n", title, std::string(title.size(), '='),
                     listed(cores), kernels.size() == 1 ? "" : "s", listed(kernels), listed(thp));
}

}  // namespace

std::string render_table(const ResultsFile& results, const TableOptions& options) {
  const std::vector<MachineGroup> groups = machine_groups(results);
  if (groups.size() <= 1) {
    std::vector<const Cell*> cells;
    for (const Cell& c : results.cells) cells.push_back(&c);
    return render_cells(results, cells, options);
  }
  // Several CPUs: each group's tables under its own heading, so no row is
  // read against a baseline measured on another machine.
  std::string out;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::vector<const Cell*> cells;
    for (size_t c : groups[i].cells) cells.push_back(&results.cells[c]);
    out += machine_heading(groups[i], i, groups.size()) + render_cells(results, cells, options);
  }
  return out;
}

}  // namespace lab
