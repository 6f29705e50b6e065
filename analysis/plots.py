"""The report's plots, drawn from a Results model. One function per figure;
each writes a PNG and returns its file name, or raises Skipped with the
reason the report shows in its place. Medians, quartiles and ratios come from
the cells' summaries (lab_results); only RSS series and learning data are
read from the runs' records. A figure drawn with a value missing
(a measured cell whose records lack it) marks the bar n/a and appends a
sentence to `gaps`, which the report lists as a missing part.

Every plot gives an allocator the same colour (COLOURS), labels its axes
with units, has a title and a legend, and switches to a log scale when its
values span more than a factor of ten.
"""

import os
from typing import Dict, List, Optional, Tuple

import matplotlib

matplotlib.use("Agg")  # headless: CI and bazel run have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker, transforms  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from lab_results import Cell, MachineGroup, Results  # noqa: E402

MIB = 1024.0 * 1024.0
DPI = 100
WIDE = (12, 5)   # 1200 x 500 pixels
GRID_ROW = (12, 4.5)  # 1200 x 450 pixels per row of panels

# One fixed colour per allocator, in every plot.
COLOURS: Dict[str, str] = {
    "ultra_simple": "#1f77b4",
    "magazine": "#ff7f0e",
    "hot_mag": "#2ca02c",
    "bound": "#7f7f7f",
    "glibc": "#d62728",
    "jemalloc": "#9467bd",
    "tcmalloc": "#8c564b",
    "mimalloc": "#e377c2",
    # A variant preloaded: the light tone of its linked colour, so the two
    # modes of one variant read as a pair and never take a peer's colour.
    "ultra_simple (preload)": "#aec7e8",
    "magazine (preload)": "#ffbb78",
    "hot_mag (preload)": "#98df8a",
}
_SPARE = ["#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39"]


class Skipped(Exception):
    """A plot that cannot be drawn from these results; the message says why."""


class NotApplicable(Skipped):
    """A plot that does not apply to this run (scaling with one thread
    count, learning without learning data): noted, not a missing part."""


def colour(allocator: str) -> str:
    if allocator in COLOURS:
        return COLOURS[allocator]
    return _SPARE[sum(map(ord, allocator)) % len(_SPARE)]  # stable across runs


def _spans_decade(values: List[float]) -> bool:
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) / min(positive) > 10


def _log_scale(ax) -> None:
    """Log y axis with plain numbers (4, 10, 40), not 4×10⁰."""
    ax.set_yscale("log")
    plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    # Minor ticks: label the 2s and 5s of each decade (0.2, 5, 20 ...).
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))


def _hatch_legend(ax, entries: List[tuple], **kwargs) -> None:
    """Legend for hatch-coded series, in a neutral colour: colour means
    allocator in every plot, so a legend swatch must not borrow one."""
    ax.legend(handles=[Patch(facecolor="white", edgecolor="black", hatch=h, label=label) for label, h in entries],
              **kwargs)


def _allocator_legend(ax, allocators: List[str]) -> None:
    """One key for the whole figure, in a panel of its own: the same colour
    means the same allocator in every panel, so one key serves them all and
    none is drawn over data."""
    ax.set_visible(True)
    ax.axis("off")
    handles = [Line2D([], [], color=colour(a), marker="o", label=a) for a in allocators]
    ax.legend(handles=handles, loc="center", fontsize=9, title="allocator")


def _save(fig, out_dir: str, name: str) -> str:
    fig.savefig(os.path.join(out_dir, name), dpi=DPI)
    plt.close(fig)
    return name


def _grid(n: int):
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(GRID_ROW[0], GRID_ROW[1] * rows), squeeze=False,
                             constrained_layout=True)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _key_panel(ax, entries: List[tuple], title: str) -> None:
    """The hatch key of a grid of panels, in a panel of its own."""
    ax.set_visible(True)
    ax.axis("off")
    _hatch_legend(ax, entries, title=title, loc="center", fontsize=9)


def _bar_groups(ax, allocators: List[str], series: List[tuple], ylabel: str, legend_title: Optional[str] = None):
    """Grouped bars, one colour per allocator, one hatch per series; series
    are (label, values, (low, high) whiskers or None, hatch). A missing
    value is marked n/a; the axis turns logarithmic across a decade (and
    then keeps every bar visibly tall and its top decade labelled)."""
    x = np.arange(len(allocators))
    width = 0.8 / max(1, len(series))
    everything = [v for _, values, _, _ in series for v in values if v]
    marks = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    for i, (label, values, errors, hatch) in enumerate(series):
        positions = x + (i - (len(series) - 1) / 2) * width
        heights = [v if v else np.nan for v in values]
        ax.bar(positions, heights, width, color=[colour(a) for a in allocators], edgecolor="black",
               linewidth=0.5, hatch=hatch)
        if errors is not None:
            lo = [h - e[0] if e else 0 for h, e in zip(heights, errors)]
            hi = [e[1] - h if e else 0 for h, e in zip(heights, errors)]
            ax.errorbar(positions, heights, yerr=[lo, hi], fmt="none", ecolor="black", capsize=2, linewidth=0.8)
        for pos, v in zip(positions, values):
            if not v:
                ax.text(pos, 0.02, "n/a", transform=marks, rotation=90, ha="center", va="bottom",
                        fontsize=7, color="dimgray")
    ax.set_xticks(x)
    ax.set_xticklabels(allocators, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if _spans_decade(everything):
        _log_scale(ax)
        positive = [v for v in everything if v > 0]
        ax.set_ylim(bottom=min(positive) / 2, top=max(positive) * 1.6)
    else:
        ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1 and legend_title is not None:
        _hatch_legend(ax, [(label, hatch) for label, _, _, hatch in series], title=legend_title, fontsize=7)


def _median_or_gap(cell: Optional[Cell], key: str, scale: float, what: str, gaps: List[str]) -> Optional[float]:
    """The cell's median of `key` (from its summary), scaled; None (drawn
    n/a) when the cell has no runs, and also noted in `gaps` when it has runs
    but no median of the value (its records lack it)."""
    if cell is None or not cell.runs:
        return None
    value = cell.median(key)
    if value is None:
        gaps.append(_gap(what, cell, key))
        return None
    return value / scale


def _gap(what: str, cell: Cell, key: str) -> str:
    return f"{what}: {cell.workload}/{cell.allocator}/t{cell.threads} has no {key} in its records"


def throughput(results: Results, workload: str, out_dir: str, gaps: List[str]) -> str:
    threads = [t for t in results.threads() if results.measured(workload, t)]
    if not threads:
        raise Skipped(f"no measured cells for {workload}")
    allocators = [a for a in results.allocators() if any(results.cell(workload, a, t) and results.cell(workload, a, t).runs for t in threads)]
    fig, (left, right) = plt.subplots(1, 2, figsize=WIDE, constrained_layout=True)
    hatches = ["", "//", "xx", ".."]
    series = []
    for i, t in enumerate(threads):
        cells = [results.cell(workload, a, t) for a in allocators]
        quart = [c.quartiles("ops_per_sec") if c and c.runs else None for c in cells]
        gaps.extend(_gap(f"throughput ({workload})", c, "ops_per_sec") for c, q in zip(cells, quart)
                    if c and c.runs and q is None)
        series.append((f"{t} thread{'s' if t > 1 else ''}", [q[1] / 1e6 if q else None for q in quart],
                       [(q[0] / 1e6, q[2] / 1e6) if q else None for q in quart], hatches[i % 4]))
    _bar_groups(left, allocators, series, "Mops/s, median (whiskers: interquartile range)", "threads")
    left.set_title(f"{workload}: throughput")
    ratios = []
    for i, t in enumerate(threads):
        ratios.append((f"{results.baseline}, {t} thr", [
            results.ratio(results.cell(workload, a, t), results.baseline) if results.cell(workload, a, t) else None
            for a in allocators], None, hatches[i % 4]))
    if any(results.cell(workload, "bound", t) and results.cell(workload, "bound", t).runs for t in threads):
        t = next(t for t in threads if results.cell(workload, "bound", t) and results.cell(workload, "bound", t).runs)
        ratios.append((f"bound, {t} thr", [
            results.ratio(results.cell(workload, a, t), "bound") if results.cell(workload, a, t) else None
            for a in allocators], None, "oo"))
    if not any(v for _, values, _, _ in ratios for v in values):
        why = (f"{results.baseline} was not part of this run" if results.baseline not in results.allocators()
               else f"{results.baseline} has no runs on {workload}")
        right.axis("off")
        right.text(0.5, 0.5, f"no ratios: {why}", ha="center", va="center", transform=right.transAxes)
        if results.baseline in results.allocators():
            gaps.append(f"throughput ({workload}): no ratios, {why}")
    else:
        _bar_groups(right, allocators, ratios, "throughput ratio (1.0 = equal)", "divided by")
        right.axhline(1.0, color="black", linewidth=0.8)
    with_bound = " and to bound" if any(label.startswith("bound") for label, _, _, _ in ratios) else ""
    right.set_title(f"{workload}: ratio to {results.baseline}{with_bound}")
    return _save(fig, out_dir, f"throughput_{workload}.png")


def cpu_efficiency(results: Results, out_dir: str, gaps: List[str]) -> str:
    workloads = [w for w in results.workloads() if any(results.measured(w, t) for t in results.threads())]
    if not workloads:
        raise Skipped("no measured cells")
    fig, axes = _grid(len(workloads) + 1)  # the last panel holds the key
    key, axes = axes[-1], axes[:-1]
    hatches = ["", "//", "xx"]
    for ax, w in zip(axes, workloads):
        threads = [t for t in results.threads() if results.measured(w, t)]
        allocators = [a for a in results.allocators() if any(results.cell(w, a, t) and results.cell(w, a, t).runs for t in threads)]
        series = [(f"{t}", [_median_or_gap(results.cell(w, a, t), "ops_per_cpu_second", 1e6, "CPU efficiency", gaps)
                            for a in allocators], None, hatches[i % 3]) for i, t in enumerate(threads)]
        _bar_groups(ax, allocators, series, "Mops per CPU-second")
        ax.set_title(w)
    _key_panel(key, [(f"{t} thread{'s' if t > 1 else ''}", hatches[i % 3]) for i, t in enumerate(results.threads())],
               "threads")
    fig.suptitle("CPU efficiency: operations per CPU-second (user + system, all threads)")
    return _save(fig, out_dir, "cpu_efficiency.png")


def memory(results: Results, threads: int, out_dir: str, gaps: List[str]) -> str:
    workloads = [w for w in results.workloads() if results.measured(w, threads)]
    if not workloads:
        raise Skipped(f"no measured cells at {threads} thread(s)")
    fig, axes = _grid(len(workloads) + 1)  # the last panel holds the key
    key, axes = axes[-1], axes[:-1]
    for ax, w in zip(axes, workloads):
        cells = results.measured(w, threads)
        allocators = [c.allocator for c in cells]
        peak = [_median_or_gap(c, "peak_rss_bytes", MIB, "memory", gaps) for c in cells]
        drained = [_median_or_gap(c, "rss_after_drain_bytes", MIB, "memory", gaps) for c in cells]
        _bar_groups(ax, allocators, [("peak", peak, None, ""), ("after drain", drained, None, "//")],
                    "RSS, MiB (median)")
        ax.set_title(w)
    _key_panel(key, [("peak RSS (timed region and drain)", ""), ("RSS after everything was freed", "//")], "bars")
    fig.suptitle(f"Memory at {threads} thread{'s' if threads > 1 else ''}: peak RSS and RSS after everything was freed")
    return _save(fig, out_dir, f"memory_t{threads}.png")


def _series_cells(results: Results, workload: str) -> List[Cell]:
    threads = min((t for t in results.threads() if results.measured(workload, t)), default=None)
    if threads is None:
        return []
    return [c for c in results.measured(workload, threads) if "rss_series" in c.runs[0].record]


def workloads_with_series(results: Results) -> List[str]:
    return [w for w in results.workloads() if _series_cells(results, w)]


def rss_over_time(results: Results, workload: str, out_dir: str) -> str:
    cells = _series_cells(results, workload)
    if not cells:
        raise Skipped(f"{workload} has no RSS series (runs made without --rss-sample-ms)")
    fig, ax = plt.subplots(figsize=WIDE, constrained_layout=True)
    markers = {"rise": "^", "fall": "v"}
    for c in cells:
        series = c.runs[0].record["rss_series"]
        t = series.get("t_ms", [])
        rss = [b / MIB for b in series.get("rss_bytes", [])]
        ax.plot(t, rss, color=colour(c.allocator), label=c.allocator, linewidth=1.0)
        for phase in series.get("phases", []):
            ms = phase.get("t_ms")
            if ms is None or not t:
                continue
            y = float(np.interp(ms, t, rss))
            ax.plot([ms], [y], marker=markers.get(phase.get("name"), "o"), color=colour(c.allocator),
                    markersize=4, linestyle="none")
        if "drain_start_ms" in series:
            ax.axvline(series["drain_start_ms"], color=colour(c.allocator), linestyle=":", linewidth=0.6)
    ax.set_xlabel("time since the start of the timed region, ms")
    ax.set_ylabel("RSS, MiB")
    ax.set_title(f"{workload}: RSS over time, first repetition at {cells[0].threads} thread(s) "
                 "(▲ rise starts, ▼ fall starts, dotted: drain)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out_dir, f"rss_over_time_{workload}.png")


def _latency_cells(results: Results, workload: str) -> Tuple[Optional[int], List[Cell]]:
    """The cells of `workload` with sampled latency, at the fewest threads
    that have any."""
    for t in results.threads():
        cells = [c for c in results.measured(workload, t)
                 if any(r.number("latency", "malloc", "samples") for r in c.runs)]
        if cells:
            return t, cells
    return None, []


def workloads_with_latency(results: Results) -> List[str]:
    return [w for w in results.workloads() if _latency_cells(results, w)[1]]


# The tail axis: x = -log10(1 - p), so 90%, 99%, 99.9% ... are evenly spaced.
TAIL_TICKS = [(0.0, "0%"), (1.0, "90%"), (2.0, "99%"), (3.0, "99.9%"), (4.0, "99.99%"), (5.0, "99.999%"),
              (6.0, "99.9999%")]


def tail_x(percentile: float, samples: float) -> float:
    """Where a percentile sits on the tail axis; the maximum (100) at the
    rank of one sample in `samples`, where the curve's last point belongs."""
    if percentile >= 100:
        return float(np.log10(max(samples, 1.0)))
    return float(-np.log10(1 - percentile / 100))


def latency_percentiles(results: Results, workload: str, out_dir: str) -> str:
    threads, cells = _latency_cells(results, workload)
    if not cells:
        raise Skipped(f"{workload} has no sampled latency (records written before latency sampling)")
    fig, axes = plt.subplots(1, 2, figsize=WIDE, constrained_layout=True, sharey=True)
    top = 0.0
    for ax, op in zip(axes, ("malloc", "free")):
        for c in cells:
            runs = sorted((r for r in c.runs if r.number("latency", op, "samples")),
                          key=lambda r: r.number("latency", op, "p99_ns") or 0.0)
            if not runs:
                continue
            sampled = runs[len(runs) // 2].record["latency"][op]  # the repetition with the median p99
            xs = [tail_x(p, sampled["samples"]) for p, _ in sampled["curve"]]
            top = max(top, max(xs))
            ax.plot(xs, [max(v, 1.0) for _, v in sampled["curve"]], color=colour(c.allocator), label=c.allocator,
                    linewidth=1.2, marker=".", markersize=3)
        _log_scale(ax)
        ax.set_xticks([x for x, _ in TAIL_TICKS if x <= max(top, 3.0)])
        ax.set_xticklabels([label for x, label in TAIL_TICKS if x <= max(top, 3.0)])
        ax.set_xlabel("percentile (tail axis; a line's last point is its maximum)")
        ax.set_title(f"{op}")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("latency of one call, ns (log)")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{workload}: per-call latency by percentile, {threads} thread(s) (sampled calls, TSC; each line "
                 "the repetition with the median p99)")
    return _save(fig, out_dir, f"latency_{workload}.png")


def _fragmentation_cells(results: Results, workload: str) -> Tuple[Optional[int], List[Cell]]:
    for t in results.threads():
        cells = [c for c in results.measured(workload, t) if "live_bytes" in c.runs[0].record.get("rss_series", {})]
        if cells:
            return t, cells
    return None, []


def workloads_with_fragmentation(results: Results) -> List[str]:
    return [w for w in results.workloads() if _fragmentation_cells(results, w)[1]]


def fragmentation(results: Results, workload: str, out_dir: str) -> str:
    threads, cells = _fragmentation_cells(results, workload)
    if not cells:
        raise Skipped(f"{workload} has no live-bytes series")
    fig, ax = plt.subplots(figsize=WIDE, constrained_layout=True)
    for c in cells:
        series = c.runs[0].record["rss_series"]
        end = series.get("drain_start_ms", float("inf"))
        points = [(t / 60000.0, rss / live) for t, rss, live in
                  zip(series.get("t_ms", []), series.get("rss_bytes", []), series.get("live_bytes", []))
                  if t <= end and _is_num(live) and live > 0]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], color=colour(c.allocator), label=c.allocator,
                    linewidth=1.0)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("time since the start of the timed region, minutes")
    ax.set_ylabel("RSS / live bytes (1.0 = no overhead)")
    ax.set_title(f"{workload}: fragmentation over time, first repetition at {threads} thread(s)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out_dir, f"fragmentation_{workload}.png")


def scaling(results: Results, out_dir: str) -> str:
    if len(results.threads()) < 2:
        raise NotApplicable("the run has one thread count only; scaling needs at least two")
    workloads = results.workloads()
    fig, axes = _grid(len(workloads) + 1)  # the last panel holds the key
    key, axes = axes[-1], axes[:-1]
    plotted = []
    for ax, w in zip(axes, workloads):
        values = []
        for a in results.allocators():
            points = [(t, results.cell(w, a, t).median("ops_per_sec")) for t in results.threads()
                      if results.cell(w, a, t) and results.cell(w, a, t).runs]
            if len(points) < 2:
                continue
            ax.plot([p[0] for p in points], [p[1] / 1e6 for p in points], marker="o", color=colour(a), label=a)
            values += [p[1] / 1e6 for p in points]
            plotted += [a] if a not in plotted else []
        ax.set_xticks(results.threads())
        ax.set_xlabel("threads")
        ax.set_ylabel("Mops/s (median)")
        if _spans_decade(values):
            _log_scale(ax)
        ax.set_title(w)
        ax.grid(alpha=0.3)
    _allocator_legend(key, plotted)
    fig.suptitle("Scaling: throughput against threads (allocators measured at one thread count only are left out)")
    return _save(fig, out_dir, "scaling.png")


# One hatch per machine (colour stays the allocator's).
MACHINE_HATCHES = ["", "//", "xx", "..", "\\\\", "oo", "++", "--"]


def machines(results: Results, groups: List[MachineGroup], out_dir: str) -> str:
    """Each allocator's geometric mean ratio to the baseline on each machine
    of a file measured on several CPUs: grouped bars, one per machine, read
    from the file's per-machine allocator summaries."""
    means = {(a.allocator, a.machine): a.geomean_ratio_to_baseline for a in results.allocator_summaries}
    allocators = [a for a in results.allocators() if any(means.get((a, g.label)) for g in groups)]
    if not allocators:
        raise Skipped("the file holds no per-machine geometric means")
    fig, ax = plt.subplots(figsize=WIDE, constrained_layout=True)
    series = [(g.label, [means.get((a, g.label)) for a in allocators], None,
               MACHINE_HATCHES[i % len(MACHINE_HATCHES)]) for i, g in enumerate(groups)]
    _bar_groups(ax, allocators, series, f"geometric mean × {results.baseline} (1.0 = equal)")
    ax.axhline(1.0, color="black", linewidth=0.8)
    _hatch_legend(ax, [(label, hatch) for label, _, _, hatch in series], title="machine", fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"Ratio to {results.baseline} on each machine (each to {results.baseline} on the same machine)")
    return _save(fig, out_dir, "machines.png")


# The learner's trace (results/SCHEMA.md, "learning"): its rows' columns,
# in the order the record names them once.
TRACE_COLUMNS = ["t_ms", "knob", "index", "old", "new", "signal"]
LEARNING_MODES = ("rules", "on")  # the modes in which the controller changes knobs
DRAWN_KNOBS = ("tiny_cache", "mid_cache_kib", "l25_cache_kib", "large_cache_mib", "purge_delay_ms")
Steps = Dict[Tuple[str, int], Tuple[List[float], List[float]]]  # (knob, index): (t_ms, values)


def trace_rows(learned: dict) -> List[dict]:
    """A record's learning trace as {column: value} rows, in time order
    (decisions at one time keep theirs). Raises Skipped on a trace that is
    not the documented table."""
    columns = learned.get("columns", TRACE_COLUMNS)
    if not isinstance(columns, list) or sorted(map(str, columns)) != sorted(TRACE_COLUMNS):
        raise Skipped(f"the learning trace's columns are {columns!r}, not {TRACE_COLUMNS}")
    rows = learned.get("trace", [])
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise Skipped(f"the learning trace should be a list of rows of {len(columns)} columns")
    rows = [dict(zip(columns, r)) for r in rows]
    if not all(_is_num(r["t_ms"]) and _is_num(r["old"]) and _is_num(r["new"]) for r in rows):
        raise Skipped("the learning trace has a row whose t_ms, old or new is not a number")
    return sorted(rows, key=lambda r: r["t_ms"])


def knob_steps(learned: dict, end_ms: Optional[float] = None) -> Steps:
    """Every knob's value over time, from a record's `learning`: {(knob,
    index): (t_ms, values)}, a step series (the value at t_ms[i] holds
    until t_ms[i + 1]; draw with drawstyle="steps-post"). A "start" entry
    gives the knob's first value, each later entry the value it changed to;
    a knob whose first entry is a change (a trace that lost its start)
    holds the change's old value from the trace's first time. With end_ms
    past a knob's last entry, the last value is repeated there, so its last
    step has a width. Raises Skipped on a trace that is not the documented
    table."""
    rows = trace_rows(learned)
    steps: Steps = {}
    for r in rows:
        key = (r["knob"], r["index"])
        if key not in steps:
            steps[key] = ([], [])
            if r["signal"] != "start":
                steps[key][0].append(float(rows[0]["t_ms"]))
                steps[key][1].append(float(r["old"]))
        steps[key][0].append(float(r["t_ms"]))
        steps[key][1].append(float(r["new"]))
    if end_ms is not None:
        for t, v in steps.values():
            if end_ms > t[-1]:
                t.append(float(end_ms))
                v.append(v[-1])
    return steps


def _learning_cells(results: Results) -> List[Cell]:
    """Cells whose first run carries learning: those where the controller
    ran (rules, on), else any; by workload, allocator, threads."""
    cells = [c for c in results.cells if c.runs and isinstance(c.runs[0].record.get("learning"), dict)]
    learning = [c for c in cells if c.runs[0].record["learning"].get("mode") in LEARNING_MODES] or cells
    return sorted(learning, key=lambda c: (c.workload, c.allocator, c.threads))


def _classes(indices: List[int]) -> str:
    """[0, 1, 2, 5, 7, 8] as "0-2, 5, 7, 8": runs of three or more joined."""
    runs: List[List[int]] = []
    for i in sorted(indices):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _shade(base: str, k: int, n: int):
    """The k-th of n tones of an allocator's colour, from dark to the colour
    itself: lines of one cell told apart without borrowing another
    allocator's colour."""
    f = 0.0 if n < 2 else 0.55 * (n - 1 - k) / (n - 1)
    return tuple(np.array(to_rgb(base)) * (1 - f))


_STYLES = ["-", "--", "-.", (0, (5, 1, 1, 1, 1, 1))]  # dotted is kept for the phases


def learning(results: Results, out_dir: str) -> str:
    cells = _learning_cells(results)
    if not cells:
        raise NotApplicable("no run carries learning data (knob values over time); "
                            "this panel appears once a variant records them")
    c = cells[0]
    record = c.runs[0].record
    learned = record["learning"]
    series = record.get("rss_series") if isinstance(record.get("rss_series"), dict) else {}
    timed_end = float(record.get("seconds", 0) or 0) * 1e3
    # The run goes on after the timed region (drain, settle step), and so
    # does the learner: its later decisions are drawn, not cut off.
    ends = [timed_end] + [float(series[k]) for k in ("drain_end_ms", "settle_end_ms") if _is_num(series.get(k))]
    rows = trace_rows(learned)
    end = max(ends + [float(r["t_ms"]) for r in rows])
    steps = knob_steps(learned, end)
    if not steps:
        raise Skipped(f"{c.workload}/{c.allocator}/t{c.threads} carries learning with an empty trace")
    base = colour(c.allocator)
    fig, (tiny, budgets, purge) = plt.subplots(1, 3, figsize=WIDE, constrained_layout=True)

    # (a) Tiny classes whose capacity changed, one line per distinct course.
    courses: Dict[tuple, List[int]] = {}
    held = set()
    for (knob, index), (t, v) in steps.items():
        if knob != "tiny_cache":
            continue
        if len(set(v)) > 1:
            courses.setdefault((tuple(t), tuple(v)), []).append(index)
        else:
            held.add(v[0])
    for k, ((t, v), indices) in enumerate(sorted(courses.items(), key=lambda kv: min(kv[1]))):
        tiny.plot(t, v, drawstyle="steps-post", color=_shade(base, k, len(courses)), linestyle=_STYLES[k % 4],
                  label=f"class{'es' if len(indices) > 1 else ''} {_classes(indices)}")
    if courses:
        tiny.legend(fontsize=7 if len(courses) <= 6 else 6, ncol=1 if len(courses) <= 6 else 2, loc="best")
    else:
        held_text = f"all held {' or '.join(f'{h:g}' for h in sorted(held))} blocks" if held else "no tiny_cache entry"
        tiny.text(0.5, 0.5, f"no tiny class changed its capacity\n({held_text})", ha="center", va="center",
                  transform=tiny.transAxes, fontsize=9, color="dimgray",
                  bbox={"facecolor": "white", "edgecolor": "none"})
        tiny.set_yticks([])
    tiny.set_ylabel("cache capacity, blocks")
    others_held = f" (the others held {' or '.join(f'{h:g}' for h in sorted(held))})" if courses and held else ""
    tiny.set_title(f"(a) tiny cache per class{others_held}")

    # (b) The budgets, all in MiB (KiB knobs divided by 1024).
    drawn = []
    for k, (knob, label, scale) in enumerate([("mid_cache_kib", "mid cache per thread", 1024.0),
                                              ("l25_cache_kib", "L2.5 cache per thread", 1024.0),
                                              ("large_cache_mib", "large cache", 1.0)]):
        if (knob, -1) in steps:
            t, v = steps[(knob, -1)]
            values = [x / scale for x in v]
            budgets.plot(t, values, drawstyle="steps-post", color=_shade(base, k, 3), linestyle=_STYLES[k],
                         label=f"{label} ({knob})")
            drawn += values
    if drawn:
        budgets.legend(fontsize=7, loc="best")
        if _spans_decade(drawn):
            _log_scale(budgets)
            budgets.set_ylim(bottom=min(drawn) / 1.5, top=max(drawn) * 4)  # room for the legend
    budgets.set_ylabel("budget, MiB")
    budgets.set_title("(b) cache budgets")

    # (c) The purge delay.
    if ("purge_delay_ms", -1) in steps:
        t, v = steps[("purge_delay_ms", -1)]
        purge.plot(t, v, drawstyle="steps-post", color=base, label="purge_delay_ms")
    purge.set_ylabel("purge delay, ms")
    purge.set_title("(c) purge delay")

    start = min(min(t[0] for t, _ in steps.values()), 0.0)
    drain = float(series["drain_start_ms"]) if _is_num(series.get("drain_start_ms")) else timed_end
    phases = [p for p in learned.get("phases", []) if isinstance(p, dict) and _is_num(p.get("t_ms"))]
    marks = [(float(p["t_ms"]), str(p.get("name", "?"))) for p in phases] + ([(drain, "drain")] if end > drain else [])
    for ax in (tiny, budgets, purge):
        for p in phases:
            ax.axvline(p["t_ms"], color="black", linestyle=":", linewidth=0.7)
        if end > drain:
            ax.axvline(drain, color="dimgray", linestyle="--", linewidth=0.7)
        ax.set_xlim(start, end)
        ax.set_xlabel("time since the timed region's start, ms")
        ax.grid(alpha=0.3)
        if ax.get_yscale() != "log":
            ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
        # The phases' names along the top, clear of the lines and legends.
        top = ax.secondary_xaxis("top")
        top.set_xticks([t for t, _ in marks])
        top.set_xticklabels([name for _, name in marks], rotation=90, fontsize=6, color="dimgray")
        top.tick_params(length=2, pad=1)

    changes: Dict[str, int] = {}
    for r in rows:
        changes[r["knob"]] = changes.get(r["knob"], 0) + (r["signal"] != "start")
    notes = [f"{learned.get('passes', '?')} learner passes, {sum(changes.values())} changes"]
    not_drawn = [k for k in changes if k not in DRAWN_KNOBS and changes[k]]
    if not_drawn:
        notes.append("not drawn: " + ", ".join(f"{k} ({changes[k]} changes)" for k in not_drawn))
    if learned.get("dropped"):
        notes.append(f"{learned['dropped']} decisions dropped (trace full): the last values may be wrong")
    if learned.get("error"):
        notes.append(f"error: {learned['error']}")
    others = f"; first of {len(cells)} cells with learning" if len(cells) > 1 else ""
    fig.suptitle(f"Learning: {c.workload}, {c.allocator}, {c.threads} thread{'s' if c.threads > 1 else ''}, "
                 f"HAKMEM_LEARN={learned.get('mode', '?')} (first repetition{others})\n" + "; ".join(notes),
                 fontsize=10)
    return _save(fig, out_dir, "learning.png")


def _is_num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _program_panels(results: Results, metric: str, scale: float, ylabel: str, what: str, gaps: List[str],
                    extra_panels: int = 0):
    """A grid with one panel per program (the suite's workloads) of the
    median of `metric` per allocator, whiskers at the quartiles; returns
    the figure and the spare panels left for the caller."""
    programs = [(w, t) for w in results.workloads() for t in results.threads() if results.measured(w, t)]
    if not programs:
        raise Skipped("no measured programs")
    fig, axes = _grid(len(programs) + extra_panels)
    for ax, (w, t) in zip(axes, programs):
        cells = results.measured(w, t)
        quart = [c.quartiles(metric) for c in cells]
        gaps.extend(_gap(what, c, metric) for c, q in zip(cells, quart) if q is None)
        _bar_groups(ax, [c.allocator for c in cells],
                    [("", [q[1] / scale if q else None for q in quart],
                      [(q[0] / scale, q[2] / scale) if q else None for q in quart], "")], ylabel)
        ax.set_title(f"{w} ({t} thread{'s' if t > 1 else ''})")
    return fig, axes[len(programs):]


def program_times(results: Results, out_dir: str, gaps: List[str]) -> str:
    fig, spare = _program_panels(results, "seconds", 1.0, "wall seconds, median", "program times", gaps,
                                 extra_panels=1)
    ax = spare[0]
    means = [a for a in results.allocator_summaries if a.geomean_ratio_to_baseline is not None]
    if means:
        _bar_groups(ax, [a.allocator for a in means], [("", [a.geomean_ratio_to_baseline for a in means], None, "")],
                    f"× {results.baseline} (its time / this time)")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_title(f"geometric mean over the programs, × {results.baseline}")
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "no geometric means in the file", ha="center", va="center", transform=ax.transAxes)
        gaps.append("program times: the file holds no geometric means")
    fig.suptitle("Programs: wall time per allocator (lower is faster)")
    return _save(fig, out_dir, "program_times.png")


def program_memory(results: Results, out_dir: str, gaps: List[str]) -> str:
    fig, _ = _program_panels(results, "peak_rss_bytes", MIB, "peak RSS, MiB (median)", "program memory", gaps)
    fig.suptitle("Programs: peak RSS per allocator (lower holds less)")
    return _save(fig, out_dir, "program_memory.png")
