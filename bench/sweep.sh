#!/usr/bin/env bash
# Sweep throughput: the 200 runs of bench/sweep_200_points.yaml (the default scenario), once with --jobs 2 and once
# under mpirun -np 2 (one point at a time per rank), each into a fresh folder. Prints wall time and points per minute.
# Usage: bench/sweep.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
out=results/bench/sweep
rm -rf "$out"
mkdir -p "$out"
timed() {  # label, log name, command...
  local label=$1 log=$out/$2.log
  shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 || { echo "$label failed (see $log)"; tail -5 "$log"; exit 1; }
  t1=$(date +%s.%N)
  local points
  points=$(grep -cE "^  \[[0-9]+/[0-9]+\] .* done" "$log" || true)
  awk -v l="$label" -v p="$points" -v a="$t0" -v b="$t1" \
    'BEGIN { w = b - a; printf "%-22s %d points in %.1f s: %.1f points/min\n", l, p, w, 60 * p / w }'
}
echo "== 200-point sweep of the default scenario ($(nproc) cores)"
timed "local --jobs 2" local "$build/sim/aifsim" sweep "$here/sweep_200_points.yaml" -o "$out/local" --jobs 2
if command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  timed "mpirun -np 2 --mpi" mpi mpirun -np 2 --oversubscribe "$build/sim/aifsim" sweep "$here/sweep_200_points.yaml" \
    -o "$out/mpi" --mpi
  cmp -s "$out/local/sweep.csv" "$out/mpi/sweep.csv" && echo "the two sweep.csv tables are identical" ||
    echo "WARNING: the two sweep.csv tables differ"
else
  echo "(mpirun not installed: no MPI timing)"
fi
