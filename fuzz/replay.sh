#!/usr/bin/env bash
# ctest's fuzz replay: fuzz/replay.sh REPLAY_BINARY TARGET SEEDS_ROOT [AIFSIM]. Runs the target once on every seed
# (made afresh from the repository by seeds.sh; AIFSIM, by default the aifsim of the same build, makes the results
# seeds), every input of the kept corpus and every kept crash input.
set -euo pipefail
binary=$1 target=$2 seeds=$3/$target
here=$(cd "$(dirname "$0")" && pwd)
"$here/seeds.sh" "$target" "$seeds" "${4:-$(dirname "$binary")/../sim/aifsim}"
dirs=("$seeds")
for d in "$here/corpus/$target" "$here/regressions/$target"; do [ -d "$d" ] && dirs+=("$d"); done
exec "$binary" "${dirs[@]}"
