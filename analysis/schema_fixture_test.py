"""The shared schema fixture (results/SCHEMA.md) read through lab_results:
every value results/schema/fixture_expected.json lists for a cell of
results/schema/fixture.json must come out of the Python reader's API.
//harness:schema_fixture_test checks the same values through the C++
reader, so the two cannot drift apart."""

import json
import os
import unittest

import lab_results

HERE = os.path.dirname(os.path.abspath(__file__))
# //results/schema:fixture, in the runfiles tree or the workspace alike.
FIXTURE = os.path.join(HERE, os.pardir, "results", "schema")
RELATIVE = 1e-12


class SchemaFixtureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(FIXTURE, "fixture_expected.json"), encoding="utf-8") as f:
            cls.expected = json.load(f)
        cls.results = lab_results.load(os.path.join(FIXTURE, "fixture.json"))

    def assertClose(self, actual, expected, what):
        """Floats within RELATIVE of each other; None only matches None."""
        if expected is None:
            self.assertIsNone(actual, what)
            return
        self.assertIsNotNone(actual, what)
        self.assertAlmostEqual(actual, expected, delta=RELATIVE * abs(expected), msg=what)

    def test_the_fixture_is_this_reader_s_version_and_loads_whole(self):
        self.assertEqual(self.expected["schema_version"], lab_results.SCHEMA_VERSION)
        self.assertEqual(self.results.problems, [])
        self.assertEqual(self.results.baseline, self.expected["baseline"])
        self.assertEqual(len(self.results.cells), len(self.expected["cells"]))

    def test_every_listed_value_of_every_cell(self):
        for want in self.expected["cells"]:
            name = f"{want['workload']}/{want['allocator']}/t{want['threads']}"
            with self.subTest(cell=name):
                cell = self.results.cell(want["workload"], want["allocator"], want["threads"])
                self.assertIsNotNone(cell, f"{name} is in the fixture")
                self.check_cell(cell, want, name)

    def test_the_allocators_geometric_means(self):
        got = self.results.allocator_summaries
        self.assertEqual([a.allocator for a in got], [a["allocator"] for a in self.expected["allocators"]])
        for a, want in zip(got, self.expected["allocators"]):
            self.assertEqual(a.cells, want["cells"], a.allocator)
            self.assertClose(a.geomean_ratio_to_baseline, want["geomean_ratio_to_baseline"], f"{a.allocator}: geomean")
            self.assertClose(a.geomean_peak_rss_to_baseline, want["geomean_peak_rss_to_baseline"],
                             f"{a.allocator}: geomean peak RSS")

    def check_cell(self, cell, want, name):
        results, base = self.results, self.results.baseline
        self.assertEqual(cell.status, want["status"], f"{name}: status")
        self.assertEqual(cell.refused, want["refused"], f"{name}: refused")
        self.assertEqual(cell.reps, want["reps"], f"{name}: reps")
        actual = {
            "median_ops_per_sec": cell.median("ops_per_sec"),
            "rel_iqr_ops_per_sec": cell.rel_iqr("ops_per_sec"),
            "ratio_to_baseline": results.ratio(cell, base),
            "ratio_to_bound": results.ratio(cell, lab_results.BOUND),
            "median_peak_rss_bytes": cell.median("peak_rss_bytes"),
            "median_rss_after_drain_bytes": cell.median("rss_after_drain_bytes"),
            "median_rss_after_settle_bytes": cell.median("rss_after_settle_bytes"),
            "median_minor_faults": cell.median("minor_faults"),
            "median_major_faults": cell.median("major_faults"),
            "median_voluntary_context_switches": cell.median("voluntary_context_switches"),
            "instructions_per_op": cell.instructions_per_op(),
            "first_run_ops": cell.runs[0].number("ops") if cell.runs else None,
        }
        for key, value in actual.items():
            self.assertClose(value, want[key], f"{name}: {key}")
        by_rep = results.ratios_by_rep(cell, base)
        self.assertEqual(len(by_rep), len(want["ratios_to_baseline_by_rep"]), f"{name}: ratios_to_baseline_by_rep")
        for i, (value, expected) in enumerate(zip(by_rep, want["ratios_to_baseline_by_rep"])):
            self.assertClose(value, expected, f"{name}: ratios_to_baseline_by_rep[{i}]")


if __name__ == "__main__":
    unittest.main()
