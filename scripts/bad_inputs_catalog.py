#!/usr/bin/env python3
"""The catalog of bad inputs in docs/reliability.md: every file under tests/data/bad_* given to aifsim the way a user
would (a scenario to `aifsim validate`, a plan to `aifsim plan`, a trace, signal or calibration table through a
small scenario that names it), with the first line of what aifsim says and its exit code. Paths of this machine are
cut from the messages.

  scripts/bad_inputs_catalog.py AIFSIM            print the catalog (Markdown)
  scripts/bad_inputs_catalog.py AIFSIM --write    replace the catalog in docs/reliability.md
  scripts/bad_inputs_catalog.py AIFSIM --check    exit 1 when docs/reliability.md differs or an input is accepted
"""
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs/reliability.md"
BEGIN, END = "<!-- bad-inputs: begin -->", "<!-- bad-inputs: end -->"

SERVICE = """services:
  - name: chat
    model: Llama-3.1-8B
{perf}workloads:
  - name: users
    service: chat
    arrival: {arrival}
"""
POISSON = "{kind: poisson, rate: 1/s, prompt_tokens: 100, output_tokens: 10}"


def wrap(category, path):
    """The scenario that makes aifsim read `path` as a `category` input."""
    if category == "traces":
        fmt = {"azure": "azure-csv", "mooncake": "mooncake-jsonl", "plain": "csv"}[path.name.split("_")[0]]
        return SERVICE.format(perf="", arrival="{kind: trace, format: %s, path: '%s'}" % (fmt, path))
    if category == "signals":  # the region tables (20_*, 21_*) too: a user can give them only as a series
        return SERVICE.format(perf="", arrival=POISSON) + "grid:\n  carbon_intensity_g_per_kwh: {path: '%s'}\n" % path
    if category in ("calibration", "device_profiles"):
        return SERVICE.format(perf="    perf: {kind: calibrated, table: '%s'}\n" % path, arrival=POISSON)
    raise ValueError(category)


def outcome(aifsim, category, path, tmp):
    if category == "scenarios":
        cmd = [aifsim, "validate", str(path)]
    elif category == "plans":
        cmd = [aifsim, "plan", str(path), "-o", str(tmp / "plan")]
    else:
        scenario = tmp / "scenario.yaml"
        scenario.write_text(wrap(category, path))
        cmd = [aifsim, "validate", str(scenario)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    lines = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
    first = next((l for l in lines if l.startswith("error")), lines[0] if lines else "")
    for prefix in (str(tmp) + "/", str(ROOT) + "/"):
        first = first.replace(prefix, "")
    return r.returncode, first.replace("|", "\\|")


def catalog(aifsim):
    rows, accepted = [], []
    categories = ["scenarios", "plans", "traces", "signals", "calibration", "device_profiles"]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for category in categories:
            for path in sorted((ROOT / "tests/data" / ("bad_" + category)).iterdir()):
                code, message = outcome(aifsim, category, path, tmp)
                if code != 2:
                    accepted.append(f"{path.relative_to(ROOT)}: exit {code}: {message}")
                rows.append(f"| {category} | `{path.name}` | {code} | {message} |")
    text = [BEGIN, "", f"{len(rows)} bad inputs; `scripts/bad_inputs_catalog.py build/release/sim/aifsim` prints this "
            "table, `--check` compares it with this page (a ctest test).", "",
            "| kind | file (tests/data/bad_*) | exit | what aifsim says |", "|---|---|---|---|"] + rows + ["", END]
    return "\n".join(text), accepted


def main():
    aifsim = sys.argv[1]
    table, accepted = catalog(aifsim)
    for a in accepted:
        print("not refused with exit 2:", a, file=sys.stderr)
    if "--write" in sys.argv:
        doc = DOC.read_text()
        start, end = doc.index(BEGIN), doc.index(END) + len(END)
        DOC.write_text(doc[:start] + table + doc[end:])
    elif "--check" in sys.argv:
        doc = DOC.read_text()
        current = doc[doc.index(BEGIN):doc.index(END) + len(END)]
        if current != table:
            print("docs/reliability.md: the bad-input catalog is out of date; rerun with --write", file=sys.stderr)
            return 1
    else:
        print(table)
    return 1 if accepted else 0


if __name__ == "__main__":
    sys.exit(main())
