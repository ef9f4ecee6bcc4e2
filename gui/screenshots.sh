#!/usr/bin/env bash
# Screenshots of aifsim-gui's main views at 1366x768 for docs/gui.md, under Xvfb when there is one (else Qt's
# offscreen platform). Refresh them when the GUI changes:  gui/screenshots.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/docs/images
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The reliability example: a rack lost at the chat service's peak (failures, repairs, power, latency all move).
"$build/sim/aifsim" run "$root/scenarios/reliability/rack_failure_peak.yaml" -q -o "$tmp/rack_failure_peak.h5"
run_gui() { "$build/gui/aifsim-gui" "$tmp/rack_failure_peak.h5" "$root/scenarios/reliability/rack_failure_peak.yaml" \
  --screenshots "$out"; }
export XDG_CONFIG_HOME=$tmp/config  # no saved window state or recent files from this machine
if command -v xvfb-run >/dev/null; then
  xvfb-run -a -s "-screen 0 1366x768x24" bash -c "$(declare -f run_gui); out=$out tmp=$tmp build=$build root=$root run_gui"
else
  QT_QPA_PLATFORM=offscreen run_gui
fi
