#!/usr/bin/env bash
# Serving benchmark: 1,000 GPUs, 1,000,000 Poisson requests, fast mode; and the
# iteration-level mode on the first 100,000 requests of the same stream.
# Usage: bench/run.sh [BUILD_DIR]   (prints the CLI's summary and timing lines)
set -euo pipefail
build=${1:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p results/bench
# The floor: a bare SimGrid timer loop (bench_timer_loop.cpp: 1,000 chains of kernel timers, no model), measured in the
# same run, so that the serving figures below read as ratios that compare across machines.
echo "== bare SimGrid timer loop, 4,000,000 events in 1,000 chains"
loop=$("$build/bench/bench_timer_loop" 4000000 1000)
echo "$loop"
loop_rate=$(echo "$loop" | sed -E 's/.* ([0-9]+) events\/s.*/\1/')
# The CLI's summary and timing lines, then its events and requests per wall-second as shares of the timer loop's
# events per wall-second.
serving() {
  "$build/sim/aifsim" run "$@" --no-progress | grep -E "^(requests|finished|events|simulated_time|fingerprint|wall time)" |
    awk -v loop="$loop_rate" '{ print }
      /^wall time/ { gsub(/[(]/, ""); printf "vs timer loop %.4f of its events/s in events, %.4f in requests\n", $5 / loop, $7 / loop }'
}
echo "== fast mode, 1,000,000 requests"
serving "$here/serving_1k_gpus.yaml" -o results/bench/fast.h5
echo "== iteration-level mode, 100,000 requests"
serving "$here/serving_1k_gpus.yaml" --iteration-level --set workloads[0].arrival.max_requests=100000 \
  -o results/bench/iteration.h5
echo "== fast mode, same 100,000 requests"
serving "$here/serving_1k_gpus.yaml" --set workloads[0].arrival.max_requests=100000 -o results/bench/fast100k.h5
echo "== prefix caching (on by default): the same 1,000,000 requests with it off (no shared prefixes: the same work)"
"$build/sim/aifsim" run "$here/serving_1k_gpus.yaml" --set services[0].scheduler.prefix_caching=false \
  -o results/bench/fast_no_prefix_cache.h5 --no-progress | grep -E "^(requests|fingerprint|wall time)"
echo "== prefix caching by content: the Mooncake conversation trace (12,031 requests, 9 M prompt blocks), on and off"
for on in true false; do
  "$build/sim/aifsim" run scenarios/examples/mooncake_trace.yaml --set services[0].scheduler.prefix_caching=$on \
    -o results/bench/mooncake_$on.h5 --no-progress | grep -E "^(requests|kimi-like.prefix_cache_hit_rate|wall time)"
done
echo "== fabric: 100,000-GPU rail-optimized SimGrid platform; DP all-reduces of a 1,024-GPU job, 100 steps"
if [ -x "$build/bench/fabric_scale" ]; then "$build/bench/fabric_scale"; else echo "(build with -DAIF_BUILD_BENCH=ON for fabric_scale)"; fi
echo "== training: a 1,024-GPU Llama-3.1-70B job (dp 16 x tp 8 x pp 8), 100 steps, rail-optimized fabric"
"$build/sim/aifsim" run "$here/training_1024_gpus.yaml" -o results/bench/training.h5 --no-progress | grep -E "^(job\.|events|simulated_time|fingerprint|wall time)"
