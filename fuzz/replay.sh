#!/usr/bin/env bash
# ctest's fuzz replay: fuzz/replay.sh REPLAY_BINARY TARGET SEEDS_ROOT. Runs the target once on every seed (made
# afresh from the repository by seeds.sh), every input of the kept corpus and every kept crash input.
set -euo pipefail
binary=$1 target=$2 seeds=$3/$target
here=$(cd "$(dirname "$0")" && pwd)
"$here/seeds.sh" "$target" "$seeds" "$(dirname "$binary")/../sim/aifsim"
dirs=("$seeds")
for d in "$here/corpus/$target" "$here/regressions/$target"; do [ -d "$d" ] && dirs+=("$d"); done
exec "$binary" "${dirs[@]}"
