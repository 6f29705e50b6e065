"""Writes a phase report (report.md and PNG plots) from a results file.

    bazel run //analysis:report -- --results results/runs/RUN.json \
        [--previous results/runs/OLDER.json] --out results/reports/NAME/

Every number in report.md is read from the results file(s) named at its
top, so it can be traced to a run: medians, spreads and ratios from the
cells' summaries, which the harness computed. This module computes only
what no one file holds: the comparison with --previous (a rank test over
both files' repetitions, and the spread of the per-repetition ratios).

A part that cannot be made (a plot whose cells are missing, an unreadable
--previous file) is marked in place and listed at the end, and the rest of
the report is still written.

Exit status: 0 complete; 1 written with parts missing (listed on stderr and
in the report); 2 nothing written (bad flags, or --results unusable).
"""

import argparse
import math
import os
import statistics
import sys
from dataclasses import dataclass
from typing import List, Optional

import plots
from lab_results import Cell, MachineGroup, Results, ResultsError, load

try:  # scipy is in Debian's python3-scipy; without it the noise test falls back
    from scipy.stats import mannwhitneyu
except ImportError:  # pragma: no cover
    mannwhitneyu = None

MIB = 1024.0 * 1024.0


def _fmt(value: Optional[float], pattern: str) -> str:
    return pattern.format(value) if value is not None else "-"


def _scaled(value: Optional[float], scale: float, pattern: str) -> Optional[str]:
    return pattern.format(value / scale) if value is not None else None


def _mops(value: Optional[float]) -> Optional[str]:
    """A rate in Mops/s as compare's table shows it (harness/table.h
    format_mops): one decimal from 1 up, three significant digits below,
    so a workload of 50 k ops/s does not read 0.0."""
    if value is None:
        return None
    mops = value / 1e6
    return f"{mops:.1f}" if mops >= 1 else f"{mops:.3g}"


def _count(value: Optional[float]) -> Optional[str]:
    """A count (faults, switches): whole numbers as such; a median between
    two counts keeps its .5."""
    if value is None:
        return None
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


# Counts from getrusage (record version 2): a row each in the metrics table
# and the comparison, shown only where some cell has them, so reports of
# older runs read as before.
COUNT_METRICS = [("major_faults", "major faults"), ("voluntary_context_switches", "voluntary context switches")]


def metrics_table(results: Results, missing: List[str]) -> List[str]:
    """The phase status table: one row per metric, one column per allocator.
    A value the records lack shows as "missing" (never as 0) and is listed
    in `missing`."""
    allocators = results.allocators()
    base = results.baseline
    programs = results.is_program_suite
    lines = ["| metric | " + " | ".join(allocators) + " |", "|---|" + "---|" * len(allocators)]
    for w in results.workloads():
        for t in results.threads():
            cells = {a: results.cell(w, a, t) for a in allocators}
            if not any(c and c.runs for c in cells.values()):
                continue
            prefix = f"{w}, {t} thr"

            def row(name, value_of):
                values, absent = [], []
                for a in allocators:
                    c = cells[a]
                    if c is None:
                        values.append("-")
                    elif c.refused:
                        values.append("refused")
                    elif not c.runs:
                        values.append("failed" if c.error else "-")
                    elif (text := value_of(c)) is None:
                        values.append("missing")
                        absent.append(a)
                    else:
                        values.append(text)
                lines.append(f"| {prefix}: {name} | " + " | ".join(values) + " |")
                if absent:
                    missing.append(f"metrics table, {prefix}: {name} missing for {', '.join(absent)}")

            def ratio_row(name, reference, value_of):
                # A reference measured only on another CPU gives no ratio: not a gap in the file.
                row(name, lambda c: value_of(c) or ("other machine" if results.on_another_machine(c, reference)
                                                    else None))

            # A program run is one operation: its time is the number, not Mops/s.
            speed = "seconds" if programs else "ops_per_sec"
            if programs:
                row("seconds (median)", lambda c: _fmt(c.median("seconds"), "{:.3f}") if c.median("seconds") is not None
                    else None)
            else:
                row("Mops/s (median)", lambda c: _mops(c.median("ops_per_sec")))
            row("spread (IQR/median)", lambda c: _fmt(100 * r, "{:.1f}%") if (r := c.rel_iqr(speed)) is not None
                else None)
            base_cell = cells.get(base)
            if base_cell is not None and base_cell.runs:
                ratio_row(f"× {base}" + (" (its time / this time)" if programs else ""), base,
                          lambda c: _scaled(results.ratio(c, base), 1, "{:.2f}"))
            elif base in allocators:
                missing.append(f"metrics table, {prefix}: no × {base} row, {base} has no runs here")
            if any(c and c.allocator == "bound" and c.runs for c in cells.values()):
                row("time vs bound", lambda c: _fmt(1 / r if (r := results.ratio(c, "bound")) else None, "{:.2f}")
                    if c.median("ops_per_sec") is not None else None)
            if programs:
                row("CPU seconds (median)", lambda c: _fmt(c.median("cpu_seconds"), "{:.3f}")
                    if c.median("cpu_seconds") is not None else None)
            else:
                row("Mops per CPU-s", lambda c: _mops(c.median("ops_per_cpu_second")))
            row("peak RSS, MiB", lambda c: _scaled(c.median("peak_rss_bytes"), MIB, "{:.1f}"))
            if base_cell is not None and base_cell.runs:
                ratio_row(f"peak RSS / {base}'s", base, lambda c: _scaled(results.peak_rss_ratio(c), 1, "{:.2f}"))
            if not programs:  # a program's memory after its frees is not observable from outside
                row("RSS after drain, MiB", lambda c: _scaled(c.median("rss_after_drain_bytes"), MIB, "{:.1f}"))
            # Only workloads with a settle step have it (and files written before it existed do not).
            if any(c and c.median("rss_after_settle_bytes") is not None for c in cells.values()):
                row("RSS after settle, MiB", lambda c: _scaled(c.median("rss_after_settle_bytes"), MIB, "{:.1f}"))
            for metric, label in COUNT_METRICS:
                if any(c and c.median(metric) is not None for c in cells.values()):
                    row(f"{label} (median)", lambda c, metric=metric: _count(c.median(metric)))
            # hakmem counts its own system calls; a peer's are not counted, which is not a gap in the file.
            if any(c and c.median("syscalls_per_mop") is not None for c in cells.values()):
                row("system calls per Mop (median)", lambda c: _count(c.median("syscalls_per_mop"))
                    if c.median("syscalls_per_mop") is not None or c.kind == "hakmem" else "not counted")
            if any(c and c.instructions_per_op() is not None for c in cells.values()):
                row("instructions/op (callgrind)", lambda c: _fmt(c.instructions_per_op(), "{:.1f}"))
            # Sampled latency (drivers from issue 14 on): p50 / p99 / p99.9 of one call.
            for op in ("malloc", "free"):
                if any(c and c.median(f"{op}_p99_ns") is not None for c in cells.values()):
                    row(f"{op} p50 / p99 / p99.9, ns", lambda c, op=op: _tail(c, op))
            if any(c and c.median("malloc_over_10us") is not None for c in cells.values()):
                row("sampled calls over 10 µs, malloc / free", lambda c: _over(c))
            # soak: RSS over live bytes.
            if any(c and c.median("frag_final_ratio") is not None for c in cells.values()):
                row("RSS / live: mean, end", lambda c: None if c.median("frag_final_ratio") is None else
                    f"{_fmt(c.median('frag_mean_ratio'), '{:.2f}')}, {c.median('frag_final_ratio'):.2f}")
                row("RSS / live drift per minute (2nd half)", lambda c: _fmt(c.median("frag_slope_per_min"), "{:+.3f}")
                    if c.median("frag_slope_per_min") is not None else None)
    return lines


def _tail(c: Cell, op: str) -> Optional[str]:
    values = [c.median(f"{op}_{p}_ns") for p in ("p50", "p99", "p99_9")]
    return None if any(v is None for v in values) else " / ".join(f"{v:.0f}" for v in values)


def _over(c: Cell) -> Optional[str]:
    m, f = c.median("malloc_over_10us"), c.median("free_over_10us")
    return None if m is None or f is None else f"{_count(m)} / {_count(f)}"


def geomean_table(results: Results, missing: List[str], machine: Optional[str] = None) -> List[str]:
    """One row per allocator: the geometric means the harness stored of its
    cells' ratios to the baseline (the suite's one-number summary); with
    `machine` (a machine group's label), those of that machine's cells."""
    base = results.baseline
    what = "programs" if results.is_program_suite else "(workload, threads) cells"
    lines = [f"Geometric means over the {what}{' of this machine' if machine else ''} where both the allocator "
             f"and {base} have medians: "
             f"`× {base}` is throughput (for programs {base}'s time over this time; above 1 is faster), "
             f"`peak RSS / {base}'s` is memory (below 1 holds less). `over` counts what the mean spans: "
             "an allocator with fewer has failed or refused cells, and its mean is not comparable.", "",
             f"| allocator | × {base} | peak RSS / {base}'s | over |", "|---|---|---|---|"]
    summaries = [a for a in results.allocator_summaries if a.machine == machine]
    if not summaries:
        missing.append(f"geometric means{' on ' + machine if machine else ''}: the file holds none")
        return lines + ["| - | missing | missing | - |"]
    for a in summaries:
        lines.append(f"| {a.allocator} | {_fmt(a.geomean_ratio_to_baseline, '{:.3f}')} | "
                     f"{_fmt(a.geomean_peak_rss_to_baseline, '{:.3f}')} | {a.cells} |")
    return lines


# Changes smaller than this are never called real: RSS moves by a page or
# two between runs whose spread is otherwise zero.
RESOLUTION = 0.01


def noise_test_name() -> str:
    return ("a two-sided Mann-Whitney test at 5% over the repetitions" if mannwhitneyu is not None else
            "no overlap between the two runs' repetitions (scipy is not installed, so no Mann-Whitney test)")


@dataclass
class Sample:
    """One file's repetitions of a metric, for the comparison: the values the
    rank test needs, with that file's median and relative IQR of them."""
    values: List[float]
    median: float
    rel_iqr: float

    @staticmethod
    def of_series(values: List[float]) -> Optional["Sample"]:
        """A series whose spread no summary holds (the per-repetition ratios
        to the baseline): the one median and IQR this module computes."""
        if not values:
            return None
        median = statistics.median(values)
        if len(values) < 2 or not median:
            return Sample(values, median, 0.0)
        q = statistics.quantiles(values, n=4, method="inclusive")
        return Sample(values, median, (q[2] - q[0]) / median)


def _sample(cell: Cell, metric: str) -> Optional[Sample]:
    """The cell's runs of `metric` with its summary's median and relative
    IQR; None when the runs or the summary lack it."""
    values, spread = cell.values(metric), cell.spread(metric)
    if not values or spread is None:
        return None
    return Sample(values, spread.median, spread.rel_iqr)


def beyond_noise(before: Sample, after: Sample) -> str:
    """Whether a change exceeds the runs' own noise: significant (see
    noise_test_name) AND a median change larger than either run's relative
    interquartile range and than RESOLUTION."""
    if len(before.values) < 3 or len(after.values) < 3:
        return "too few repetitions"
    # From a median of 0 (a count such as major faults) any rise is
    # unbounded and no relative change exists.
    change = abs(after.median / before.median - 1) if before.median else (math.inf if after.median else 0.0)
    noise = max(before.rel_iqr, after.rel_iqr)
    if mannwhitneyu is not None:
        p = mannwhitneyu(after.values, before.values, alternative="two-sided").pvalue
        significant = p < 0.05
        detail = f"p={p:.2g}"
    else:
        significant = min(after.values) > max(before.values) or max(after.values) < min(before.values)
        detail = "no overlap" if significant else "overlap"
    if significant and math.isinf(change):
        return f"yes ({detail}, up from 0)"
    if significant and change > max(noise, RESOLUTION):
        return f"yes ({detail}, change {100 * change:.0f}% > noise {100 * noise:.0f}%)"
    if significant and change <= RESOLUTION:
        return f"no ({detail}, but under the {100 * RESOLUTION:.0f}% resolution)"
    return f"no ({detail}, noise {100 * noise:.0f}%)"


def _per(scale: float, pattern: str):
    """A formatter: the value divided by `scale`, in `pattern`."""
    return lambda value: pattern.format(value / scale)


def comparison_table(results: Results, previous: Results) -> List[str]:
    base = results.baseline
    lines = ["| cell | metric | before | after | change | beyond the noise? |", "|---|---|---|---|---|---|"]
    rows = 0
    for c in results.cells:
        p = previous.cell(c.workload, c.allocator, c.threads)
        if not c.runs or p is None or not p.runs:
            continue
        key = f"{c.workload}/{c.allocator}/t{c.threads}"
        if results.is_program_suite:
            samples = [("seconds", _sample(p, "seconds"), _sample(c, "seconds"), _per(1, "{:.3f}")),
                       ("CPU seconds", _sample(p, "cpu_seconds"), _sample(c, "cpu_seconds"), _per(1, "{:.3f}"))]
        else:
            samples = [("Mops/s", _sample(p, "ops_per_sec"), _sample(c, "ops_per_sec"), _mops),
                       ("Mops per CPU-s", _sample(p, "ops_per_cpu_second"), _sample(c, "ops_per_cpu_second"), _mops)]
        if c.allocator != base:  # machine drift cancels out of a ratio measured in the same run
            samples.append((f"× {base}", Sample.of_series(previous.ratios_by_rep(p, base)),
                            Sample.of_series(results.ratios_by_rep(c, base)), _per(1, "{:.2f}")))
        samples += [("peak RSS, MiB", _sample(p, "peak_rss_bytes"), _sample(c, "peak_rss_bytes"), _per(MIB, "{:.1f}")),
                    ("RSS after drain, MiB", _sample(p, "rss_after_drain_bytes"), _sample(c, "rss_after_drain_bytes"),
                     _per(MIB, "{:.1f}")),
                    ("RSS after settle, MiB", _sample(p, "rss_after_settle_bytes"),
                     _sample(c, "rss_after_settle_bytes"), _per(MIB, "{:.1f}"))]
        samples += [(label, _sample(p, metric), _sample(c, metric), _count) for metric, label in COUNT_METRICS]
        for metric, before, after, show in samples:
            if before is None or after is None:
                continue
            b, a = before.median, after.median
            change = f"{100 * (a / b - 1):+.1f}%" if b else "-"
            verdict = beyond_noise(before, after)
            lines.append(f"| {key} | {metric} | {show(b)} | {show(a)} | {change} | {verdict} |")
            rows += 1
        b_ir, a_ir = p.instructions_per_op(), c.instructions_per_op()
        if b_ir and a_ir:
            # Instruction counts are exact: any change beyond 0.5% is real.
            change = a_ir / b_ir - 1
            verdict = "yes (exact count)" if abs(change) > 0.005 else "no (within 0.5%)"
            lines.append(f"| {key} | instructions/op | {b_ir:.1f} | {a_ir:.1f} | {100 * change:+.1f}% | {verdict} |")
            rows += 1
    if rows == 0:
        lines.append("| - | no cell was measured in both runs | | | | |")
    return lines


def drift_notes(results: Results, previous: Results) -> List[str]:
    """How far the baseline allocator itself moved between the two runs: code
    that did not change moving that much is the machine, and absolute
    throughput changes of that size say nothing about the code."""
    notes = []
    base = results.baseline
    for c in results.cells:
        p = previous.cell(c.workload, c.allocator, c.threads)
        if c.allocator != base or not c.runs or p is None or not p.runs:
            continue
        b, a = p.median("ops_per_sec"), c.median("ops_per_sec")
        if b and a and abs(a / b - 1) > 0.05:
            notes.append(f"- {c.workload}, {c.threads} thr: {base} itself moved {100 * (a / b - 1):+.0f}% "
                         f"({_mops(b)} → {_mops(a)} Mops/s).")
    if notes:
        notes = ([f"**Machine drift.** The baseline allocator, {base}, is the same code in both runs, yet:"] + notes +
                 ["", f"Absolute Mops/s changes of that size are the machine, not the code: read the `× {base}` rows "
                      "(each repetition divided by the baseline measured next to it) and the instruction counts.", ""])
    return notes


def _listed(items: List[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _memory(machine: dict) -> str:
    return f"{machine['memory_bytes'] / 2**30:.1f} GiB" if machine.get("memory_bytes") else "-"


def _thp(machine: dict) -> str:
    return f"enabled [{machine.get('thp_enabled')}], defrag [{machine.get('thp_defrag')}]"


def machine_section(results: Results, groups: List[MachineGroup], missing: List[str]) -> List[str]:
    """A file whose cells ran on several CPUs: each machine's details, the
    (workload, threads) groups it ran and its allocators' geometric means,
    as the harness stored them per machine."""
    lines = [f"The cells ran on {len(groups)} CPUs (shards of the matrix merged from several machines). Every ratio "
             "and geometric mean is within one machine: no cell is divided by a baseline measured on another CPU. "
             "Each machine's means are over the cells it ran, which may be other workloads than another's.", ""]
    for i, g in enumerate(groups, 1):
        def seen(value_of) -> str:
            """The distinct values of the group's machine records (nodes of one CPU may differ)."""
            values = []
            for m in g.machines:
                if (v := value_of(m)) not in values:
                    values.append(v)
            return _listed(values)

        model, family, number, stepping = (v or "?" for v in g.cpu)
        cpu = model if not any(g.cpu[1:]) else f"{model} (family {family}, model {number}, stepping {stepping})"
        ran = "; ".join(f"{w} at {_listed([str(t) for t in threads])} thread{'' if threads == [1] else 's'}"
                        for w, threads in g.ran())
        lines += [f"### Machine {i}: {g.label}", "", "| | |", "|---|---|", f"| CPU | {cpu} |",
                  f"| cores | {seen(lambda m: str(m.get('cores', '?')))} |",
                  f"| kernel | {seen(lambda m: str(m.get('kernel', '?')))} |",
                  f"| memory | {seen(_memory)} |",
                  f"| transparent huge pages | {seen(_thp)} |"]
        # Recorded since issue 15: the nodes, and whether their clocks were pinned.
        if any("host" in m for m in g.machines):
            lines += [f"| hosts | {seen(lambda m: str(m.get('host', '?')))} |",
                      f"| CPU frequency governor | {seen(lambda m: str(m.get('cpu_governor', '?')))} |"]
        lines += [f"| ran | {ran} |", ""]
        lines += geomean_table(results, missing, g.label) + [""]
    return lines


CAPTIONS = {
    "throughput": "Throughput on {w}: bars are medians with the interquartile range; the right panel divides by "
                  "{base} and by bound. Look at hakmem's variants against 1.0 (the {base} line) and at how close "
                  "they come to bound.",
    "cpu_efficiency": "Operations per CPU-second: where wall-clock throughput hides threads that spin or wait, "
                      "this shows the work per unit of CPU actually spent.",
    "memory": "Peak RSS and RSS after everything was freed, {t} thread(s); a panel whose values span more than a "
              "factor of ten is on a log scale. Look for allocators whose after-drain bar stays as tall as their "
              "peak: memory held back.",
    "rss_over_time": "RSS over time on {w}: each line is one allocator's first repetition. Look at how far each "
                     "falls after a ▼ (the fall starts) and whether the next ▲ climbs from there or from scratch.",
    "latency": "Latency of one malloc (left) and one free (right) call on {w}, by percentile: one call in "
               "--latency-sample was timed with the TSC, outliers (page faults, system calls, preemption) kept. "
               "The horizontal axis spreads the tail, each step ten times rarer. Look at where a line leaves the "
               "others: that allocator's refills, purges or drains land on its callers at that rarity.",
    "fragmentation": "RSS over the bytes the workload holds live on {w}, over the run: 1.0 would be no overhead. "
                     "Look at the slope in the second half: a line that keeps rising is memory the allocator "
                     "cannot reuse as sizes drift.",
    "scaling": "Throughput against threads: a line that falls as threads are added is contention.",
    "machines": "Each allocator's geometric mean ratio to {base} on each machine (one bar per machine, hatched as "
                "the key says; n/a: the allocator has no ratio there), read from the file's per-machine summaries. "
                "Each ratio is to {base} on the same machine; a machine's mean spans the cells it ran, which may be "
                "other workloads than another machine's. Look for allocators whose lead changes from one CPU to "
                "another.",
    "learning": "What hakmem's learner did in one run, named in the title (the first cell with HAKMEM_LEARN=rules or "
                "on, else any with learning data; its first repetition): each knob's value over time, a step at "
                "each decision of the record's trace, through the drain and settle step. (a) the tiny classes whose "
                "cache capacity changed (classes that moved together share a line), (b) the mid, L2.5 and large "
                "cache budgets, (c) the purge delay. Dotted: the workload's phases; dashed: the drain. Look for "
                "knobs that follow the phases rather than drifting one way.",
    "program_times": "Wall time of each program under each allocator: bars are medians with the interquartile "
                     "range, lower is faster. The last panel is the geometric mean over the programs of {base}'s time over "
                     "each allocator's (above 1.0 is faster than {base}).",
    "program_memory": "Peak RSS of each program (the process and its children, from wait4's rusage): lower holds "
                      "less memory.",
}


def workload_figures(results: Results, out_dir: str, figure) -> None:
    """The plots of a compare run, each through `figure` (which marks a plot
    that cannot be drawn and goes on)."""
    for w in results.workloads():
        figure("throughput", lambda gaps, w=w: plots.throughput(results, w, out_dir, gaps), w=w, base=results.baseline)
    figure("cpu_efficiency", lambda gaps: plots.cpu_efficiency(results, out_dir, gaps))
    for t in results.threads():
        figure("memory", lambda gaps, t=t: plots.memory(results, t, out_dir, gaps), t=t)
    series_workloads = plots.workloads_with_series(results)
    for w in series_workloads:
        figure("rss_over_time", lambda gaps, w=w: plots.rss_over_time(results, w, out_dir), w=w)
    for w in ("growth", "phase_change"):
        if w in results.workloads() and w not in series_workloads:
            figure("rss_over_time", lambda gaps, w=w: plots.rss_over_time(results, w, out_dir), w=w)
    for w in plots.workloads_with_latency(results):
        figure("latency", lambda gaps, w=w: plots.latency_percentiles(results, w, out_dir), w=w)
    for w in plots.workloads_with_fragmentation(results):
        figure("fragmentation", lambda gaps, w=w: plots.fragmentation(results, w, out_dir), w=w)
    figure("scaling", lambda gaps: plots.scaling(results, out_dir))
    figure("learning", lambda gaps: plots.learning(results, out_dir))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="report", description="Writes report.md and PNG plots from a results file.")
    parser.add_argument("--results", required=True, help="results JSON written by compare")
    parser.add_argument("--previous", help="an earlier results JSON to compare against (the previous phase)")
    parser.add_argument("--out", required=True, help="directory for report.md and the plots (created if missing)")
    parser.add_argument("--title", help="report title (default: the results file's name)")
    args = parser.parse_args(argv)
    workdir = os.environ.get("BUILD_WORKING_DIRECTORY", "")
    resolve = lambda p: p if not p or os.path.isabs(p) else os.path.join(workdir, p)  # noqa: E731
    results_path, previous_path, out_dir = resolve(args.results), resolve(args.previous), resolve(args.out)

    try:
        results = load(results_path)
    except ResultsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        print(f"error: cannot create {out_dir}: {e.strerror}", file=sys.stderr)
        return 2

    missing: List[str] = [f"results file: {problem}" for problem in results.problems]
    previous = None
    if previous_path:
        try:
            previous = load(previous_path)
            missing.extend(f"previous phase's file: {problem}" for problem in previous.problems)
        except ResultsError as e:
            missing.append(f"comparison with the previous phase: {e}")

    title = args.title or os.path.splitext(os.path.basename(results_path))[0]
    md = [f"# Phase report: {title}", "",
          f"Results: `{os.path.relpath(results_path, out_dir)}` (status {results.status}, measured {results.created_utc})."]
    if results.problems:
        md.append(f"> **Missing:** {len(results.problems)} part(s) of the results file are malformed and left out "
                  "(listed under Missing parts).")
    if previous_path:
        md.append(f"Previous phase: `{os.path.relpath(previous_path, out_dir)}`" + ("." if previous else " (unreadable, see below)."))
    md += ["", "## Machine and build", "", "| | |", "|---|---|"]
    m, b = results.machine, results.build
    driver = b.get("driver", {}) if isinstance(b.get("driver"), dict) else {}
    groups = results.machine_groups()
    if len(groups) > 1:  # the file's machine is only the first shard's: each is under Machines
        machine_rows = [("machines", f"{len(groups)} CPUs: {'; '.join(g.label for g in groups)} (see Machines)")]
    else:
        machine_rows = [("CPU", m.get("cpu_model")), ("cores", m.get("cores")), ("kernel", m.get("kernel")),
                        ("memory", f"{m['memory_bytes'] / 2**30:.1f} GiB" if m.get("memory_bytes") else None),
                        ("transparent huge pages", f"enabled [{m.get('thp_enabled')}], defrag [{m.get('thp_defrag')}]")]
        if "host" in m:  # recorded since issue 15
            machine_rows += [("host", m.get("host")), ("CPU frequency governor", m.get("cpu_governor"))]
    build_rows = [("compiler", b.get("compiler")), ("build mode", b.get("compilation_mode")),
                  ("driver flags", " ".join(driver.get("compile_flags", [])) or None),
                  ("git commit", f"{b.get('git_commit')}{' (dirty)' if b.get('git_dirty') else ''}"),
                  ("matrix", f"{', '.join(results.workloads())}; threads {results.threads()}; "
                             f"{results.config.get('reps')} interleaved repetitions")]
    for label, value in machine_rows + build_rows:
        md.append(f"| {label} | {value if value is not None else '-'} |")

    def figure(kind: str, make, **fmt):
        gaps: List[str] = []
        try:
            name = make(gaps)
            md.extend([f"![{kind}]({name})", "", "*" + CAPTIONS[kind].format(**fmt) + "*", ""])
            md.extend([f"> **Missing:** {gap} (drawn n/a)" for gap in gaps] + ([""] if gaps else []))
            missing.extend(gaps)
        except plots.NotApplicable as e:
            md.extend([f"> {kind.replace('_', ' ')}: not drawn, {e}.", ""])
        except plots.Skipped as e:
            text = f"{kind.replace('_', ' ')}{' (' + fmt['w'] + ')' if 'w' in fmt else ''}: not drawn: {e}"
            md.extend([f"> **Missing:** {text}", ""])
            missing.append(text)
        except Exception as e:  # one broken plot must not cost the rest of the report
            text = f"{kind.replace('_', ' ')}{' (' + fmt['w'] + ')' if 'w' in fmt else ''}: error while drawing: {e!r}"
            md.extend([f"> **Missing:** {text}", ""])
            missing.append(text)

    if len(groups) > 1:
        md += ["", "## Machines", ""] + machine_section(results, groups, missing)
        figure("machines", lambda gaps: plots.machines(results, groups, out_dir), base=results.baseline)

    md += ["", "## Metrics", ""]
    if results.is_program_suite:
        md += ["A real-program suite (`//harness:programs`): each workload is an unmodified program under the "
               "allocator's library in LD_PRELOAD, its output checked byte for byte against glibc's. Medians of "
               "wall and CPU seconds and of peak RSS (the process and its children) over the repetitions; `× " +
               results.baseline + "` is " + results.baseline + "'s time over this time (higher is faster).", ""]
    else:
        md += ["Medians over the repetitions; `× " + results.baseline + "` is the throughput ratio to " +
               results.baseline + " (higher is faster), `time vs bound` the time relative to the speed-of-light "
               "reference (1.00 = bound).", ""]
    if results.baseline not in results.allocators():
        md += [f"({results.baseline} was not part of this run, so there is no `× {results.baseline}` row.)", ""]
    md += metrics_table(results, missing)
    md += ["", "## Geometric means", ""]
    if len(groups) > 1:  # a mean never mixes CPUs
        md.append("One table per machine, under Machines above.")
    else:
        md += geomean_table(results, missing)

    md += ["", "## Plots", ""]
    if results.is_program_suite:
        # A program has one run's time and memory: no Mops/s, no after-drain
        # RSS, no series; those plots would only be gaps.
        figure("program_times", lambda gaps: plots.program_times(results, out_dir, gaps), base=results.baseline)
        figure("program_memory", lambda gaps: plots.program_memory(results, out_dir, gaps))
    else:
        workload_figures(results, out_dir, figure)

    md += ["", "## Against the previous phase", ""]
    if previous:
        md += [f"Beyond the noise means {noise_test_name()} and a median change larger than either run's "
               f"interquartile range / median and than {100 * RESOLUTION:.0f}%.", ""]
        md += drift_notes(results, previous)
        md += comparison_table(results, previous)
    elif previous_path:
        md.append(f"> **Missing:** {next(t for t in missing if t.startswith('comparison with the previous phase'))}")
    else:
        md.append("No previous phase given (--previous).")

    failed = [c for c in results.cells if c.error and not c.runs]
    refused = [c for c in results.cells if c.refused]
    if failed or refused:
        md += ["", "## Cells without runs", ""]
        md += [f"- {c.workload}/{c.allocator}/t{c.threads}: failed: {c.error}" for c in failed]
        md += [f"- {c.workload}/{c.allocator}/t{c.threads}: refused: {c.refused}" for c in refused]
    if missing:
        md += ["", "## Missing parts", ""] + [f"- {text}" for text in missing]
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    for text in missing:
        print(f"warning: {text}", file=sys.stderr)
    print(f"report: {os.path.join(out_dir, 'report.md')}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
