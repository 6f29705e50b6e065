"""report.py on small fixtures: the numbers land in report.md (read from the
cells' summaries, not recomputed), every plot is a valid PNG of the expected
size, the fault and context-switch rows appear only where the file has
them, and broken inputs get the documented messages while the rest of the
report is still written."""

import contextlib
import io
import json
import os
import struct
import tempfile
import unittest
from unittest import mock

import lab_results
import plots
import report

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "testdata")


def png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG")
    return struct.unpack(">II", header[16:24])


def spread_of(values):
    """A summary spread as results/SCHEMA.md defines it (linear
    interpolation), for fixtures that add a metric to a cell."""
    ordered = sorted(values)

    def quantile(q):
        position = q * (len(ordered) - 1)
        below = int(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (ordered[above] - ordered[below]) * (position - below)

    median = quantile(0.5)
    return {"min": ordered[0], "p25": quantile(0.25), "median": median, "p75": quantile(0.75), "max": ordered[-1],
            "rel_iqr": (quantile(0.75) - quantile(0.25)) / median if median else 0.0, "n": len(ordered)}


def set_metric(cell, metric, values):
    """Gives every run of the cell the record field `metric` (one value per
    run) and its summary the matching spread, as the harness would."""
    for run, value in zip(cell["runs"], values):
        run["record"][metric] = value
    cell["summary"]["metrics"][metric] = spread_of(values)


def drop_metric(cell, metric):
    """Removes `metric` from the cell's records and summary, as the harness
    writes a cell whose runs lack it."""
    for run in cell["runs"]:
        del run["record"][metric]
    cell["summary"]["metrics"][metric] = None


def cell_of(doc, workload, allocator, threads):
    return next(c for c in doc["cells"] if (c["workload"], c["allocator"], c["threads"]) == (workload, allocator, threads))


def run_report(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = report.main(list(args))
    return code, out.getvalue(), err.getvalue()


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp()

    def report_md(self):
        with open(os.path.join(self.out, "report.md"), encoding="utf-8") as f:
            return f.read()

    def test_numbers_of_the_fixture_are_in_the_report(self):
        code, _, err = run_report("--results", os.path.join(DATA, "small_results.json"),
                                  "--previous", os.path.join(DATA, "small_previous.json"), "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        for text in ["Test CPU 9000", "0123456789abcdef", "enabled [madvise]", "-O2 -g1",
                     "| mixed_lifo, 1 thr: Mops/s (median) | 400.0 | 520.0 | 160.0 |",
                     "| mixed_lifo, 1 thr: × glibc | 2.50 | 3.25 | 1.00 |",
                     "| mixed_lifo, 1 thr: time vs bound | 1.30 | 1.00 | 3.25 |",
                     "| mixed_lifo, 1 thr: instructions/op (callgrind) | 44.2 | 36.8 | 96.3 |",
                     "| mixed_lifo, 2 thr: Mops/s (median) | 700.0 | refused | 250.0 |",
                     "| growth, 1 thr: RSS after drain, MiB | 5.7 | refused | 5.7 |",
                     "| mixed_lifo/ultra_simple/t1 | Mops/s | 200.0 | 400.0 | +100.0% |",
                     "| mixed_lifo/ultra_simple/t1 | instructions/op | 50.0 | 44.2 | -11.6% | yes (exact count) |",
                     "refused: bound serves one thread only"]:
            self.assertIn(text, md)
        for text in ["major faults", "voluntary context switches"]:
            self.assertNotIn(text, md, "the records predate these counts, so no row shows them")

    def test_rates_below_one_mops_keep_three_significant_digits(self):
        self.assertEqual(report._mops(123.44e6), "123.4")
        self.assertEqual(report._mops(52_576), "0.0526")
        self.assertEqual(report._mops(805_080), "0.805")
        self.assertIsNone(report._mops(None))

    def test_every_plot_is_a_png_of_the_expected_size(self):
        code, _, err = run_report("--results", os.path.join(DATA, "small_results.json"), "--out", self.out)
        self.assertEqual(code, 0, err)
        expected = {"throughput_mixed_lifo.png": (1200, 500), "throughput_growth.png": (1200, 500),
                    "cpu_efficiency.png": (1200, 450), "memory_t1.png": (1200, 450), "memory_t2.png": (1200, 450),
                    "rss_over_time_growth.png": (1200, 500), "scaling.png": (1200, 450)}
        md = self.report_md()
        for name, size in expected.items():
            self.assertEqual(png_size(os.path.join(self.out, name)), size, name)
            self.assertIn(f"]({name})", md, f"{name} is embedded")
        self.assertFalse(os.path.exists(os.path.join(self.out, "learning.png")))
        self.assertIn("no run carries learning data", md)
        self.assertIn("No previous phase given", md)
        self.assertFalse(os.path.exists(os.path.join(self.out, "machines.png")), "one machine: no machine plot")
        self.assertNotIn("## Machines", md)

    # two_machines_results.json is small_results.json merged from two CPUs, its
    # summaries computed by the harness (`bazel run //harness:migrate`):
    # mixed_lifo on Test CPU 9000, growth on Other CPU 7000 (at 2 threads on
    # a second node of it, with another kernel).
    TWO_MACHINES = os.path.join(DATA, "two_machines_results.json")

    def section(self, md, start, end):
        """The text of report.md between two headings."""
        return md[md.index(start):md.index(end) if end else None]

    def test_cells_from_two_cpus_get_a_section_per_machine_and_a_plot(self):
        code, _, err = run_report("--results", self.TWO_MACHINES, "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| machines | 2 CPUs: Test CPU 9000; Other CPU 7000 (see Machines) |", md)
        self.assertNotIn("| CPU | Test CPU 9000 |", md, "the file's machine is only the first shard's")
        first = self.section(md, "### Machine 1: Test CPU 9000", "### Machine 2:")
        second = self.section(md, "### Machine 2: Other CPU 7000", "## Metrics")
        for text in ["| CPU | Test CPU 9000 (family 6, model 85, stepping 4) |", "| cores | 2 |",
                     "| kernel | Linux 6.1 test |", "| transparent huge pages | enabled [madvise], defrag [madvise] |",
                     "| ran | mixed_lifo at 1 and 2 threads |",
                     "| ultra_simple | 2.646 | 1.040 | 2 |", "| bound | 3.250 | 0.976 | 1 |"]:
            self.assertIn(text, first)
        for text in ["| CPU | Other CPU 7000 (family 25, model 1, stepping 1) |", "| cores | 8 |",
                     "| kernel | Linux 6.6 other and Linux 6.6 other-2 |", "| memory | 64.0 GiB |",
                     "| transparent huge pages | enabled [always], defrag [madvise] |",
                     "| ran | growth at 1 and 2 threads |",
                     "| ultra_simple | 0.819 | 0.992 | 2 |", "| bound | - | - | 0 |", "| glibc | 1.000 | 1.000 | 2 |"]:
            self.assertIn(text, second)
        self.assertIn("One table per machine, under Machines above.", md, "no mean over both machines")
        self.assertEqual(png_size(os.path.join(self.out, "machines.png")), (1200, 500))
        self.assertIn("](machines.png)", second)
        # The metrics table's ratios are the harness's, each within its machine.
        self.assertIn("| growth, 1 thr: × glibc | 0.73 | refused | 1.00 |", md)

    def test_the_nodes_and_their_frequency_governors_are_shown_where_recorded(self):
        def one_node(doc):
            doc["machine"].update(host="node7", cpu_governor="performance")
        code, _, err = run_report("--results", self.write_fixture("host.json", one_node), "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| host | node7 |", md)
        self.assertIn("| CPU frequency governor | performance |", md)

        def two_nodes(doc):
            for c in doc["cells"]:
                if "machine" in c:
                    c["machine"].update(host="b" + c["machine"]["kernel"][-1], cpu_governor="none")
        code, _, err = run_report("--results", self.write_fixture("hosts.json", two_nodes, base="two_machines_results.json"),
                                  "--out", self.out)
        self.assertEqual(code, 0, err)
        second = self.section(self.report_md(), "### Machine 2: Other CPU 7000", "## Metrics")
        self.assertIn("| hosts | br and b2 |", second)
        self.assertIn("| CPU frequency governor | none |", second)
        # Files from before issue 15 have neither row.
        code, _, err = run_report("--results", os.path.join(DATA, "small_results.json"), "--out", self.out)
        self.assertNotIn("| host |", self.report_md())

    def test_per_machine_means_are_the_files_own(self):
        def edit(doc):
            for entry in doc["summary"]["allocators"]:
                if (entry["allocator"], entry.get("machine")) == ("ultra_simple", "Other CPU 7000"):
                    entry["geomean_ratio_to_baseline"] = 0.5
        path = self.write_fixture("edited_means.json", edit, base="two_machines_results.json")
        drawn = []
        real_bar_groups = plots._bar_groups

        def spy(ax, allocators, series, *args, **kwargs):
            drawn.append((allocators, series))
            return real_bar_groups(ax, allocators, series, *args, **kwargs)

        with mock.patch.object(plots, "_bar_groups", spy):
            results = lab_results.load(path)
            plots.machines(results, results.machine_groups(), self.out)
        self.assertEqual(drawn[0][0], ["ultra_simple", "bound", "glibc"])
        self.assertEqual([(label, values) for label, values, _, _ in drawn[0][1]],
                         [("Test CPU 9000", [2.6457513110645903, 3.25, 1.0]), ("Other CPU 7000", [0.5, None, 1.0])])
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertIn("| ultra_simple | 0.500 | 0.992 | 2 |", self.section(self.report_md(), "### Machine 2", "## Metrics"))

    def test_a_ratio_is_never_to_a_baseline_on_another_machine(self):
        results = lab_results.load(self.TWO_MACHINES)
        self.assertEqual([g.label for g in results.machine_groups()], ["Test CPU 9000", "Other CPU 7000"])
        self.assertEqual({a.machine for a in results.allocator_summaries}, {"Test CPU 9000", "Other CPU 7000"},
                         "the harness labels the machines as the reader does")
        mine = results.cell("growth", "ultra_simple", 2)
        self.assertAlmostEqual(results.ratio(mine, "glibc"), 0.923, places=3)

        def edit(doc):  # glibc's growth cell at 2 threads ran on the other CPU; a stale summary keeps a ratio
            cell_of(doc, "growth", "glibc", 2)["machine"] = doc["machine"]
            cell_of(doc, "growth", "ultra_simple", 2)["summary"]["ratio_to_baseline"] = 0.92
            cell_of(doc, "growth", "ultra_simple", 2)["summary"]["ratios_to_baseline_by_rep"] = [0.9, 0.92, 0.95]
        split = self.write_fixture("split.json", edit, base="two_machines_results.json")
        results = lab_results.load(split)
        mine = results.cell("growth", "ultra_simple", 2)
        self.assertIsNone(results.ratio(mine, "glibc"))
        self.assertIsNone(results.peak_rss_ratio(mine))
        self.assertEqual(results.ratios_by_rep(mine, "glibc"), [])
        self.assertIsNone(results.cell("growth", "glibc", 2, cpu=mine.cpu))
        code, _, err = run_report("--results", split, "--out", self.out)
        self.assertEqual(code, 0, f"a ratio that cannot exist is not a missing part ({err})")
        md = self.report_md()
        self.assertIn("| growth, 2 thr: × glibc | other machine | refused | 1.00 |", md)
        self.assertIn("| growth, 2 thr: peak RSS / glibc's | other machine | refused | 1.00 |", md)

        def same_name(doc):  # two CPUs of one model name are told apart by family, model and stepping
            for c in doc["cells"]:
                c["machine"]["cpu_model"] = "Test CPU 9000"
        results = lab_results.load(self.write_fixture("same_name.json", same_name, base="two_machines_results.json"))
        self.assertEqual([g.label for g in results.machine_groups()],
                         ["Test CPU 9000 (family 6, model 85, stepping 4)",
                          "Test CPU 9000 (family 25, model 1, stepping 1)"])

    def test_a_program_suite_file_is_shown_in_seconds_with_its_geometric_means(self):
        code, _, err = run_report("--results", os.path.join(DATA, "small_programs.json"), "--out", self.out)
        self.assertEqual(code, 0, f"a program suite's file is complete: nothing is missing ({err})")
        md = self.report_md()
        for text in ["A real-program suite",
                     "| lua, 1 thr: seconds (median) | 0.037 | 0.036 | 0.047 |",
                     "| lua, 1 thr: × mimalloc (its time / this time) | 0.98 | 1.00 | 0.78 |",
                     "| perl, 2 thr: CPU seconds (median) | 0.070 | 0.067 | 0.079 |",
                     "| perl, 2 thr: peak RSS / mimalloc's | 0.96 | 1.00 | 1.07 |",
                     "## Geometric means",
                     "| ultra_simple (preload) | 0.781 | 1.066 | 2 |",
                     "| glibc | 0.959 | 0.907 | 2 |"]:
            self.assertIn(text, md)
        for text in ["Mops/s", "RSS after drain", "throughput_lua.png", "memory_t1.png"]:
            self.assertNotIn(text, md, "a program run is one operation and its after-drain RSS is not observable")
        for name in ["program_times.png", "program_memory.png"]:
            self.assertGreater(png_size(os.path.join(self.out, name))[0], 0, name)
            self.assertIn(f"]({name})", md, f"{name} is embedded")

    def test_a_file_without_geometric_means_says_so(self):
        with open(os.path.join(DATA, "small_programs.json"), encoding="utf-8") as f:
            doc = json.load(f)
        del doc["summary"]
        path = os.path.join(self.out, "no_summary.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 1)
        self.assertIn("the geometric means show as missing", err)
        self.assertIn("| - | missing | missing | - |", self.report_md())

    def test_an_unreadable_results_file_is_an_error_naming_it(self):
        version1 = self.write_fixture("version1.json", lambda doc: doc.update(schema_version=1))
        for path, message in [(os.path.join(DATA, "truncated_results.json"), "not valid JSON, truncated at line 1"),
                              (os.path.join(DATA, "schema7_results.json"), "schema_version 7 is not supported"),
                              (os.path.join(DATA, "no_such_file.json"), "cannot read"),
                              (version1, f"schema_version 1 is an old format; rewrite it as version 3 with "
                                         f"`bazel run //harness:migrate -- {version1}`")]:
            name = os.path.basename(path)
            code, _, err = run_report("--results", path, "--out", self.out)
            self.assertEqual(code, 2, name)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertTrue(err.startswith(f"error: {path}: "), err)
            self.assertIn(message, err)

    def test_a_bad_previous_file_is_marked_and_the_rest_is_written(self):
        bad = os.path.join(DATA, "truncated_results.json")
        code, _, err = run_report("--results", os.path.join(DATA, "small_results.json"), "--previous", bad,
                                  "--out", self.out)
        self.assertEqual(code, 1)
        self.assertIn(f"warning: comparison with the previous phase: {bad}: not valid JSON", err)
        md = self.report_md()
        self.assertIn("> **Missing:** comparison with the previous phase", md)
        self.assertIn("| mixed_lifo, 1 thr: Mops/s (median) | 400.0", md, "the rest of the report is written")
        self.assertTrue(os.path.exists(os.path.join(self.out, "throughput_mixed_lifo.png")))

    def test_missing_cells_mark_the_plot_that_needs_them(self):
        with open(os.path.join(DATA, "small_results.json"), encoding="utf-8") as f:
            doc = json.load(f)
        for cell in doc["cells"]:
            if cell["workload"] == "growth":
                for run in cell["runs"]:
                    del run["record"]["rss_series"]
        path = os.path.join(self.out, "no_series.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 1)
        self.assertIn("growth has no RSS series", err)
        md = self.report_md()
        self.assertIn("> **Missing:** rss over time (growth): not drawn: growth has no RSS series", md)
        self.assertIn("## Missing parts", md)
        self.assertTrue(os.path.exists(os.path.join(self.out, "throughput_growth.png")), "the rest is drawn")

    def write_fixture(self, name, edit, base="small_results.json"):
        with open(os.path.join(DATA, base), encoding="utf-8") as f:
            doc = json.load(f)
        edit(doc)
        path = os.path.join(self.out, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        return path

    def test_a_variant_in_both_modes_is_two_columns(self):
        def edit(doc):
            linked = cell_of(doc, "mixed_lifo", "ultra_simple", 1)
            preload = json.loads(json.dumps(linked))
            preload["mode"] = "preload"
            spread = preload["summary"]["metrics"]["ops_per_sec"]
            for key in ("min", "p25", "median", "p75", "max"):
                spread[key] *= 123e6 / 400e6
            doc["cells"].insert(doc["cells"].index(linked) + 1, preload)
        path = self.write_fixture("modes.json", edit)
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| metric | ultra_simple | ultra_simple (preload) | bound | glibc |", md)
        self.assertIn("| mixed_lifo, 1 thr: Mops/s (median) | 400.0 | 123.0 | 520.0 | 160.0 |", md)

    def test_missing_values_are_marked_never_drawn_as_zero(self):
        def edit(doc):
            for cell in doc["cells"]:
                key = (cell["workload"], cell["allocator"], cell["threads"])
                if key == ("mixed_lifo", "glibc", 1):
                    drop_metric(cell, "peak_rss_bytes")
                if key == ("mixed_lifo", "ultra_simple", 1):
                    drop_metric(cell, "ops_per_cpu_second")
                if key == ("growth", "glibc", 1):
                    del cell["runs"]
                if key == ("mixed_lifo", "bound", 1):
                    del cell["runs"][0]["rep"]
        path = self.write_fixture("holes.json", edit)
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 1, err)
        md = self.report_md()
        self.assertIn("| mixed_lifo, 1 thr: peak RSS, MiB | 4.2 | 4.0 | missing |", md)
        self.assertIn("| mixed_lifo, 1 thr: Mops per CPU-s | missing |", md)
        self.assertIn("| growth, 1 thr: Mops/s (median) | 1.6 | refused | failed |", md)
        for text in ["metrics table, mixed_lifo, 1 thr: peak RSS, MiB missing for glibc",
                     "memory: mixed_lifo/glibc/t1 has no peak_rss_bytes in its records",
                     "CPU efficiency: mixed_lifo/ultra_simple/t1 has no ops_per_cpu_second in its records",
                     f"results file: {path}: cell 8 (growth/glibc/t1) has no \"runs\"; it shows as having no runs",
                     f"results file: {path}: cell 1 (mixed_lifo/bound/t1), a run has no \"rep\"; the run is left out"]:
            self.assertIn(text, md)
            self.assertIn(text, err)
        self.assertIn("> **Missing:** memory: mixed_lifo/glibc/t1 has no peak_rss_bytes in its records (drawn n/a)", md)
        for name in ["throughput_mixed_lifo.png", "cpu_efficiency.png", "memory_t1.png", "scaling.png"]:
            self.assertTrue(os.path.exists(os.path.join(self.out, name)), f"{name}: the rest is still drawn")

    def test_a_cell_without_a_name_is_left_out_and_said(self):
        path = self.write_fixture("nameless.json", lambda doc: doc["cells"][0].pop("allocator"))
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 1)
        self.assertIn("cell 0 has no \"allocator\"; the cell is left out", err)
        self.assertIn("1 part(s) of the results file are malformed and left out", self.report_md())

    def test_against_the_previous_phase_ratios_cancel_machine_drift(self):
        def faster_machine(doc):  # every allocator 30% faster: the machine, not the code
            for cell in doc["cells"]:
                if cell["runs"]:
                    set_metric(cell, "ops_per_sec", [run["record"]["ops_per_sec"] * 1.3 for run in cell["runs"]])
        code, _, err = run_report("--results", self.write_fixture("faster.json", faster_machine),
                                  "--previous", os.path.join(DATA, "small_results.json"), "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("**Machine drift.**", md)
        self.assertIn("- mixed_lifo, 1 thr: glibc itself moved +30% (160.0 → 208.0 Mops/s).", md)
        self.assertIn("| mixed_lifo/ultra_simple/t1 | Mops/s | 400.0 | 520.0 | +30.0% |", md)
        self.assertIn("| mixed_lifo/ultra_simple/t1 | × glibc | 2.50 | 2.50 | +0.0% | no", md)
        self.assertIn("| mixed_lifo/ultra_simple/t1 | Mops per CPU-s | 400.0 | 400.0 | +0.0% | no", md)

    def test_a_change_below_the_resolution_is_not_called_real(self):
        of = report.Sample.of_series
        self.assertTrue(report.beyond_noise(of([100.0] * 5), of([100.5] * 5)).startswith("no ("))
        self.assertTrue(report.beyond_noise(of([100.0] * 5), of([103.0] * 5)).startswith("yes ("))

    def test_a_count_rising_from_zero_is_real_and_unchanged_zero_is_not(self):
        of = report.Sample.of_series
        verdict = report.beyond_noise(of([0.0] * 5), of([1.0, 2.0, 1.0, 1.0, 3.0]))
        self.assertTrue(verdict.startswith("yes (p=") and verdict.endswith(", up from 0)"), verdict)
        self.assertEqual(report.beyond_noise(of([0.0] * 5), of([0.0] * 5)), "no (p=1, noise 0%)")

    def test_medians_and_ratios_come_from_the_summary_not_the_runs(self):
        def edit(doc):  # the summary disagrees with the runs: the report must show the summary
            summary = cell_of(doc, "mixed_lifo", "ultra_simple", 1)["summary"]
            summary["metrics"]["ops_per_sec"].update(p25=390e6, median=444e6, p75=444.6e6, rel_iqr=0.123)
            summary["ratio_to_baseline"] = 2.71
            summary["ratio_to_bound"] = 0.5
        code, _, err = run_report("--results", self.write_fixture("summary.json", edit), "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| mixed_lifo, 1 thr: Mops/s (median) | 444.0 | 520.0 | 160.0 |", md)
        self.assertIn("| mixed_lifo, 1 thr: spread (IQR/median) | 12.3% |", md)
        self.assertIn("| mixed_lifo, 1 thr: × glibc | 2.71 | 3.25 | 1.00 |", md)
        self.assertIn("| mixed_lifo, 1 thr: time vs bound | 2.00 | 1.00 | 3.25 |", md)

    def test_a_missing_or_malformed_summary_is_listed_and_its_values_show_as_missing(self):
        def edit(doc):
            del cell_of(doc, "mixed_lifo", "glibc", 1)["summary"]
            cell_of(doc, "mixed_lifo", "ultra_simple", 1)["summary"]["metrics"]["peak_rss_bytes"]["median"] = "big"
        path = self.write_fixture("no_summary.json", edit)
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 1, err)
        md = self.report_md()
        self.assertIn("2 part(s) of the results file are malformed and left out", md)
        for text in [f"results file: {path}: cell 2 (mixed_lifo/glibc/t1) has no \"summary\"; "
                     "its values show as missing",
                     f"results file: {path}: cell 0 (mixed_lifo/ultra_simple/t1), summary of peak_rss_bytes: "
                     "\"median\" should be a number; peak_rss_bytes shows as missing",
                     "metrics table, mixed_lifo, 1 thr: Mops/s (median) missing for glibc"]:
            self.assertIn(text, md)
            self.assertIn(text, err)
        self.assertIn("| mixed_lifo, 1 thr: Mops/s (median) | 400.0 | 520.0 | missing |", md)
        self.assertIn("| mixed_lifo, 1 thr: × glibc | 2.50 | 3.25 | missing |", md)
        self.assertIn("| mixed_lifo, 1 thr: peak RSS, MiB | missing | 4.0 | missing |", md)
        self.assertIn("| mixed_lifo, 1 thr: RSS after drain, MiB | 4.2 | 4.0 | missing |", md)
        self.assertTrue(os.path.exists(os.path.join(self.out, "throughput_mixed_lifo.png")), "the rest is drawn")

    def with_counts(self, name, switches):
        """small_results.json with major faults (0) and voluntary context
        switches (`switches`, per run) on every measured mixed_lifo cell at
        1 thread; no other cell has them."""
        def edit(doc):
            for allocator in ["ultra_simple", "bound", "glibc"]:
                cell = cell_of(doc, "mixed_lifo", allocator, 1)
                set_metric(cell, "major_faults", [0, 0, 0])
                set_metric(cell, "voluntary_context_switches", switches[allocator])
        return self.write_fixture(name, edit)

    def test_fault_and_switch_rows_appear_only_where_the_file_has_them(self):
        path = self.with_counts("counts.json", {"ultra_simple": [3, 3, 3], "bound": [2, 3, 3], "glibc": [11, 14, 12]})
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| mixed_lifo, 1 thr: major faults (median) | 0 | 0 | 0 |\n"
                      "| mixed_lifo, 1 thr: voluntary context switches (median) | 3 | 3 | 12 |\n"
                      "| mixed_lifo, 1 thr: instructions/op (callgrind) |", md, "after the RSS rows, before callgrind")
        for group in ["mixed_lifo, 2 thr", "growth, 1 thr", "growth, 2 thr"]:
            self.assertNotIn(f"| {group}: major faults", md)
            self.assertNotIn(f"| {group}: voluntary context switches", md)

    def test_system_calls_show_for_hakmem_and_not_counted_for_peers(self):
        def edit(doc):
            for allocator, values in [("ultra_simple", [12.0, 10.0, 11.0]), ("bound", [1.0, 1.0, 1.0])]:
                set_metric(cell_of(doc, "mixed_lifo", allocator, 1), "syscalls_per_mop", values)
        code, _, err = run_report("--results", self.write_fixture("syscalls.json", edit), "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| mixed_lifo, 1 thr: system calls per Mop (median) | 11 | 1 | not counted |", md)
        self.assertNotIn("| mixed_lifo, 2 thr: system calls per Mop", md, "no cell of that group has them")

    def test_a_median_between_two_counts_keeps_its_half(self):
        def edit(doc):
            cell = cell_of(doc, "mixed_lifo", "glibc", 1)
            cell["summary"]["metrics"]["voluntary_context_switches"] = spread_of([2, 3])
        code, _, err = run_report("--results", self.write_fixture("half.json", edit), "--out", self.out)
        self.assertEqual(code, 1, "the other cells of the group lack the count")
        self.assertIn("| mixed_lifo, 1 thr: voluntary context switches (median) | missing | missing | 2.5 |",
                      self.report_md())

    def test_the_comparison_lists_the_counts_only_when_both_files_have_them(self):
        now = self.with_counts("now.json", {"ultra_simple": [3, 3, 3], "bound": [2, 2, 2], "glibc": [12, 12, 12]})
        code, _, err = run_report("--results", now, "--previous", os.path.join(DATA, "small_results.json"),
                                  "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertNotIn("| major faults |", md)
        self.assertNotIn("| voluntary context switches |", md)
        before = self.with_counts("before.json",
                                  {"ultra_simple": [30, 30, 30], "bound": [2, 2, 2], "glibc": [12, 12, 12]})
        code, _, err = run_report("--results", now, "--previous", before, "--out", self.out)
        self.assertEqual(code, 0, err)
        md = self.report_md()
        self.assertIn("| mixed_lifo/ultra_simple/t1 | major faults | 0 | 0 | - | no (p=1, noise 0%) |", md)
        self.assertIn("| mixed_lifo/ultra_simple/t1 | voluntary context switches | 30 | 3 | -90.0% | ", md)
        self.assertNotIn("| mixed_lifo/ultra_simple/t2 | major faults", md)

    def test_latency_and_fragmentation_are_drawn_from_a_real_run(self):
        # latency_results.json is compare's own file of a real run:
        #   bazel run -c opt //harness:compare -- --workloads=mixed_lifo,soak --allocators=glibc,mimalloc,hot_mag \
        #     --modes=preload --threads=1 --reps=2 --smoke --param=soak.population=2000 --latency --out=...
        path = os.path.join(DATA, "latency_results.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        cell = cell_of(doc, "soak", "hot_mag", 1)
        record = cell["runs"][0]["record"]
        self.assertGreater(record["latency"]["malloc"]["samples"], 0)
        self.assertIn("live_bytes", record["rss_series"])
        for metric in ["malloc_p99_ns", "free_p99_9_ns", "frag_final_ratio", "frag_slope_per_min"]:
            self.assertIsNotNone(cell["summary"]["metrics"][metric], metric)
        code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 0, err)
        for name in ["latency_mixed_lifo.png", "latency_soak.png", "fragmentation_soak.png"]:
            self.assertEqual(png_size(os.path.join(self.out, name)), (1200, 500), name)
            self.assertIn(f"]({name})", self.report_md())
        self.assertFalse(os.path.exists(os.path.join(self.out, "fragmentation_mixed_lifo.png")),
                         "only a workload that tracks live bytes has one")
        md = self.report_md()
        p50, p99, p99_9 = (cell["summary"]["metrics"][f"malloc_{p}_ns"]["median"] for p in ("p50", "p99", "p99_9"))
        self.assertIn(f"soak, 1 thr: malloc p50 / p99 / p99.9, ns | ", md)
        self.assertIn(f"{p50:.0f} / {p99:.0f} / {p99_9:.0f}", md)
        self.assertIn("soak, 1 thr: RSS / live: mean, end | ", md)
        self.assertNotIn("mixed_lifo, 1 thr: RSS / live", md)

    def test_the_tail_axis_spreads_each_decade_of_rarity_evenly(self):
        self.assertAlmostEqual(plots.tail_x(0, 1000), 0.0)
        self.assertAlmostEqual(plots.tail_x(90, 1000), 1.0)
        self.assertAlmostEqual(plots.tail_x(99.9, 1000), 3.0)
        self.assertAlmostEqual(plots.tail_x(100, 1000), 3.0, msg="the maximum sits at one sample in 1000")

    def test_the_learning_panel_is_drawn_from_a_real_run(self):
        # learning_results.json is compare's own file of a real run:
        #   HAKMEM_LEARN=on bazel run -c opt //harness:compare -- --allocators=hot_mag,glibc --modes=preload \
        #     --workloads=mid_churn --threads=1 --reps=1 --out=...
        path = os.path.join(DATA, "learning_results.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        cell = cell_of(doc, "mid_churn", "hot_mag", 1)
        learned = cell["runs"][0]["record"]["learning"]
        self.assertEqual(learned["mode"], "on")
        self.assertEqual(learned["columns"], plots.TRACE_COLUMNS)
        self.assertTrue(any(row[5] != "start" for row in learned["trace"]), "the learner changed something")
        for metric in ["rss_integral_mib_s", "learner_cpu_share"]:
            self.assertIsNotNone(cell["summary"]["metrics"][metric], metric)
        self.assertNotIn("learning", cell_of(doc, "mid_churn", "glibc", 1)["runs"][0]["record"], "hakmem only")

        calls, knob_steps = [], plots.knob_steps

        def spy(read, end_ms=None):
            calls.append((read, end_ms, knob_steps(read, end_ms)))
            return calls[-1][2]

        with mock.patch.object(plots, "knob_steps", spy):
            code, _, err = run_report("--results", path, "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertEqual(png_size(os.path.join(self.out, "learning.png")), (1200, 500))
        self.assertIn("](learning.png)", self.report_md())
        self.assertEqual(len(calls), 1)
        read, end, drawn = calls[0]
        self.assertEqual(read, learned, "the panel drew the record's own trace")
        record = cell["runs"][0]["record"]
        self.assertGreaterEqual(end, record["seconds"] * 1e3, "the last steps reach the end of the run")
        self.assertGreaterEqual(end, max(row[0] for row in learned["trace"]))
        last = {}
        for t_ms, knob, index, old, new, signal in learned["trace"]:
            last[(knob, index)] = new
        self.assertEqual({key: v[-1] for key, (_, v) in drawn.items()}, last, "every knob ends where its trace does")

    def test_a_trace_becomes_one_step_series_per_knob(self):
        learned = {"columns": ["t_ms", "knob", "index", "old", "new", "signal"], "trace": [
            [-2.5, "tiny_cache", 3, 64, 64, "start"],
            [-2.5, "mid_cache_kib", -1, 1024, 1024, "start"],
            [-2.5, "purge_delay_ms", -1, 250, 250, "start"],
            [40.0, "tiny_cache", 3, 64, 32, "no miss for twice the dwell"],
            [40.0, "mid_cache_kib", -1, 1024, 2048, "underflows and overflows"],
            [90.0, "tiny_cache", 3, 32, 16, "no miss for twice the dwell"],
            [90.0, "large_cache_mib", -1, 128, 64, "no miss for twice the dwell"],  # its start was lost
        ]}
        self.assertEqual(plots.knob_steps(learned, end_ms=120.0), {
            ("tiny_cache", 3): ([-2.5, 40.0, 90.0, 120.0], [64, 32, 16, 16]),
            ("mid_cache_kib", -1): ([-2.5, 40.0, 120.0], [1024, 2048, 2048]),
            ("purge_delay_ms", -1): ([-2.5, 120.0], [250, 250]),
            ("large_cache_mib", -1): ([-2.5, 90.0, 120.0], [128, 64, 64]),
        })
        self.assertEqual(plots.knob_steps(learned)[("tiny_cache", 3)], ([-2.5, 40.0, 90.0], [64, 32, 16]),
                         "no end: the series stops at the last decision")
        reordered = {"columns": ["knob", "index", "t_ms", "signal", "old", "new"],
                     "trace": [["purge_delay_ms", -1, 0.5, "start", 250, 250],
                               ["purge_delay_ms", -1, 7.0, "slow", 250, 500]]}
        self.assertEqual(plots.knob_steps(reordered, 10.0),
                         {("purge_delay_ms", -1): ([0.5, 7.0, 10.0], [250, 500, 500])})
        for bad in [{"columns": ["t", "k"], "trace": []}, {"trace": [[0.0, "tiny_cache", 0, 64]]},
                    {"trace": [["soon", "tiny_cache", 0, 64, 64, "start"]]}]:
            with self.assertRaises(plots.Skipped):
                plots.knob_steps(bad)

    def test_the_learning_panel_prefers_a_cell_where_the_controller_ran(self):
        def add(doc, allocator, mode, changes):
            cell = json.loads(json.dumps(cell_of(doc, "mid_churn", "hot_mag", 1)))
            cell["allocator"] = allocator
            learned = cell["runs"][0]["record"]["learning"]
            learned["mode"] = mode
            if not changes:
                learned["trace"] = [row for row in learned["trace"] if row[5] == "start"]
            doc["cells"].append(cell)

        def both(doc):
            add(doc, "magazine", "off", changes=False)
            add(doc, "bound", "on", changes=True)

        def off_only(doc):
            add(doc, "magazine", "off", changes=False)
            doc["cells"] = [c for c in doc["cells"] if c["allocator"] != "hot_mag"]

        results = lab_results.load(self.write_fixture("learning_both.json", both, "learning_results.json"))
        self.assertEqual([c.allocator for c in plots._learning_cells(results)],
                         ["bound (preload)", "hot_mag (preload)"], "only where the controller ran, by allocator")
        path = self.write_fixture("learning_off.json", off_only, "learning_results.json")
        results = lab_results.load(path)
        self.assertEqual([c.allocator for c in plots._learning_cells(results)], ["magazine (preload)"])
        self.assertEqual(plots.learning(results, self.out), "learning.png", "off still shows its start values")
        self.assertEqual(png_size(os.path.join(self.out, "learning.png")), (1200, 500))


if __name__ == "__main__":
    unittest.main()
