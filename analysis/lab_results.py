"""Reading hakmem-lab results files (schema version 3, written by compare,
gate and programs; the format is results/SCHEMA.md).

A results file is read whole, validated, and turned into plain Python
records; every later stage (tables, plots, the report) reads only these.
Each cell's `summary` was computed once, by the harness: every median,
quartile, relative IQR and ratio here is read from it, never recomputed, so
the report and the gate cannot disagree. What stays per run (`Cell.values`)
is there for what one file cannot hold: comparing two files.

Cells measured on different CPUs (a merge of shards run on several
machines) are grouped by machine as the harness groups them
(harness/machine_group.h, results/SCHEMA.md "Machine groups"): a ratio is
only ever to a reference of the cell's own group.

Older runs may lack fields added later (a cell's `params`, `refused`, a run's
`counts`); those read as None rather than failing. A file that cannot be
read, is not JSON, or is not a results file of this schema raises
ResultsError; one broken cell, run or summary inside a good file does not:
it is left out or shows as missing, and `Results.problems` says what and
why, so the report can mark it and still show the rest.
"""

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

SCHEMA_VERSION = 3
KIND = "hakmem-lab/compare"
BOUND = "bound"  # the speed-of-light reference; summaries hold ratios to it


class ResultsError(Exception):
    """A results file that cannot be used; the message names the file."""


@dataclass
class Run:
    rep: int
    record: dict

    def number(self, *path) -> Optional[float]:
        node = self.record
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node) if _is_number(node) else None


@dataclass(frozen=True)
class Spread:
    """One metric over a cell's runs, as the harness summarized it."""
    min: float
    p25: float
    median: float
    p75: float
    max: float
    rel_iqr: float  # (p75 - p25) / median; 0 when the median is 0
    n: int  # runs that have the metric


@dataclass
class Summary:
    """A cell's `summary`: its spreads by metric name (None: no run has the
    metric) and its throughput ratios."""
    reps: int
    ratio_to_baseline: Optional[float]
    ratio_to_bound: Optional[float]
    ratios_to_baseline_by_rep: List[float]
    metrics: Dict[str, Optional[Spread]]
    peak_rss_to_baseline: Optional[float] = None


@dataclass(frozen=True)
class AllocatorSummary:
    """One allocator in one mode across the file, as the harness summarized
    it: geometric means over `cells` (workload, threads) pairs of its ratios
    to the baseline."""
    allocator: str  # labelled as its cells are
    cells: int
    geomean_ratio_to_baseline: Optional[float]  # throughput: above 1 is faster
    geomean_peak_rss_to_baseline: Optional[float]  # peak RSS: below 1 holds less
    machine: Optional[str] = None  # the machine group's label, in a file of several groups; else None


@dataclass
class Cell:
    allocator: str
    kind: str
    workload: str
    threads: int
    status: str
    runs: List[Run] = field(default_factory=list)
    refused: Optional[str] = None
    error: Optional[str] = None
    callgrind: Optional[dict] = None
    summary: Optional[Summary] = None  # None: missing or malformed in the file (see Results.problems)
    machine: dict = field(default_factory=dict)  # the machine it ran on: its own in a merge of several, else the file's

    @property
    def cpu(self) -> Tuple[str, str, str, str]:
        """Its machine group's identity (cpu_identity)."""
        return cpu_identity(self.machine)

    @property
    def reps(self) -> Optional[int]:
        return self.summary.reps if self.summary else None

    def values(self, *path) -> List[float]:
        """The metric at `path` of every run that has it: the raw samples a
        comparison between two files tests."""
        return [v for v in (run.number(*path) for run in self.runs) if v is not None]

    def spread(self, metric: str) -> Optional[Spread]:
        return self.summary.metrics.get(metric) if self.summary else None

    def median(self, metric: str) -> Optional[float]:
        spread = self.spread(metric)
        return spread.median if spread else None

    def rel_iqr(self, metric: str) -> Optional[float]:
        spread = self.spread(metric)
        return spread.rel_iqr if spread else None

    def quartiles(self, metric: str) -> Optional[tuple]:
        """(p25, median, p75) of the metric."""
        spread = self.spread(metric)
        return (spread.p25, spread.median, spread.p75) if spread else None

    def instructions_per_op(self) -> Optional[float]:
        if self.callgrind and _is_number(self.callgrind.get("instructions_per_op")):
            return float(self.callgrind["instructions_per_op"])
        return None


CPU_FIELDS = ("cpu_model", "cpu_family", "cpu_model_number", "cpu_stepping")


def cpu_identity(machine: dict) -> Tuple[str, str, str, str]:
    """What makes two machines one group: their CPU's model name, family,
    model number and stepping, as harness/machine_group.h reads them ("" for
    a field the record lacks; a number as the text JSON writes for it)."""
    def text(key):
        value = machine.get(key) if isinstance(machine, dict) else None
        return "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return tuple(text(key) for key in CPU_FIELDS)


@dataclass
class MachineGroup:
    """The cells measured on one CPU, as the harness groups them."""
    cpu: Tuple[str, str, str, str]
    label: str  # the model name, with family, model and stepping when another group shares it
    machines: List[dict]  # the distinct machine records of its cells, in the order first seen
    cells: List[Cell]

    def ran(self) -> List[Tuple[str, List[int]]]:
        """(workload, thread counts) of its cells, in file order."""
        out: List[Tuple[str, List[int]]] = []
        for c in self.cells:
            entry = next((e for e in out if e[0] == c.workload), None)
            if entry is None:
                out.append((c.workload, [c.threads]))
            elif c.threads not in entry[1]:
                entry[1].append(c.threads)
        return out


@dataclass
class Results:
    path: str
    status: str
    created_utc: str
    machine: dict
    build: dict
    config: dict
    cells: List[Cell]
    problems: List[str] = field(default_factory=list)  # what was left out of the file, and why
    allocator_summaries: List[AllocatorSummary] = field(default_factory=list)

    @property
    def is_program_suite(self) -> bool:
        """Written by //harness:programs: a workload is a program, one
        operation one whole run, so times are shown rather than Mops/s."""
        params = self.config.get("params")
        return isinstance(params, dict) and params.get("suite") == "programs"

    @property
    def baseline(self) -> str:
        return self.config.get("baseline", "glibc")

    def workloads(self) -> List[str]:
        return _unique(c.workload for c in self.cells)

    def allocators(self) -> List[str]:
        return _unique(c.allocator for c in self.cells)

    def threads(self) -> List[int]:
        return sorted(set(c.threads for c in self.cells))

    def cell(self, workload: str, allocator: str, threads: int, cpu: Optional[tuple] = None) -> Optional[Cell]:
        """The allocator's cell; with `cpu` (a cpu_identity), only one
        measured in that machine group."""
        for c in self.cells:
            if (c.workload, c.allocator, c.threads) == (workload, allocator, threads) and cpu in (None, c.cpu):
                return c
        return None

    def machine_groups(self) -> List[MachineGroup]:
        """The cells' machine groups in the order the cells first name them
        (harness/machine_group.h): one for a file measured on one CPU."""
        groups: List[MachineGroup] = []
        for c in self.cells:
            group = next((g for g in groups if g.cpu == c.cpu), None)
            if group is None:
                group = MachineGroup(cpu=c.cpu, label="", machines=[], cells=[])
                groups.append(group)
            group.cells.append(c)
            if c.machine not in group.machines:
                group.machines.append(c.machine)
        for g in groups:
            model, family, number, stepping = (v or "?" for v in g.cpu)
            shared = sum(o.cpu[0] == g.cpu[0] for o in groups) > 1
            # As describe_cpu() in harness/machine_group.cc.
            detail = (f" (family {family}, model {number}, stepping {stepping})" if g.cpu[1]
                      else " (family and model not recorded)")
            g.label = model + detail if shared else model
        return groups

    def measured(self, workload: str, threads: int) -> List[Cell]:
        """Cells of a workload and thread count that have runs, in file order."""
        return [c for c in self.cells if c.workload == workload and c.threads == threads and c.runs]

    def ratio(self, cell: Cell, reference: str) -> Optional[float]:
        """Median ops/s of `cell` over the reference's, same workload and
        threads, as the summary holds it: the file holds ratios to its
        baseline and to bound only, so any other reference gives None."""
        if not cell.summary or not self._measured_reference(cell, reference):
            return None
        if reference == self.baseline:
            return cell.summary.ratio_to_baseline
        return cell.summary.ratio_to_bound if reference == BOUND else None

    def ratios_by_rep(self, cell: Cell, reference: str) -> List[float]:
        """ops/s of `cell` over the reference's in the same repetition, as the
        summary holds them (for the baseline only; [] for anything else)."""
        if not cell.summary or reference != self.baseline or not self._measured_reference(cell, reference):
            return []
        return list(cell.summary.ratios_to_baseline_by_rep)

    def peak_rss_ratio(self, cell: Cell) -> Optional[float]:
        """Median peak RSS of `cell` over the baseline's, as the summary holds
        it; None where the summary or the baseline's runs on its machine lack it."""
        if not cell.summary or not self._measured_reference(cell, self.baseline):
            return None
        return cell.summary.peak_rss_to_baseline

    def on_another_machine(self, cell: Cell, reference: str) -> bool:
        """True when the reference was measured (same workload and threads)
        only on another CPU than `cell`: their ratio does not exist, which is
        not a gap in the file."""
        return not self._measured_reference(cell, reference) and any(
            c.runs and c.cpu != cell.cpu for c in self.cells
            if (c.workload, c.allocator, c.threads) == (cell.workload, reference, cell.threads))

    def _measured_reference(self, cell: Cell, reference: str) -> bool:
        # A reference whose runs were left out as malformed shows as having
        # no runs; ratios to it are then left out too, so the table and the
        # plots never show a ratio to a cell they call failed. Nor to one
        # measured on another CPU, whatever a summary says.
        ref = self.cell(cell.workload, reference, cell.threads, cpu=cell.cpu)
        return ref is not None and bool(ref.runs)


def _unique(items) -> list:
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ends_open(text: str) -> bool:
    """True when the text stops inside a string or with brackets unclosed:
    a JSON document cut short rather than one that is wrong."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return in_string or depth > 0


def _require(obj: dict, key: str, kind, path: str, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise ResultsError(f"{path}: {where} has no \"{key}\"")
    value = obj[key]
    if not isinstance(value, kind):
        raise ResultsError(f"{path}: {where}: \"{key}\" should be {kind.__name__ if isinstance(kind, type) else 'another type'}")
    return value


def _number(obj: dict, key: str, path: str, where: str, optional: bool = False) -> Optional[float]:
    """A number field as a float; null reads as None where `optional`."""
    if not isinstance(obj, dict) or key not in obj:
        raise ResultsError(f"{path}: {where} has no \"{key}\"")
    value = obj[key]
    if value is None and optional:
        return None
    if not _is_number(value):
        raise ResultsError(f"{path}: {where}: \"{key}\" should be a number{' or null' if optional else ''}")
    return float(value)


def _spread(raw, path: str, where: str) -> Spread:
    if not isinstance(raw, dict):
        raise ResultsError(f"{path}: {where} should be an object or null")
    numbers = {key: _number(raw, key, path, where) for key in ("min", "p25", "median", "p75", "max", "rel_iqr")}
    return Spread(n=int(_number(raw, "n", path, where)), **numbers)


def _summary(c: dict, path: str, where: str, problems: List[str]) -> Optional[Summary]:
    """The cell's summary; None, with the reason in `problems`, when it is
    missing or malformed. One malformed metric shows as missing on its own."""
    try:
        raw = _require(c, "summary", dict, path, where)
        by_rep = _require(raw, "ratios_to_baseline_by_rep", list, path, f"{where}, its summary")
        if not all(_is_number(v) for v in by_rep):
            raise ResultsError(f"{path}: {where}, its summary: \"ratios_to_baseline_by_rep\" should hold numbers")
        summary = Summary(reps=int(_require(raw, "reps", int, path, f"{where}, its summary")),
                          ratio_to_baseline=_number(raw, "ratio_to_baseline", path, f"{where}, its summary", True),
                          ratio_to_bound=_number(raw, "ratio_to_bound", path, f"{where}, its summary", True),
                          ratios_to_baseline_by_rep=[float(v) for v in by_rep], metrics={},
                          peak_rss_to_baseline=_number(raw, "peak_rss_to_baseline", path, f"{where}, its summary",
                                                       True))
        metrics = _require(raw, "metrics", dict, path, f"{where}, its summary")
    except ResultsError as e:
        problems.append(f"{e}; its values show as missing")
        return None
    for name, spread in metrics.items():
        try:
            summary.metrics[name] = None if spread is None else _spread(spread, path, f"{where}, summary of {name}")
        except ResultsError as e:
            problems.append(f"{e}; {name} shows as missing")
            summary.metrics[name] = None
    return summary


def _check_version(data: dict, path: str) -> None:
    version = data.get("schema_version")
    if version in (1, 2):
        raise ResultsError(f"{path}: schema_version {version} is an old format; "
                           f"rewrite it as version {SCHEMA_VERSION} with `bazel run //harness:migrate -- {path}`")
    if version != SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema_version {version!r} is not supported (this report reads version {SCHEMA_VERSION})")


def _label(allocator: str, kind: str, mode: str) -> str:
    """How a cell is named in tables and plots. A hakmem variant measured in
    both modes has two cells: the preload one is "<variant> (preload)". A
    system allocator is measured once, and keeps its name in either mode."""
    return f"{allocator} (preload)" if mode == "preload" and kind == "hakmem" else allocator


def load(path: str) -> Results:
    """Reads and validates a results file. Raises ResultsError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        what = "truncated" if _ends_open(text) else "malformed"
        raise ResultsError(f"{path}: not valid JSON, {what} at line {e.lineno} column {e.colno} ({e.msg})") from e
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: not a results file (the top level is not an object)")
    _check_version(data, path)
    if data.get("kind") != KIND:
        raise ResultsError(f"{path}: kind {data.get('kind')!r} is not {KIND!r} (is this a compare results file?)")
    config = _require(data, "config", dict, path, "the file")
    machine = data.get("machine", {}) or {}
    cells, problems = [], []
    labels = {}  # (allocator, mode) as the file names them -> the label its cells get
    for i, c in enumerate(_require(data, "cells", list, path, "the file")):
        try:
            kind = c.get("allocator_kind", "unknown")
            cell = Cell(
                allocator=_label(_require(c, "allocator", str, path, f"cell {i}"), kind, c.get("mode", "linked")),
                kind=kind,
                workload=_require(c, "workload", str, path, f"cell {i}"),
                threads=int(_require(c, "threads", int, path, f"cell {i}")),
                status=c.get("status", "unknown"),
                refused=c.get("refused") if isinstance(c.get("refused"), str) else None,
                error=c.get("error") if isinstance(c.get("error"), str) else None,
                callgrind=c.get("callgrind") if isinstance(c.get("callgrind"), dict) else None,
                machine=c["machine"] if isinstance(c.get("machine"), dict) else machine,
            )
        except ResultsError as e:  # not even its name: nothing of it can be shown
            problems.append(f"{e}; the cell is left out")
            continue
        labels[(c["allocator"], c.get("mode", "linked"))] = cell.allocator
        where = f"cell {i} ({cell.workload}/{cell.allocator}/t{cell.threads})"
        try:
            raw_runs = _require(c, "runs", list, path, where)
        except ResultsError as e:
            problems.append(f"{e}; it shows as having no runs")
            cell.error = cell.error or "its runs are malformed in the results file"
            raw_runs = []
        for r in raw_runs:
            try:
                cell.runs.append(Run(int(_require(r, "rep", int, path, f"{where}, a run")),
                                     _require(r, "record", dict, path, f"{where}, a run")))
            except ResultsError as e:
                problems.append(f"{e}; the run is left out")
        cell.summary = _summary(c, path, where, problems)
        cells.append(cell)
    return Results(path=path, status=data.get("status", "unknown"), created_utc=data.get("created_utc", "?"),
                   machine=machine, build=data.get("build", {}) or {}, config=config, cells=cells,
                   problems=problems, allocator_summaries=_allocator_summaries(data, path, labels, problems))


def _allocator_summaries(data: dict, path: str, labels: dict, problems: List[str]) -> List[AllocatorSummary]:
    """The file's `summary.allocators`; [] with the reason in `problems`
    when it is missing or malformed."""
    where = "the file's summary"
    try:
        raw = _require(_require(data, "summary", dict, path, "the file"), "allocators", list, path, where)
        out = []
        for entry in raw:
            name = _require(entry, "allocator", str, path, f"{where}, an allocator")
            mode = _require(entry, "mode", str, path, f"{where}, {name}")
            machine = entry.get("machine")
            if machine is not None and not isinstance(machine, str):
                raise ResultsError(f"{path}: {where}, {name}: \"machine\" should be str")
            out.append(AllocatorSummary(
                allocator=labels.get((name, mode), name),
                cells=int(_require(entry, "cells", int, path, f"{where}, {name}")),
                geomean_ratio_to_baseline=_number(entry, "geomean_ratio_to_baseline", path, f"{where}, {name}", True),
                geomean_peak_rss_to_baseline=_number(entry, "geomean_peak_rss_to_baseline", path, f"{where}, {name}",
                                                     True),
                machine=machine))
        return out
    except ResultsError as e:
        problems.append(f"{e}; the geometric means show as missing")
        return []
