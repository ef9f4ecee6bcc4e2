#!/usr/bin/env bash
# Fuzzes the parsers: fuzz/run.sh BUILD_DIR SECONDS [RUNS] [TARGET...] (make fuzz: build/fuzz, FUZZ_SECONDS).
# Each target starts from its seeds (fuzz/seeds.sh) and its kept corpus (fuzz/corpus/TARGET, which grows with what
# the run finds), runs until SECONDS pass or RUNS executions (0: no limit) are done, and appends a line to
# BUILD_DIR/fuzz/stats.tsv: target, seconds, executions, corpus size, crashing inputs. A crashing input is written to
# BUILD_DIR/fuzz/artifacts/TARGET/; once fixed, it belongs in fuzz/regressions/TARGET/, which ctest replays.
set -euo pipefail
build=$1 seconds=$2 runs=${3:-0}
shift $(( $# >= 3 ? 3 : $# ))
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scenario set_override sweep plan trace signal calibration results)
"$here/make_dict.py" "$build/fuzz/yaml.dict" >/dev/null
stats=$build/fuzz/stats.tsv
[ -f "$stats" ] || printf 'target\tseconds\texecutions\tcorpus\tcrashes\n' > "$stats"
for t in "${targets[@]}"; do
  seeds=$build/fuzz/seeds/$t corpus=$here/corpus/$t artifacts=$build/fuzz/artifacts/$t
  "$here/seeds.sh" "$t" "$seeds" "$build/../release/sim/aifsim"
  mkdir -p "$corpus" "$artifacts"
  # A plan loads its base scenario once per candidate: the largest seed plans take 12 s instrumented, not a hang.
  timeout=10
  [ "$t" != plan ] || timeout=60
  flags=(-max_total_time="$seconds" -runs="$runs" -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1
         -artifact_prefix="$artifacts/" -use_value_profile=1)
  case $t in
    scenario|set_override|sweep|plan) flags+=(-dict="$build/fuzz/yaml.dict" -max_len=16384) ;;
    results) flags+=(-max_len=131072) ;;
    *) flags+=(-max_len=16384) ;;
  esac
  [ "$runs" -gt 0 ] || flags=("${flags[@]/-runs=0/-runs=-1}")
  log=$build/fuzz/$t.log
  start=$(date +%s)
  status=0
  LSAN_OPTIONS=suppressions=$here/../tests/sanitizer.supp TMPDIR=${TMPDIR:-/tmp} "$build/fuzz/fuzz_$t" "${flags[@]}" "$corpus" "$seeds" > "$log" 2>&1 || status=$?
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  crashes=$(find "$artifacts" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$took" "${execs:-?}" "$(ls "$corpus" | wc -l)" "$crashes" >> "$stats"
  echo "fuzz $t: ${took} s, ${execs:-?} executions, $crashes crashing inputs (exit $status; log $log)"
done
