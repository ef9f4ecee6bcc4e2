#!/usr/bin/env python3
"""Checks aifsim_results.py on a real results file against numbers read and computed here with plain h5py/NumPy.

    python3 analysis/python/test_aifsim_results.py RESULTS.h5

Exit status 0 when every check passes, 1 when one fails, 77 (CTest's SKIP_RETURN_CODE, automake's skip) when
h5py, pandas or matplotlib is missing or no results file is given.
"""

import importlib
import math
import os
import subprocess
import sys
import tempfile
import unittest

SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


# Checked before use: a missing module is a SKIP, not an ImportError.
for _name in ("numpy", "h5py", "pandas", "matplotlib"):
    try:
        importlib.import_module(_name)
    except ImportError:
        skip(f"Python module {_name} is not installed (Debian: python3-h5py python3-pandas python3-matplotlib)")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(HERE, "aifsim_results.py")
sys.path.insert(0, HERE)
import aifsim_results as ar  # noqa: E402

RESULTS = None  # set by main()

# The simulator's /summary percentiles come from analysis::QuantileSketch (log bins growing by 1.001, the value
# reported at a bin's geometric centre): each is within (sqrt(1.001) - 1) = 0.05 % of the exact type-7 percentile
# (analysis/include/aif/analysis/stats.hpp). summary_entries() (exact, analysis/src/stats.cpp) must match to rounding.
SKETCH_RTOL = math.sqrt(1.001) - 1 + 1e-9  # + the rounding of a value that sits on a bin edge
EXACT_RTOL = 1e-12


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def raw():
    """The file's tables as plain NumPy, read without the module under test."""
    with h5py.File(RESULTS, "r") as f:
        req = f["requests"][:]
        outcome = h5py.check_enum_dtype(f["requests"].dtype["outcome"])
        summary = {text(r["name"]): (float(r["value"]), text(r["unit"])) for r in f["summary"][:]}
        time = f["timeseries/time"][:]
        series = [text(n) for n in f["timeseries"].attrs.get("series", [])]
        values = {n: f["timeseries"][n][:] for n in series}
        n_events = len(f["events"])
        n_steps = len(f["jobs/steps"]) if "jobs/steps" in f else 0
    return req, outcome, summary, time, values, n_events, n_steps


def latencies(req, outcome):
    """TTFT, TPOT and E2E of the FINISHED requests, as the simulator defines them (run_requests.cpp)."""
    done = req[req["outcome"] == outcome["FINISHED"]]
    multi = done[done["generated_tokens"] > 1]
    return {
        "ttft": done["first_token_s"] - done["arrival_s"],
        "tpot": (multi["finish_s"] - multi["first_token_s"]) / (multi["generated_tokens"] - 1),
        "e2e": done["finish_s"] - done["arrival_s"],
    }


def run_cli(*args):
    return subprocess.run([sys.executable, MODULE, *args], capture_output=True, text=True, timeout=600)


class ResultsFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.req, cls.outcome, cls.summary, cls.time, cls.series, cls.n_events, cls.n_steps = raw()
        cls.from_simulator = "simulated_time" in cls.summary  # the simulator's own summary (run_sampling.cpp)

    def test_requests_frame_matches_table(self):
        df = ar.requests(RESULTS)
        self.assertEqual(len(df), len(self.req))
        np.testing.assert_array_equal(df["id"], self.req["id"])
        names = {v: k for k, v in self.outcome.items()}
        self.assertEqual(list(df["outcome"].astype(str)), [names[c] for c in self.req["outcome"]])
        lat = latencies(self.req, self.outcome)
        done = (df["outcome"] == "FINISHED").to_numpy()
        np.testing.assert_array_equal(df.loc[done, "ttft_s"].to_numpy(), lat["ttft"])
        np.testing.assert_array_equal(df["tpot_s"].dropna().to_numpy(), lat["tpot"])
        self.assertTrue(df.loc[~done, ["ttft_s", "tpot_s", "e2e_s"]].isna().all().all())

    def test_counts_match_summary(self):
        s = ar.summary(RESULTS)
        self.assertEqual(s["requests"], len(self.req))
        # The simulator writes finished/unfinished/...; summary_entries() writes requests_finished/...
        prefix = "" if "finished" in s.index else "requests_"
        for name in ("FINISHED", "UNFINISHED", "REJECTED", "DROPPED"):
            key = prefix + name.lower()
            if key in s.index:
                self.assertEqual(s[key], np.count_nonzero(self.req["outcome"] == self.outcome[name]), key)
        self.assertIn(prefix + "finished", s.index)

    def test_latency_percentiles_match_summary(self):
        s = ar.summary_table(RESULTS)
        rtol = SKETCH_RTOL if self.from_simulator else EXACT_RTOL
        worst = 0.0
        checked = 0
        for metric, values in latencies(self.req, self.outcome).items():
            if len(values) == 0:
                continue
            for p in (50, 90, 99):
                name = f"{metric}_p{p}"
                if name not in s.index:
                    continue
                expected = np.percentile(values, p, method="linear")
                got = s.loc[name, "value"]
                self.assertEqual(s.loc[name, "unit"], "s")
                worst = max(worst, abs(got - expected) / expected)
                self.assertLessEqual(abs(got - expected), rtol * expected + 1e-15, f"{name}: {got} vs {expected}")
                checked += 1
            # The mean is exact in both writers (compensated sums); only the summation order differs.
            if f"{metric}_mean" in s.index:
                self.assertAlmostEqual(s.loc[f"{metric}_mean", "value"] / np.mean(values), 1.0, delta=1e-12)
        self.assertGreaterEqual(checked, 2, "no ttft_p50 / ttft_p99 in /summary")
        print(f"\n  percentiles: {checked} checked, largest relative difference {worst:.4e} (allowed {rtol:.4e})",
              end=" ... ", file=sys.stderr, flush=True)

    def test_latency_windows_of_one_window_is_the_overall_percentile(self):
        ttft = latencies(self.req, self.outcome)["ttft"]
        if len(ttft) == 0:
            self.skipTest("no finished requests")
        lw = ar.latency_windows(ar.requests(RESULTS), windows=1)
        for p in (50, 99):
            self.assertAlmostEqual(lw[f"ttft_p{p}"].iloc[0] / np.percentile(ttft, p), 1.0, delta=1e-12)

    def test_timeseries_frame_matches_group(self):
        ts = ar.timeseries(RESULTS)
        self.assertEqual(len(ts), len(self.time))
        np.testing.assert_array_equal(ts.index.to_numpy(), self.time)
        self.assertEqual(list(ts.columns), list(self.series))
        for name, values in self.series.items():
            np.testing.assert_array_equal(ts[name].to_numpy(), values)
        self.assertEqual(ts.attrs["units"].get("facility_power"), "W")

    def test_summary_energy_is_the_integral_of_its_series(self):
        # docs/results-format.md, "The window of the simulator's summary"; tolerance as
        # tests/support/summary_window.hpp: the sample-to-sample swings (the power between two samples is unknown).
        if not self.from_simulator:
            self.skipTest("not a simulator summary")
        s = ar.summary(RESULTS)
        self.assertEqual(s["simulated_time"], self.time[-1])
        if self.n_steps:
            self.skipTest("training jobs book energy per compute phase; the bound needs their step model")
        w = self.series["facility_power_chain" if "power.facility_energy" in s.index else "facility_power"]
        dt = np.diff(self.time)
        integral_j = np.sum(w[:-1] * dt)
        bound_j = np.sum(np.abs(np.diff(w)) * dt)
        summary_j = s["facility_energy"] * 3.6e6
        self.assertLessEqual(abs(summary_j - integral_j), bound_j + 1e-9 * summary_j + 1e-6)

    def test_events_frame_matches_table(self):
        ev = ar.events(RESULTS)
        self.assertEqual(len(ev), self.n_events)
        self.assertEqual(list(ev.columns), ["time_s", "kind", "target", "detail"])
        self.assertTrue(all(isinstance(k, str) for k in ev["kind"]))

    def test_command_line_prints_headline_and_writes_pngs(self):
        with tempfile.TemporaryDirectory() as out:
            r = run_cli(RESULTS, "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, rf"requests\s+{len(self.req)}\n")
            pngs = [line.strip() for line in r.stdout.splitlines() if line.strip().endswith(".png")]
            self.assertEqual(sorted(os.path.basename(p) for p in pngs),
                             ["latency.png", "load.png", "power.png", "ttft_cdf.png"])
            for path in pngs:
                with open(path, "rb") as f:
                    head = f.read(24)
                self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n", path)
                self.assertEqual(head[12:16], b"IHDR", path)
                width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
                self.assertGreater(width * height, 0, path)
                self.assertGreater(os.path.getsize(path), 0, path)


class BadInputTest(unittest.TestCase):
    def expect_exit_2(self, path, words):
        r = run_cli(path, "--out", os.path.join(tempfile.gettempdir(), "aifsim_results_unused"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        message = r.stderr.strip()
        self.assertEqual(len(message.splitlines()), 1, message)  # one clear line, no traceback
        self.assertIn(words, message)
        self.assertIn(path, message)

    def test_missing_file(self):
        self.expect_exit_2(os.path.join(tempfile.gettempdir(), "no_such_dir_aifsim", "results.h5"), "no such file")

    def test_text_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".h5", delete=False) as f:
            f.write("requests,finished\n1,1\n")
        try:
            self.expect_exit_2(f.name, "cannot be read as HDF5")
        finally:
            os.unlink(f.name)

    def test_truncated_results_file(self):
        # What a copy cut short (a full disk, an interrupted transfer) looks like: HDF5 notices the missing end.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "cut.h5")
            with open(RESULTS, "rb") as src, open(path, "wb") as dst:
                dst.write(src.read(max(1024, os.path.getsize(RESULTS) // 2)))
            self.expect_exit_2(path, "cannot be read as HDF5")

    def test_other_hdf5_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "other.h5")
            with h5py.File(path, "w") as f:
                f["requests"] = np.arange(3)
                f.create_group("meta").attrs["format"] = "something-else"
            self.expect_exit_2(path, "not an aifsim results file")


def main():
    global RESULTS
    if len(sys.argv) < 2:
        skip("no results file given (usage: test_aifsim_results.py RESULTS.h5)")
    RESULTS = sys.argv[1]
    if not os.path.isfile(RESULTS):
        print(f"FAIL: {RESULTS}: no such file", file=sys.stderr)
        return 1
    print(f"results file: {RESULTS}")
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
