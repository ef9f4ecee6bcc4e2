#!/usr/bin/env python3
"""Read an aifsim results file (HDF5) into pandas and draw its main figures.

The layout is docs/results-format.md. In a notebook:

    import aifsim_results as ar
    s = ar.summary("run.h5")            # name -> value; ar.summary_table() adds the units
    req = ar.requests("run.h5")         # one row per request, with ttft_s, tpot_s, e2e_s
    ts = ar.timeseries("run.h5")        # index: time in s; ts.attrs["units"]
    ar.plot_main("run.h5", "figures")   # four PNGs

From a shell: python3 aifsim_results.py RESULTS.h5 [--out DIR]
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np
import pandas as pd

FORMAT_NAME = "aifsim-results"
# Layout 2 only added the checksum user block in front of the HDF5 data, which HDF5 (and so h5py) skips:
# both read the same here. A later layout may rename columns, so it is refused rather than misread.
KNOWN_VERSIONS = {"1", "2"}

# Event kinds marked on the power figure, by the lane the C++ report puts them in (analysis/src/event_markers.cpp).
MARKER_KINDS = {
    "failure": ("failure", "incident_start"),
    "repair": ("repair_done", "incident_end"),
    "power cap": ("power_cap", "power_uncap"),
    "demand response": ("demand_response_start", "demand_response_end"),
}
MARKER_COLORS = {"failure": "#BE1E1E", "repair": "#1E8232", "power cap": "#C87800", "demand response": "#6E3CA0"}


class ResultsFileError(ValueError):
    """The path is missing, not HDF5, or not an aifsim results file of a layout this module reads."""


def _text(value):
    # h5py gives vlen strings as str in attributes but as bytes inside compound rows.
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def open_results(path):
    """Opens `path` read-only as an h5py.File after checking it is an aifsim results file."""
    if not os.path.exists(path):
        raise ResultsFileError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ResultsFileError(f"{path}: not a file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:  # h5py's reason says which: no HDF5 signature, truncated, ...
        raise ResultsFileError(f"{path}: cannot be read as HDF5 ({e}): not an aifsim results file, "
                               "or a damaged one") from None
    meta_group = f.get("meta")
    fmt = _text(meta_group.attrs["format"]) if meta_group is not None and "format" in meta_group.attrs else None
    if fmt != FORMAT_NAME:
        f.close()
        raise ResultsFileError(f"{path}: not an aifsim results file (/meta has no format = {FORMAT_NAME})")
    version = _text(meta_group.attrs.get("format_version", "?"))
    if version not in KNOWN_VERSIONS:
        f.close()
        raise ResultsFileError(f"{path}: aifsim results layout {version}, this reader knows {sorted(KNOWN_VERSIONS)}")
    return f


def meta(path):
    """Every /meta attribute as name -> str (scenario text, seed, fingerprint, partial, ...)."""
    with open_results(path) as f:
        return {name: _text(value) for name, value in f["meta"].attrs.items()}


def summary_table(path):
    """/summary as a DataFrame indexed by name, columns value (float) and unit (str), in file order."""
    with open_results(path) as f:
        rows = f["summary"][:] if "summary" in f else np.zeros(0, [("name", "O"), ("value", "f8"), ("unit", "O")])
    table = pd.DataFrame({"value": rows["value"].astype(float), "unit": [_text(u) for u in rows["unit"]]},
                         index=pd.Index([_text(n) for n in rows["name"]], name="name"))
    return table


def summary(path):
    """/summary as a Series name -> value; the units are summary_table(path)["unit"]."""
    return summary_table(path)["value"]


def timeseries(path):
    """/timeseries as a DataFrame indexed by time (s), one column per series in definition order.

    df.attrs["units"] and df.attrs["descriptions"] map each column to its dataset's attributes.
    """
    with open_results(path) as f:
        group = f.get("timeseries")
        if group is None or "time" not in group:
            return pd.DataFrame(index=pd.Index([], name="time_s", dtype=float))
        # HDF5 lists members alphabetically; the `series` attribute keeps the order the writer defined them in.
        names = [_text(n) for n in group.attrs["series"]] if "series" in group.attrs else \
            sorted(n for n in group if n != "time")
        columns = {name: group[name][:] for name in names}
        df = pd.DataFrame(columns, index=pd.Index(group["time"][:], name="time_s"))
        df.attrs["units"] = {n: _text(group[n].attrs.get("unit", "")) for n in names}
        df.attrs["descriptions"] = {n: _text(group[n].attrs.get("description", "")) for n in names}
    return df


def requests(path):
    """/requests as a DataFrame, plus the latencies the simulator summarizes.

    outcome is a categorical (FINISHED, UNFINISHED, REJECTED, DROPPED). ttft_s, tpot_s and e2e_s follow the
    summary's definitions: NaN unless FINISHED, and tpot_s only with more than one generated token.
    """
    with open_results(path) as f:
        ds = f["requests"]
        rows = ds[:]
        enum = h5py.check_enum_dtype(ds.dtype["outcome"]) or {}
    df = pd.DataFrame({name: rows[name] for name in rows.dtype.names})
    if "cached_tokens" not in df:  # files written before the column read as 0 (docs/results-format.md)
        df["cached_tokens"] = np.zeros(len(df), np.int32)
    names = {value: name for name, value in enum.items()}
    if names and sorted(names) == list(range(len(names))):
        df["outcome"] = pd.Categorical.from_codes(df["outcome"].astype(int), [names[i] for i in range(len(names))])
    elif names:
        df["outcome"] = pd.Categorical(df["outcome"].map(names), categories=list(enum))
    finished = (df["outcome"] == "FINISHED").to_numpy()
    gen = df["generated_tokens"].to_numpy()
    df["ttft_s"] = np.where(finished, df["first_token_s"] - df["arrival_s"], np.nan)
    df["e2e_s"] = np.where(finished, df["finish_s"] - df["arrival_s"], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = (df["finish_s"] - df["first_token_s"]) / (gen - 1)
    df["tpot_s"] = np.where(finished & (gen > 1), tpot, np.nan)
    return df


def events(path):
    """/events as a DataFrame: time_s, kind, target, detail (str), in file order."""
    with open_results(path) as f:
        rows = f["events"][:]
    return pd.DataFrame({
        "time_s": rows["time_s"].astype(float),
        "kind": [_text(v) for v in rows["kind"]],
        "target": [_text(v) for v in rows["target"]],
        "detail": [_text(v) for v in rows["detail"]],
    })


# ---------------------------------------------------------------------------------------------------------------
# Figures. They are built on matplotlib.figure.Figure with the Agg canvas, never through pyplot: no global state
# and no backend switch, so calling them from a notebook leaves its own matplotlib setup alone.


def _time_axis(seconds):
    """A divisor and a label that keep the time axis in readable numbers."""
    span = float(np.nanmax(seconds)) if len(seconds) else 0.0
    for limit, div, unit in ((600, 1, "s"), (3 * 3600, 60, "min"), (3 * 86400, 3600, "h")):
        if span <= limit:
            return div, unit
    return 86400, "d"


def _power_scale(peak_w):
    return (1e6, "MW") if peak_w >= 1e6 else (1e3, "kW")


def _log_axis(axis, values):
    """Log scale on `axis` (ax.xaxis or ax.yaxis) spanning at least one decade, ticks labelled as plain numbers.

    Latencies that vary little (a steady TPOT) would otherwise fit between two powers of ten, with no labelled
    tick at all or a row of identical 2x10^-2 labels.
    """
    from matplotlib.ticker import FuncFormatter

    values = np.asarray(values, float)
    values = values[np.isfinite(values) & (values > 0)]
    axis.axes.set(**{f"{axis.axis_name}scale": "log"})
    decades = 99.0
    if len(values):
        lo, hi = values.min() / 1.1, values.max() * 1.1
        if hi < 10 * lo:  # widen around the geometric middle: one decade always holds a labelled power of ten
            mid = math.sqrt(lo * hi)
            lo, hi = mid / math.sqrt(10), mid * math.sqrt(10)
        axis.axes.set(**{f"{axis.axis_name}lim": (lo, hi)})
        decades = math.log10(hi / lo)
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))

    def minor_label(v, _):
        # Over one or two decades 2 and 5 times the powers of ten are labelled too; over more they would crowd.
        leading_digit = round(v / 10 ** math.floor(math.log10(v)))
        return f"{v:g}" if decades <= 2 and leading_digit in (2, 5) else ""

    axis.set_minor_formatter(FuncFormatter(minor_label))


def _new_figure(rows=1, height=4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _no_data(ax, what):
    ax.text(0.5, 0.5, f"no {what} in this file", ha="center", va="center", transform=ax.transAxes, color="gray")


def power_figure(ts, ev):
    """Facility power, grid draw and the grid limit (dashed), with failure, repair and power event markers."""
    fig, (ax,) = _new_figure()
    # With the power chain on, its facility series is the site's; facility_power then stays IT x constant PUE.
    facility = "facility_power_chain" if "facility_power_chain" in ts else "facility_power"
    # Without solar or a battery the grid draw is the facility power: the wide pale line keeps both in sight.
    lines = [(facility, "facility power", {"linewidth": 4, "alpha": 0.4}), ("grid_draw", "grid draw", {}),
             ("grid_limit", "grid limit", {"linestyle": "--", "color": "black"})]
    lines = [(c, label, style) for c, label, style in lines if c in ts and np.isfinite(ts[c]).any()]
    if not lines:
        _no_data(ax, "power series")
        return fig
    div, tunit = _time_axis(ts.index.to_numpy())
    peak = max(float(np.nanmax(np.abs(ts[c]))) for c, _, _ in lines)
    scale, punit = _power_scale(peak)
    t = ts.index.to_numpy() / div
    for column, label, style in lines:
        # Step plot: a sample holds for the interval after it, as the summary's energy integral counts it.
        ax.step(t, ts[column] / scale, where="post", label=label, **style)
    t_end = ts.index.max()
    for lane, kinds in MARKER_KINDS.items():
        times = ev.loc[ev["kind"].isin(kinds), "time_s"].to_numpy()
        # Events after the last sample (a repair due hours after the horizon) are in /events but off the chart.
        at, later = times[times <= t_end], np.count_nonzero(times > t_end)
        label = f"{lane} ({len(at)}" + (f", {later} after the end)" if later else ")")
        # One collection per lane, so thousands of failures stay one draw call; an empty one still names the
        # lane's later events in the legend.
        ax.vlines(at / div, 0, 1, transform=ax.get_xaxis_transform(), colors=MARKER_COLORS[lane],
                  linestyles=":", linewidth=1, label=label if len(times) else None)
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"time [{tunit}]")
    ax.set_ylabel(f"power [{punit}]")
    ax.set_title("Facility power and grid")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def latency_windows(req, windows=40):
    """p50 and p99 of TTFT and TPOT of the finished requests in `windows` equal windows of arrival time.

    Windows as analysis/src/latency_windows.cpp: from the first to the last finished arrival, the last one closed.
    Returns a DataFrame indexed by window centre (s), columns ttft_p50, ttft_p99, tpot_p50, tpot_p99; empty
    windows are left out.
    """
    done = req[req["outcome"] == "FINISHED"]
    if done.empty:
        return pd.DataFrame(columns=["ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99"])
    t0, t1 = done["arrival_s"].min(), done["arrival_s"].max()
    width = (t1 - t0) / windows
    w = np.zeros(len(done), int) if width <= 0 else \
        np.clip(((done["arrival_s"] - t0) / width).astype(int), 0, windows - 1)
    grouped = done.groupby(w)
    out = pd.DataFrame({
        f"{m}_{p}": grouped[f"{m}_s"].quantile(q) for m in ("ttft", "tpot") for p, q in (("p50", 0.5), ("p99", 0.99))
    })
    out.index = pd.Index(t0 + (out.index.to_numpy() + 0.5) * width, name="arrival_s")
    return out


def latency_figure(req, windows=40):
    """TTFT and TPOT p50 / p99 per window of arrival time, log y."""
    fig, axes = _new_figure(2, 6.0)
    lw = latency_windows(req, windows)
    if lw.empty:
        _no_data(axes[0], "finished requests")
        return fig
    div, tunit = _time_axis(lw.index.to_numpy())
    t = lw.index.to_numpy() / div
    for ax, metric in zip(axes, ("ttft", "tpot")):
        for p, style in (("p50", "-"), ("p99", "--")):
            ax.plot(t, lw[f"{metric}_{p}"], style, marker=".", label=f"{metric.upper()} {p}")
        _log_axis(ax.yaxis, lw[[f"{metric}_p50", f"{metric}_p99"]].to_numpy().ravel())
        ax.set_ylabel(f"{metric.upper()} [s]")
        ax.legend(loc="best", fontsize="small")
        ax.grid(alpha=0.3, which="both")
    axes[-1].set_xlabel(f"arrival time [{tunit}]")
    axes[0].set_title(f"Latency of finished requests, {windows} windows of arrival time")
    return fig


def ttft_cdf_figure(req):
    """Empirical CDF of the TTFT of the finished requests, log x, with the p50 and p99 marked."""
    fig, (ax,) = _new_figure()
    ttft = np.sort(req["ttft_s"].dropna().to_numpy())
    if len(ttft) == 0:
        _no_data(ax, "finished requests")
        return fig
    ax.step(ttft, np.arange(1, len(ttft) + 1) / len(ttft), where="post")
    for p, style in ((50, ":"), (99, "--")):
        ax.axvline(np.percentile(ttft, p), color="gray", linestyle=style, label=f"p{p} {np.percentile(ttft, p):.3g} s")
    _log_axis(ax.xaxis, ttft)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("TTFT [s]")
    ax.set_ylabel("fraction of finished requests")
    ax.set_title(f"TTFT CDF ({len(ttft)} finished requests)")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return fig


def load_figure(ts):
    """Busy GPUs on one axis, running and waiting requests on their own axis below."""
    fig, (top, bottom) = _new_figure(2, 6.0)
    if ts.empty:
        _no_data(top, "time series")
        return fig
    div, tunit = _time_axis(ts.index.to_numpy())
    t = ts.index.to_numpy() / div
    if "busy_gpus" in ts:
        top.step(t, ts["busy_gpus"], where="post", label="busy GPUs")
        top.set_ylim(bottom=0)
    else:
        _no_data(top, "busy_gpus series")
    top.set_ylabel("GPUs")
    for column, label in (("running_requests", "running"), ("waiting_requests", "waiting")):
        if column in ts:
            bottom.step(t, ts[column], where="post", label=label)
    bottom.set_ylabel("requests")
    bottom.set_xlabel(f"time [{tunit}]")
    top.set_title("Busy GPUs and queues")
    for ax in (top, bottom):
        ax.set_xlim(t[0], t[-1])
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    return fig


def plot_main(path, outdir):
    """Writes power.png, latency.png, ttft_cdf.png and load.png into outdir; returns name -> path."""
    os.makedirs(outdir, exist_ok=True)
    ts, req, ev = timeseries(path), requests(path), events(path)
    figures = {
        "power": power_figure(ts, ev),
        "latency": latency_figure(req),
        "ttft_cdf": ttft_cdf_figure(req),
        "load": load_figure(ts),
    }
    paths = {}
    for name, fig in figures.items():
        paths[name] = os.path.join(outdir, f"{name}.png")
        fig.savefig(paths[name], dpi=120)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# Command line


def headline(path):
    """The numbers the command line prints, as (label, value, unit) rows: from /summary where it has them, else
    computed from the tables (a file from another writer may lack a name)."""
    s, req, ts = summary(path), requests(path), timeseries(path)

    def pick(*names, default=None):
        return next((float(s[n]) for n in names if n in s.index), default)

    ttft = req.loc[req["outcome"] == "FINISHED", "ttft_s"].dropna()

    def percentile(p):
        return float(np.percentile(ttft, p)) if len(ttft) else None

    # The simulator names the count `finished`; summary_entries() (docs/results-format.md) `requests_finished`.
    rows = [("requests", pick("requests", default=len(req)), ""),
            ("finished", pick("finished", "requests_finished", default=len(ttft)), ""),
            ("TTFT p50", pick("ttft_p50", default=percentile(50)), "s"),
            ("TTFT p99", pick("ttft_p99", default=percentile(99)), "s"),
            ("facility energy", pick("facility_energy", "power.facility_energy"), "kWh")]
    pue = pick("power.mean_pue")  # with the power chain: facility / IT energy over the run
    if pue is None and pick("it_energy"):
        pue = pick("facility_energy") / pick("it_energy")  # without it: the scenario's constant facility.pue
    rows.append(("PUE", pue, ""))
    peak = pick("power.peak_grid_draw")  # MW, only with the power chain
    if peak is not None:
        rows.append(("peak grid draw", peak * 1e6, "W"))
    elif "facility_power" in ts:
        # No on-site solar or battery without the power chain: the grid supplies the facility power.
        rows.append(("peak grid draw (= facility power)", float(ts["facility_power"].max()), "W"))
    return rows


def _format(value, unit):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if unit == "W":
        scale, unit = _power_scale(value)
        value /= scale
    if unit == "" and float(value).is_integer():
        return f"{int(value)}"
    # Four significant digits, but never an exponent for a number a reader wants whole (19,250 kWh, not 1.925e+04).
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return f"{text} {unit}".rstrip()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Headline numbers and the main figures of an aifsim results file.")
    parser.add_argument("results", help="results file (.h5) written by aifsim")
    parser.add_argument("--out", help="folder for the PNGs (default: <results name>_figures next to the file)")
    args = parser.parse_args(argv)
    outdir = args.out or os.path.splitext(args.results)[0] + "_figures"
    try:
        open_results(args.results).close()
    except ResultsFileError as e:
        print(f"aifsim_results: error: {e}", file=sys.stderr)
        return 2
    m = meta(args.results)
    note = " (partial run)" if m.get("partial") == "1" else ""
    print(f"{args.results}: fingerprint {m.get('fingerprint', '?')}{note}")
    rows = headline(args.results)
    width = max(len(label) for label, _, _ in rows)
    for label, value, unit in rows:
        print(f"  {label:<{width}}  {_format(value, unit)}")
    print("figures:")
    for path in plot_main(args.results, outdir).values():
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
