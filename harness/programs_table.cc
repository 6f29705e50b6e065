#include "harness/programs_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "harness/table.h"

namespace lab {
namespace {

std::string seconds(std::optional<double> s) { return s ? fmt::format("{:.3f}", *s) : "-"; }

}  // namespace

std::string render_program_table(const ResultsFile& results) {
  std::string out;
  const std::string& baseline = results.config.baseline;
  std::vector<std::string> programs;
  std::set<std::string> seen;
  size_t w = 14;  // the allocator column: as wide as the longest name (hot_mag[learn=rules])
  for (const Cell& c : results.cells) {
    if (seen.insert(c.workload).second) programs.push_back(c.workload);
    w = std::max(w, c.allocator.size());
  }

  for (const std::string& program : programs) {
    const Cell* first = nullptr;
    for (const Cell& c : results.cells)
      if (c.workload == program && first == nullptr) first = &c;
    const Json& reference = first->params.contains("reference") ? first->params["reference"] : Json(nullptr);
    out += fmt::format("\n{}, {} thread{} (median of {} reps; x{} = {}'s time / this time, higher is faster){}\n",
                       program, first->threads, first->threads == 1 ? "" : "s", results.config.reps, baseline,
                       baseline,
                       reference.is_object() ? "; output " + reference.value("output_checksum", "?") : "");
    const std::string header = fmt::format("{:<{}} {:>9} {:>8} {:>9} {:>9} {:>11}", "allocator", w, "seconds", "spread",
                                           "x" + baseline, "CPU s", "peak RSS") +
                               "  status";
    out += header + "\n" + std::string(header.size() + 10, '-') + "\n";
    for (const Cell& c : results.cells) {
      if (c.workload != program) continue;
      const CellSummary& s = c.summary;
      const Spread* time = s.spread("seconds");
      const std::string status = c.status(results.config.reps);
      out += fmt::format("{:<{}} {:>9} {:>8} {:>9} {:>9} {:>11}  {}\n", c.allocator, w, seconds(s.median("seconds")),
                         time ? fmt::format("{:.1f}%", time->rel_iqr * 100) : "-",
                         s.ratio_to_baseline ? fmt::format("{:.2f}x", *s.ratio_to_baseline) : "-",
                         seconds(s.median("cpu_seconds")), format_bytes(s.median("peak_rss_bytes")),
                         status == "failed" ? "FAILED: " + c.failures.front().reason
                                            : fmt::format("{}/{} {}{}", c.runs.size(), results.config.reps, status,
                                                          c.runs.empty() ? "" : ", output = glibc's"));
    }
  }
  out += fmt::format("\ngeometric means over the programs (x{0}: higher is faster; peak RSS / {0}'s: lower holds less)\n",
                     baseline);
  const std::string header = fmt::format("{:<{}} {:>9} {:>18}  over", "allocator", w, "x" + baseline, "peak RSS ratio");
  out += header + "\n" + std::string(header.size() + 10, '-') + "\n";
  const auto ratio = [](std::optional<double> r) { return r ? fmt::format("{:.3f}", *r) : std::string("-"); };
  for (const AllocatorSummary& a : results.allocator_summaries)
    out += fmt::format("{:<{}} {:>9} {:>18}  {} program{}\n", a.allocator, w, ratio(a.geomean_ratio_to_baseline),
                       ratio(a.geomean_peak_rss_to_baseline), a.cells, a.cells == 1 ? "" : "s");
  return out;
}

}  // namespace lab
