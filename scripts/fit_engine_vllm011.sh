#!/usr/bin/env bash
# Fits the vllm-0.11 engine profile's CPU work per step (data/engines.yaml: step_overhead, seq_overhead,
# token_overhead) on ONE measured vLLM 0.11 run, jan21-llama7b-train-1 of data/validation/blis_vllm011 (the only
# Llama-2-7B run: no shared prefix, no prefix-cache hits, decode-heavy), by a grid search minimizing the root mean
# square of the relative errors of its TTFT and E2E mean, p50 and p90. That run is then reported apart ("fit") and
# left out of the validation figures (docs/validation-gpu.md).
#   scripts/fit_engine_vllm011.sh [build/release]      # about 2 minutes on 2 cores
set -euo pipefail
build=${1:-build/release}
aifsim="$build/sim/aifsim"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
best=""
printf "%-10s %-10s %-10s %s\n" step seq token "rms error (ttft mean/p50/p90, e2e mean/p50/p90)"
for step in 0.3ms 0.4ms 0.5ms 0.6ms 0.7ms 0.8ms; do
  for seq in 0us 5us 10us 20us; do
    for token in 1.5us 2us 2.5us 3us 3.5us; do
      "$aifsim" validate-gpu --set blis --case jan21-llama7b-train-1 -o "$work" \
        --set-value "services[0].engine={name: vllm-0.11, step_overhead: $step, seq_overhead: $seq, token_overhead: $token}" \
        > /dev/null
      rms=$(awk -F, 'NR > 1 { s += $8 * $8; n++ } END { printf "%.5f", sqrt(s / n) }' "$work/validation.csv")
      printf "%-10s %-10s %-10s %s\n" "$step" "$seq" "$token" "$rms"
      if [ -z "$best" ] || awk -v a="$rms" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
        best="$rms $step $seq $token"
      fi
    done
  done
done
echo "best: rms $best (step_overhead, seq_overhead, token_overhead)"
