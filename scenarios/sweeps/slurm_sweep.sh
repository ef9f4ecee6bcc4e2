#!/usr/bin/env bash
# A sweep over several nodes of a Slurm cluster: one MPI rank per node, each running --jobs points at a time.
#   sbatch scenarios/sweeps/slurm_sweep.sh [SWEEP.yaml] [OUTPUT_DIR]
# Run from the repository root (built with `make build`) on a file system every node sees: the points' results files
# and the tables go to OUTPUT_DIR. Resubmitting the same command resumes (finished points are kept, checked by their
# fingerprints), so a job that hit its time limit or a node failure is finished by submitting it again.
# Outside Slurm the script runs the same sweep on this machine with 2 ranks (used by the tests).
#SBATCH --job-name=aifsim-sweep
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
#SBATCH --output=aifsim-sweep-%j.out
set -euo pipefail
sweep=${1:-scenarios/sweeps/replicas_by_rate.yaml}
out=${2:-results/$(basename "$sweep" .yaml)}
aifsim=${AIFSIM:-build/release/sim/aifsim}
ranks=${SLURM_NTASKS:-2}
jobs=${SLURM_CPUS_PER_TASK:-1}
extra=()
# Outside a Slurm allocation mpirun needs leave to start more ranks than cores (and, in containers, to run as root).
if [ -z "${SLURM_JOB_ID:-}" ]; then
  extra+=(--oversubscribe)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
echo "aifsim sweep $sweep -> $out: $ranks MPI ranks x $jobs points at a time"
exec mpirun -np "$ranks" "${extra[@]}" "$aifsim" sweep "$sweep" -o "$out" --mpi --jobs "$jobs"
