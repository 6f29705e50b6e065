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
                    "cpu_efficiency.png": (1200, 800), "memory_t1.png": (1200, 800), "memory_t2.png": (1200, 800),
                    "rss_over_time_growth.png": (1200, 500), "scaling.png": (1200, 800)}
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


if __name__ == "__main__":
    unittest.main()
