#!/usr/bin/env bash
# The GPU check of kernels/README.md ("On a GPU: scripts/gpu_check.sh"): on a machine with one NVIDIA H100 or H200,
# unattended and in under 8 minutes, it
#   1. builds what it needs (release, CUDA on) into build/gpu: aifsim, aifsim-kbench, aifsim-engine, the gpu tests;
#   2. runs the CUDA tests (ctest -L gpu): they must pass, a skip counts as a failure where a GPU is present;
#   3. times kbench's operators on the GPU (--backend cuda) at the shard shapes of head_dim-128 catalog models;
#   4. serves a few dozen requests of the Azure 2023 conversation trace with aifsim-engine --backend cuda;
#   5. compares each kbench table with the committed vLLM-measured profile of the GPU found (aifsim compare-kernels);
#   6. writes it all to $OUT when set (the device runner collects it), else results/gpu-check/, with a log of the
#      phases and their times.
# --cpu-dry-run runs the same phases on this CPU (CPU backend, tiny grid, a short trace, a cheap model) to check the
# pipeline on a machine without a GPU; tests/cli.cmake runs it (cli_gpu_check_cpu_dry_run).
#
# Usage: scripts/gpu_check.sh [--cpu-dry-run] [--build-dir DIR] [--no-build] [--out DIR] [--budget SECONDS]
# Environment: GPU_CHECK_MODELS ("MODEL:TP[,TP] ..."), GPU_CHECK_ENGINE_MODEL, GPU_CHECK_REQUESTS,
#              GPU_CHECK_PROFILE (a device profile; default: the one of the GPU found).
# Exit status: 0 every phase passed; 1 a phase failed or ran out of time (the others still ran); 2 bad usage.
set -uo pipefail

dry_run=0 build_dir="" no_build=0 out_arg="" budget=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) dry_run=1 ;;
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift ;;
    --no-build) no_build=1 ;;
    --out) out_arg=${2:?--out needs a folder}; shift ;;
    --budget) budget=${2:?--budget needs seconds}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# From the repository root, with relative paths on every command line: the tables' '# command:' headers and the
# engine's /meta then name no folder of this machine (the kbench table is meant to be committed).
cd "$(dirname "$0")/.." || exit 2
start=$(date +%s)

if [ "$dry_run" = 1 ]; then
  build_dir=${build_dir:-build/gpu-dry-run}
  out=${out_arg:-results/gpu-check-dry-run}
  # A build from scratch takes about 7 minutes on 2 cores; with --no-build the rest takes about 15 s.
  budget=${budget:-1500}
  build_limit=1200
  backend=cpu
  grid=tiny
  # Llama-2-7B at tp 8: GEMM and attention shapes the GPU profiles hold (head_dim 128, 4 / 4 heads per GPU), and a
  # 32,000-token vocabulary that keeps the CPU's embedding and LM head small (Llama 3's 128,256 takes 3x longer).
  models=${GPU_CHECK_MODELS:-"Llama-2-7B:8"}
  engine_model=${GPU_CHECK_ENGINE_MODEL:-tiny-llama}
  requests=${GPU_CHECK_REQUESTS:-24}
  engine_args=(--threads 2 --max-prompt 256 --max-output 16 --rate-scale 20)
  kbench_args=(--threads 2 --reps 3 --min-seconds 0.01)
else
  build_dir=${build_dir:-build/gpu}
  out=${out_arg:-${OUT:-results/gpu-check}}
  # 8 minutes less a margin for the runner's transfers; the build takes 1-2 of them on 16 cores.
  budget=${budget:-470}
  build_limit=300
  backend=cuda
  grid=small
  models=${GPU_CHECK_MODELS:-"Llama-3.1-8B:1 Llama-3.1-70B:8"}
  engine_model=${GPU_CHECK_ENGINE_MODEL:-Llama-3.1-8B}
  requests=${GPU_CHECK_REQUESTS:-48}
  # 48 requests span 26 s of the trace: 6.5 s at 4x. Prompts and outputs clamped so that every request finishes in
  # the phase's time; the KV cache (fp32 here: 256 KiB per token of Llama-3.1-8B) holds all of them at once
  # (48 x 1,152 tokens = 13.5 GiB of 16).
  engine_args=(--max-prompt 1024 --max-output 128 --rate-scale 4 --kv-gib 16)
  kbench_args=()
fi
deadline=$((start + budget))
mkdir -p "$out" || exit 2
# What an earlier run left in results/gpu-check/ must not pass for this run's output.
rm -f "$out"/*-kbench-*.csv "$out"/engine-*.h5 "$out"/comparison*.md "$out"/gpu-tests.xml "$out"/nvidia-smi.txt
work=$build_dir/gpu-check  # where the tools write (relative paths); copied to $out
log=$out/gpu-check.log
: > "$log"
failures=0
timings=()

say() { echo "$*" | tee -a "$log"; }
now() { date +%s; }

# run_phase NAME BUDGET_S COMMAND...: runs with a time limit of min(BUDGET_S, what is left before the deadline less a
# reserve for the comparison), output to the log, and records the time and the status.
reserve=15
run_phase() {
  local name=$1 want=$2
  shift 2
  local left=$((deadline - $(now) - reserve))
  [ "$name" = compare ] && left=$((deadline - $(now)))
  local limit=$((want < left ? want : left))
  if [ "$limit" -lt 5 ]; then
    say "== $name: skipped, out of time (${left}s left before the deadline)"
    timings+=("$name skipped 0")
    failures=$((failures + 1))
    return 1
  fi
  say "== $name (limit ${limit}s): $*"
  local t0 rc
  t0=$(now)
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  rc=$?
  local dt=$(($(now) - t0))
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && say "   $name: killed after ${limit}s"
  say "   $name: exit $rc after ${dt}s"
  timings+=("$name $rc $dt")
  [ "$rc" = 0 ] || failures=$((failures + 1))
  return "$rc"
}

say "gpu_check.sh $([ "$dry_run" = 1 ] && echo '--cpu-dry-run ')started $(date -u +%Y-%m-%dT%H:%M:%SZ); budget ${budget}s"
if commit=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD 2>/dev/null || commit="$commit (with local changes)"
else
  commit="unknown (not a git checkout)"
fi
say "commit $commit"
say "build $build_dir, outputs $out, models $models, engine $engine_model x $requests requests"

# ---------------------------------------------------------------------------------------------- the device
cuda_arch=90
if [ "$dry_run" = 1 ]; then
  gpu=cpu-dry-run
  profile=${GPU_CHECK_PROFILE:-data/calibration/H100-SXM.csv}
else
  if ! command -v nvidia-smi > /dev/null || ! nvidia-smi -L >> "$log" 2>&1; then
    say "no NVIDIA GPU answers (nvidia-smi): this check needs one; --cpu-dry-run checks the pipeline without"
    exit 1
  fi
  nvidia-smi > "$out/nvidia-smi.txt" 2>&1
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  say "GPU: $name (compute capability ${cc:-unknown}); $(nvidia-smi --query-gpu=driver_version,memory.total --format=csv,noheader | head -1)"
  # Build for the GPU found (sm_90 on H100 and H200); an older driver without compute_cap: sm_90.
  case "$cc" in [0-9][0-9]|[0-9][0-9][0-9]) cuda_arch=$cc ;; esac
  case "$name" in
    *H200*) gpu=H200-SXM ;;
    *H100*) gpu=H100-SXM
            case "$name" in *PCIe*|*NVL*) say "warning: $name is not an SXM part; H100-SXM.csv is the closest profile";; esac ;;
    *A100*) gpu=A100-80GB ;;
    *) gpu=$(echo "$name" | tr -c 'A-Za-z0-9-' '-' | sed 's/-*$//') ;;
  esac
  profile=${GPU_CHECK_PROFILE:-data/calibration/$gpu.csv}
fi
[ -f "$profile" ] || say "warning: no device profile $profile: the comparison will fail"
say "profile $profile"

# ---------------------------------------------------------------------------------------------- 1. build
gpu_tests=()
for t in tests/gpu/test_*.cpp; do gpu_tests+=("gpu_$(basename "$t" .cpp)"); done
if [ "$no_build" = 0 ]; then
  # Only what the check runs: no GUI, benchmarks or MPI. About 460 CPU-seconds from scratch (kernels/README.md).
  run_phase configure 120 cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DAIF_ENABLE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$cuda_arch" -DAIF_BUILD_GUI=OFF -DAIF_BUILD_BENCH=OFF -DAIF_WITH_MPI=OFF \
    -DAIF_BUILD_TESTS=ON
  run_phase build "$build_limit" cmake --build "$build_dir" -j "$(nproc)" --target aifsim aifsim-kbench aifsim-engine \
    "${gpu_tests[@]}"
fi
aifsim=$build_dir/sim/aifsim
kbench=$build_dir/kernels/aifsim-kbench
engine=$build_dir/kernels/aifsim-engine
for tool in "$aifsim" "$kbench" "$engine"; do
  [ -x "$tool" ] || { say "missing $tool: the build failed (see above)"; failures=$((failures + 1)); }
done
if [ "$dry_run" = 0 ] && ! grep -q 'cuda_backend\.cu' "$build_dir/compile_commands.json" 2>/dev/null; then
  say "the build has no CUDA backend (no CUDA toolkit found by CMake: put nvcc on PATH or set CUDACXX)"
  failures=$((failures + 1))
fi
mkdir -p "$work"

# ---------------------------------------------------------------------------------------------- 2. CUDA tests
# Phases that are shell functions run under `timeout` through bash -c: they and what they read are exported.
export build_dir work out dry_run aifsim profile gpu
gpu_tests_check() {
  local rc
  if [ "$dry_run" = 0 ]; then
    ctest --test-dir "$build_dir" -L gpu --output-on-failure --no-tests=error --output-junit gpu-tests.xml \
      > "$work/gpu-tests.log" 2>&1
    rc=$?
    cp -f "$build_dir/gpu-tests.xml" "$out/" 2>/dev/null
  else
    # The same test executables without ctest: the dry run itself runs under ctest (cli_gpu_check_cpu_dry_run), and
    # a ctest inside it would write the same build folder's Testing/ logs as the ctest running it.
    rc=0
    : > "$work/gpu-tests.log"
    for t in "$build_dir"/tests/gpu_test_*; do
      [ -x "$t" ] || continue
      "$t" >> "$work/gpu-tests.log" 2>&1 || rc=1
    done
    grep -q 'PASSED\|FAILED\|SKIPPED' "$work/gpu-tests.log" || { echo "no gpu test executable in $build_dir/tests"; rc=1; }
  fi
  cat "$work/gpu-tests.log"
  [ "$rc" = 0 ] || return "$rc"
  # A GPU test skips when it finds no device: on a GPU machine that is a failure, in a dry run the expected outcome.
  if grep -qi 'skipped' "$work/gpu-tests.log"; then
    if [ "$dry_run" = 1 ]; then echo "skipped as expected without a GPU"; else echo "GPU tests skipped on a GPU machine"; return 1; fi
  fi
}
export -f gpu_tests_check
run_phase gpu-tests 90 bash -c gpu_tests_check

# ---------------------------------------------------------------------------------------------- 3. kbench
# One table per model (a table's header names one model), with the rows of every tp listed for it.
tables=()
for entry in $models; do
  model=${entry%%:*} tps=${entry#*:}
  table=$work/$gpu-kbench-$model.csv
  rm -f "$table"
  if run_phase "kbench-$model" 150 "$kbench" --backend "$backend" --model "$model" --tp "$tps" --grid "$grid" \
       "${kbench_args[@]}" -o "$table"; then
    cp -f "$table" "$out/"
    tables+=("$entry")
  fi
done

# ---------------------------------------------------------------------------------------------- 4. engine
engine_out=$work/engine-$engine_model.h5
rm -f "$engine_out"
run_phase "engine-$engine_model" 180 "$engine" serve --backend "$backend" --model "$engine_model" \
  --trace data/traces/azure2023_conv.csv --max-requests "$requests" "${engine_args[@]}" -o "$engine_out"
[ -f "$engine_out" ] && cp -f "$engine_out" "$out/"

# ---------------------------------------------------------------------------------------------- 5. comparison
# Arguments: the MODEL:TPS entries whose tables were written.
compare_all() {
  local rc=0 all=$out/comparison.md
  : > "$all.tmp"
  for entry in "$@"; do
    local model=${entry%%:*} tps=${entry#*:}
    for tp in ${tps//,/ }; do
      local md=$out/comparison-$model-tp$tp.md
      "$aifsim" compare-kernels "$out/$gpu-kbench-$model.csv" --profile "$profile" --model "$model" --tp "$tp" \
        -o "$md" || { rc=1; continue; }
      { cat "$md"; echo; } >> "$all.tmp"
    done
  done
  [ $# -gt 0 ] || { rm -f "$all.tmp"; echo "no kbench table to compare"; return 1; }
  mv "$all.tmp" "$all"
  return "$rc"
}
export -f compare_all
run_phase compare 60 bash -c 'compare_all "$@"' compare_all "${tables[@]}"

# ---------------------------------------------------------------------------------------------- summary
say ""
say "phase timings (seconds):"
for t in "${timings[@]}"; do
  set -- $t
  say "$(printf '  %-28s exit %-4s %5s s' "$1" "$2" "$3")"
done
say "total $(($(now) - start)) s of a ${budget} s budget; $failures phase(s) failed"
say "outputs in $out: $(cd "$out" && ls | tr '\n' ' ')"
[ "$failures" = 0 ]
