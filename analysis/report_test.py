"""report.py on small fixtures: the numbers land in report.md, every plot is
a valid PNG of the expected size, and broken inputs get the documented
messages while the rest of the report is still written."""

import contextlib
import io
import json
import os
import struct
import tempfile
import unittest

import report

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "testdata")


def png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG")
    return struct.unpack(">II", header[16:24])


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

    def test_an_unreadable_results_file_is_an_error_naming_it(self):
        for name, message in [("truncated_results.json", "not valid JSON, truncated at line 1"),
                              ("schema7_results.json", "schema_version 7 is not supported"),
                              ("no_such_file.json", "cannot read")]:
            path = os.path.join(DATA, name)
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

    def write_fixture(self, name, edit):
        with open(os.path.join(DATA, "small_results.json"), encoding="utf-8") as f:
            doc = json.load(f)
        edit(doc)
        path = os.path.join(self.out, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        return path

    def test_missing_values_are_marked_never_drawn_as_zero(self):
        def edit(doc):
            for cell in doc["cells"]:
                key = (cell["workload"], cell["allocator"], cell["threads"])
                if key == ("mixed_lifo", "glibc", 1):
                    for run in cell["runs"]:
                        del run["record"]["peak_rss_bytes"]
                if key == ("mixed_lifo", "ultra_simple", 1):
                    for run in cell["runs"]:
                        del run["record"]["ops_per_cpu_second"]
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
        self.assertIn(f"cell 0 has no \"allocator\"; the cell is left out", err)
        self.assertIn("1 part(s) of the results file are malformed and left out", self.report_md())

    def test_against_the_previous_phase_ratios_cancel_machine_drift(self):
        def faster_machine(doc):  # every allocator 30% faster: the machine, not the code
            for cell in doc["cells"]:
                for run in cell["runs"]:
                    run["record"]["ops_per_sec"] *= 1.3
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
        self.assertTrue(report.beyond_noise([100.0] * 5, [100.5] * 5).startswith("no ("))
        self.assertTrue(report.beyond_noise([100.0] * 5, [103.0] * 5).startswith("yes ("))

    def test_the_learning_panel_is_drawn_when_a_run_carries_knobs(self):
        def edit(doc):
            for cell in doc["cells"]:
                if (cell["workload"], cell["allocator"], cell["threads"]) == ("mixed_lifo", "ultra_simple", 1):
                    cell["runs"][0]["record"]["learning"] = {
                        "knobs": {"refill": [[0, 64], [10, 96], [20, 128]]}, "phases": [{"name": "b", "t_ms": 10}]}
        code, _, err = run_report("--results", self.write_fixture("learning.json", edit), "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertEqual(png_size(os.path.join(self.out, "learning.png")), (1200, 500))
        self.assertIn("](learning.png)", self.report_md())


if __name__ == "__main__":
    unittest.main()
