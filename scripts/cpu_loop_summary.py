#!/usr/bin/python3
"""Summary of the CPU loop (scripts/validate_cpu.sh): per load, each metric of the simulated run against the median
of the repeated engine runs, the engine's own spread over the repeats (its noise floor: (max - min) / median), and
whether the error is within max(target, floor). Metrics as aifsim computes them (analysis/src/summary.cpp): over
finished requests, TTFT = first token - arrival, E2E = finish - arrival, TPOT = (finish - first token) / (generated
- 1) for requests generating more than one token; percentiles interpolate linearly between order statistics.

Usage: cpu_loop_summary.py OUT_DIR LOAD [LOAD ...]   (reads OUT_DIR/measured-<load>-<r>.h5, OUT_DIR/simulated-<load>.h5)
"""
import glob
import sys

import h5py
import numpy as np

# The targets: TPOT and E2E p50 within 3 %, TTFT p50 within 5 %, the p99s within 10 %.
TARGETS = {"ttft_p50": 0.05, "ttft_p99": 0.10, "tpot_p50": 0.03, "tpot_p99": 0.10, "e2e_p50": 0.03, "e2e_p99": 0.10}


def metrics(path):
    r = h5py.File(path, "r")["/requests"][:]
    r = r[r["outcome"] == 0]  # FINISHED
    ttft = r["first_token_s"] - r["arrival_s"]
    e2e = r["finish_s"] - r["arrival_s"]
    many = r["generated_tokens"] > 1
    tpot = (r["finish_s"][many] - r["first_token_s"][many]) / (r["generated_tokens"][many] - 1)
    out = {}
    for name, v in (("ttft", ttft), ("tpot", tpot), ("e2e", e2e)):
        out[name + "_p50"] = float(np.percentile(v, 50))
        out[name + "_p99"] = float(np.percentile(v, 99))
    return out


def main():
    out_dir, loads = sys.argv[1], sys.argv[2:]
    print("| load | metric | target | engine runs | engine median | engine floor (range / median) | simulated | "
          "error vs median | within max(target, floor) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for load in loads:
        runs = [metrics(p) for p in sorted(glob.glob(f"{out_dir}/measured-{load}-*.h5"))]
        sim = metrics(f"{out_dir}/simulated-{load}.h5")
        for m, target in TARGETS.items():
            values = [r[m] for r in runs]
            med = float(np.median(values))
            floor = (max(values) - min(values)) / med
            err = (sim[m] - med) / med
            ok = "yes" if abs(err) <= max(target, floor) else "no"
            print(f"| {float(load):.0%} | {m} | {target:.0%} | {len(values)} | {med * 1e3:.1f} ms | {floor:.1%} | "
                  f"{sim[m] * 1e3:.1f} ms | {err:+.1%} | {ok} |")


if __name__ == "__main__":
    main()
