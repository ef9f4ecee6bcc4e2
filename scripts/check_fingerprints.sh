#!/bin/sh
# Proves that a change kept the simulated event streams: runs scenarios and compares each run's fingerprint (a hash of
# /requests and /events, docs/results-format.md) with the one recorded in tests/data/fingerprints.txt.
#   scripts/check_fingerprints.sh [--all] [--update] [BUILD_DIR]
# By default the examples (scenarios/default.yaml, scenarios/examples/, scenarios/plans/chat_70b.yaml,
# scenarios/validation/), about half a minute; --all adds the energy, reliability and bench scenarios (minutes).
# --update rewrites the recorded fingerprints of the scenarios run (a change that moves one must say why).
# Exit 0 when every fingerprint matches, 1 when one differs or is not recorded, 2 when a run fails.
set -eu
cd "$(dirname "$0")/.."
all=0 update=0 build=build/release
for arg in "$@"; do
  case "$arg" in
    --all) all=1 ;;
    --update) update=1 ;;
    -*) echo "check_fingerprints.sh: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
aifsim=$build/sim/aifsim
[ -x "$aifsim" ] || { echo "check_fingerprints.sh: no $aifsim (build first)" >&2; exit 2; }
recorded=tests/data/fingerprints.txt
scenarios="scenarios/default.yaml $(ls scenarios/examples/*.yaml) scenarios/plans/chat_70b.yaml $(ls scenarios/validation/*.yaml)"
if [ $all = 1 ]; then
  scenarios="$scenarios $(ls scenarios/energy/*.yaml scenarios/reliability/*.yaml) bench/serving_1k_gpus.yaml bench/training_1024_gpus.yaml"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for s in $scenarios; do
  if ! "$aifsim" run "$s" -o "$tmp/run.h5" > "$tmp/out.txt" 2>&1; then
    echo "FAILED  $s"; sed 's/^/    /' "$tmp/out.txt" | tail -5; exit 2
  fi
  got=$(awk '$1 == "fingerprint" { print $2 }' "$tmp/out.txt")
  want=$(awk -v s="$s" '$1 == s { print $2 }' "$recorded")
  if [ $update = 1 ]; then
    grep -v "^$s " "$recorded" > "$tmp/rec" || true
    echo "$s $got" >> "$tmp/rec"
    LC_ALL=C sort "$tmp/rec" > "$recorded"
    echo "recorded  $s $got"
  elif [ -z "$want" ]; then
    echo "NOT RECORDED  $s $got"; status=1
  elif [ "$got" != "$want" ]; then
    echo "DIFFERS  $s: $got, recorded $want"; status=1
  else
    echo "same     $s $got"
  fi
done
exit $status
