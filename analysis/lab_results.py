"""Reading hakmem-lab results files (schema version 1, written by compare).

A results file is read whole, validated, and turned into plain Python
records; every later stage (tables, plots, the report) reads only these.
Older runs may lack fields added later (a cell's `params`, `refused`, a run's
`counts`); those read as None rather than failing. A file that cannot be
read, is not JSON, or is not a results file of this schema raises
ResultsError; one broken cell or run inside a good file does not: it is left
out, and `Results.problems` says what was left out and why, so the report
can mark it and still show the rest.
"""

import json
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional

SCHEMA_VERSION = 1
KIND = "hakmem-lab/compare"


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
        return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


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

    def values(self, *path) -> List[float]:
        """The metric at `path` of every run that has it."""
        return [v for v in (run.number(*path) for run in self.runs) if v is not None]

    def median(self, *path) -> Optional[float]:
        values = self.values(*path)
        return statistics.median(values) if values else None

    def quartiles(self, *path) -> Optional[tuple]:
        """(p25, median, p75) of the metric, numpy's default interpolation."""
        values = sorted(self.values(*path))
        if not values:
            return None
        return tuple(_quantile(values, q) for q in (0.25, 0.5, 0.75))

    def instructions_per_op(self) -> Optional[float]:
        if self.callgrind and isinstance(self.callgrind.get("instructions_per_op"), (int, float)):
            return float(self.callgrind["instructions_per_op"])
        return None


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

    @property
    def baseline(self) -> str:
        return self.config.get("baseline", "glibc")

    def workloads(self) -> List[str]:
        return _unique(c.workload for c in self.cells)

    def allocators(self) -> List[str]:
        return _unique(c.allocator for c in self.cells)

    def threads(self) -> List[int]:
        return sorted(set(c.threads for c in self.cells))

    def cell(self, workload: str, allocator: str, threads: int) -> Optional[Cell]:
        for c in self.cells:
            if (c.workload, c.allocator, c.threads) == (workload, allocator, threads):
                return c
        return None

    def measured(self, workload: str, threads: int) -> List[Cell]:
        """Cells of a workload and thread count that have runs, in file order."""
        return [c for c in self.cells if c.workload == workload and c.threads == threads and c.runs]

    def ratio(self, cell: Cell, reference: str) -> Optional[float]:
        """Median ops/s of `cell` over the reference's, same workload and threads."""
        ref = self.cell(cell.workload, reference, cell.threads)
        mine = cell.median("ops_per_sec")
        theirs = ref.median("ops_per_sec") if ref else None
        if mine is None or not theirs:
            return None
        return mine / theirs

    def ratios_by_rep(self, cell: Cell, reference: str) -> List[float]:
        """ops/s of `cell` over the reference's in the same repetition."""
        ref = self.cell(cell.workload, reference, cell.threads)
        if ref is None:
            return []
        theirs = {run.rep: run.number("ops_per_sec") for run in ref.runs}
        return [mine / theirs[run.rep] for run in cell.runs
                if (mine := run.number("ops_per_sec")) is not None and theirs.get(run.rep)]


def _unique(items) -> list:
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _quantile(sorted_values: List[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    below = int(position)
    above = min(below + 1, len(sorted_values) - 1)
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * (position - below)


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
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema_version {version!r} is not supported (this report reads version {SCHEMA_VERSION})")
    if data.get("kind") != KIND:
        raise ResultsError(f"{path}: kind {data.get('kind')!r} is not {KIND!r} (is this a compare results file?)")
    config = _require(data, "config", dict, path, "the file")
    cells, problems = [], []
    for i, c in enumerate(_require(data, "cells", list, path, "the file")):
        try:
            cell = Cell(
                allocator=_require(c, "allocator", str, path, f"cell {i}"),
                kind=c.get("allocator_kind", "unknown"),
                workload=_require(c, "workload", str, path, f"cell {i}"),
                threads=int(_require(c, "threads", int, path, f"cell {i}")),
                status=c.get("status", "unknown"),
                refused=c.get("refused") if isinstance(c.get("refused"), str) else None,
                error=c.get("error") if isinstance(c.get("error"), str) else None,
                callgrind=c.get("callgrind") if isinstance(c.get("callgrind"), dict) else None,
            )
        except ResultsError as e:  # not even its name: nothing of it can be shown
            problems.append(f"{e}; the cell is left out")
            continue
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
        cells.append(cell)
    return Results(path=path, status=data.get("status", "unknown"), created_utc=data.get("created_utc", "?"),
                   machine=data.get("machine", {}) or {}, build=data.get("build", {}) or {}, config=config, cells=cells,
                   problems=problems)
