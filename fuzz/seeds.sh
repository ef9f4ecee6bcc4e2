#!/usr/bin/env bash
# Assembles a fuzz target's seed corpus from the repository's own inputs (valid and bad), trimmed to a few dozen
# lines each so the fuzzer mutates them quickly: fuzz/seeds.sh TARGET OUT_DIR [AIFSIM]. The trace and calibration
# targets read a first byte that picks the format; it is prepended here. AIFSIM (a built aifsim) makes two small
# results files for the results target.
set -euo pipefail
target=$1 out=$2 aifsim=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out" && mkdir -p "$out"
n=0
# copy FILE [PREFIX_BYTE] [LINES]: one seed.
copy() {
  local file=$1 prefix=${2:-} lines=${3:-60}
  n=$((n + 1))
  { if [ -n "$prefix" ]; then printf "\\x$prefix"; fi; head -n "$lines" "$file"; } > "$out/seed_$(printf %04d $n)"
}
case $target in
  scenario)
    for f in "$root"/scenarios/*.yaml "$root"/scenarios/*/*.yaml "$root"/tests/data/scenarios/*.yaml \
             "$root"/tests/data/bad_scenarios/*.yaml; do copy "$f" "" 400; done ;;
  set_override)
    # Overrides as --set takes them, one per line: every section's keys, units, lists and maps; one per seed and
    # all of them in one.
    overrides=("services[0].replicas=4" "simulation.duration=1h" "workloads[0].arrival.rate=1e12/s"
      "services[0].tp=2" "grid.price_per_kwh=0.3" "failures.scale=2" "jobs[0].steps=5"
      "services[1]={name: two, model: Llama-3.1-70B, tp: 8}" "workloads[0].arrival={kind: gamma, rate: 3/s, cv: 2}"
      "simulation.sample_interval=1s" "hardware.gpu=A100-80GB" "services[0].scheduler.max_num_seqs=64"
      "services[0].speculative={method: ngram, tokens: 3, acceptance: 0.5}" "facility.racks=0"
      "services[0].kv_host={capacity: 100GB, bandwidth: 25GB/s}" "facility.power.cooling.pue_per_degree=0.02"
      "workloads[0].arrival.prompt_tokens={dist: uniform, min: 10, max: 20}" "services[0].dtype=fp8")
    for o in "${overrides[@]}"; do n=$((n + 1)); printf '%s\n' "$o" > "$out/seed_$(printf %04d $n)"; done
    printf '%s\n' "${overrides[@]}" > "$out/seed_all" ;;
  sweep)
    for f in "$root"/scenarios/sweeps/*.yaml "$root"/tests/data/sweeps/*.yaml; do
      # The target puts its base scenario at base.yaml beside the sweep.
      n=$((n + 1)); sed 's|^base: .*|base: base.yaml|' "$f" > "$out/seed_$(printf %04d $n)"
    done ;;
  plan)
    for f in "$root"/scenarios/plans/*.plan.yaml "$root"/tests/data/plans/*.yaml "$root"/tests/data/bad_plans/*.yaml; do
      # ... whose one service is "chat".
      n=$((n + 1)); sed -e 's|^base: .*|base: base.yaml|' -e 's|^service: .*|service: chat|' "$f" \
        > "$out/seed_$(printf %04d $n)"
    done ;;
  trace)
    for f in "$root"/data/traces/azure*.csv "$root"/tests/data/bad_traces/azure_*; do copy "$f" 00 40; done
    for f in "$root"/tests/data/traces/*.csv "$root"/tests/data/bad_traces/plain_*; do copy "$f" 01 40; done
    for f in "$root"/data/traces/mooncake*.jsonl "$root"/tests/data/traces/*.jsonl "$root"/tests/data/bad_traces/mooncake_*; do
      copy "$f" 02 20
    done ;;
  signal)
    for f in "$root"/data/grid/*.csv "$root"/tests/data/signals/*.csv "$root"/tests/data/bad_signals/*; do copy "$f" "" 50; done ;;
  calibration)
    for f in "$root"/data/calibration/cpu-*.csv "$root"/tests/data/bad_calibration/*; do copy "$f" 00 80; done
    for f in "$root"/data/calibration/[AH]*.csv "$root"/tests/data/bad_device_profiles/*; do copy "$f" 01 80; done ;;
  results)
    if [ -x "$aifsim" ]; then
      tmp=$(mktemp -d)
      trap 'rm -rf "$tmp"' EXIT
      for extra in "" "--iteration-level"; do
        n=$((n + 1))
        "$aifsim" run "$root/tests/data/scenarios/fuzz_results_seed.yaml" -o "$tmp/r.h5" --quiet --compress 9 $extra
        cp "$tmp/r.h5" "$out/seed_$(printf %04d $n).h5"
      done
    fi ;;
  *) echo "seeds.sh: unknown target $target" >&2; exit 2 ;;
esac
