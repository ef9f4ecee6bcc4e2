#!/usr/bin/env bash
# Reproduces the figures of docs/validation.md on this machine's CPU: calibrate, measure the engine's
# capacity on a slice of the Azure 2023 conversation trace, serve it at 20 %, 50 % and 80 % of that
# capacity, and compare each run with the simulator (aifsim validate-against).
# Each load is served REPEATS times: the spread of the engine's own runs is the noise floor an error is judged
# against (results/validation/summary.md, scripts/cpu_loop_summary.py). Run it on an idle machine: it times the CPU.
# Usage: scripts/validate_cpu.sh [BUILD_DIR]   (env: MODEL, REQUESTS, MAX_PROMPT, MAX_OUTPUT, GRID, REPEATS)
set -euo pipefail
build=${1:-build/release}
model=${MODEL:-tiny-llama}
n=${REQUESTS:-120}
max_prompt=${MAX_PROMPT:-512}
max_output=${MAX_OUTPUT:-64}
grid=${GRID:-full}
repeats=${REPEATS:-3}
out=results/validation
mkdir -p "$out"
trace=data/traces/azure2023_conv.csv
serve=("$build/kernels/aifsim-engine" serve --model "$model" --threads 2 --trace "$trace" --max-requests "$n"
       --max-prompt "$max_prompt" --max-output "$max_output")

"$build/sim/aifsim" calibrate --device cpu-local --model "$model" --grid "$grid" --threads 2 -o "$out/$model.csv"
# Capacity: every request at once (arrival gaps divided by 10^4), throughput until the last finish.
"${serve[@]}" --rate-scale 10000 -o "$out/capacity.h5"
read -r capacity trace_rate < <(/usr/bin/python3 - "$out/capacity.h5" <<'PY'
import sys, h5py, numpy as np
r = h5py.File(sys.argv[1])["/requests"][:]
span = r["arrival_s"].max() * 10000          # the slice's own time span in the trace
print(len(r) / (np.nanmax(r["finish_s"]) - r["arrival_s"].min()), (len(r) - 1) / span)
PY
)
echo "capacity $capacity req/s; trace slice rate $trace_rate req/s"
rm -f "$out"/measured-*.h5
for load in 0.2 0.5 0.8; do
  scale=$(/usr/bin/python3 -c "print($load * $capacity / $trace_rate)")
  for r in $(seq 1 "$repeats"); do
    "${serve[@]}" --rate-scale "$scale" -o "$out/measured-$load-$r.h5"
  done
  "$build/sim/aifsim" validate-against "$out/measured-$load-1.h5" --scenario scenarios/validation/cpu-small-llama.yaml \
    --set "services[0].perf.table=$PWD/$out/$model.csv" -o "$out/simulated-$load.h5" --report "$out/report-$load.md"
done
echo "capacity_req_per_s=$capacity trace_rate=$trace_rate model=$model requests=$n repeats=$repeats" > "$out/summary.txt"
/usr/bin/python3 scripts/cpu_loop_summary.py "$out" 0.2 0.5 0.8 > "$out/summary.md"
cat "$out/summary.md"
