#!/bin/bash
# 100 million episodes of experiments/seminar.yml as a Slurm job array of 50 shards.
#
#   sbatch deploy/slurm/array.sh            # from the repository root, on a shared filesystem
#   # when every task is done:
#   target/release/sim merge runs/seminar/shard-* --out runs/seminar/merged
#
# Rerun one failed shard K alone:  sbatch --array=K deploy/slurm/array.sh
# (the shard count comes from SHARDS below, not from the smaller array).
#
#SBATCH --job-name=botify-sim
#SBATCH --array=0-49
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=02:00:00
#SBATCH --output=runs/seminar/slurm-%A_%a.out
set -euo pipefail

SHARDS=50
SIM=${SIM:-target/release/sim}
EXPERIMENT=${EXPERIMENT:-experiments/seminar.yml}
EPISODES=${EPISODES:-100000000}
CACHE=${CACHE:-cache}
OUT=runs/seminar

mkdir -p "$OUT"
# Fills the cache if it is still empty (tasks racing here each write the same files
# atomically); run it once before `sbatch` so that the tasks only read.
"$SIM" prepare --experiment "$EXPERIMENT" --cache-dir "$CACHE"
# --shard K/N from the task id, not `auto`: a rerun of one task (`--array=K`) would make
# Slurm report an array of one.
exec "$SIM" run --experiment "$EXPERIMENT" --episodes "$EPISODES" --seed 42 \
    --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" --workers "${SLURM_CPUS_PER_TASK:-2}" \
    --cache-dir "$CACHE" --out "$OUT/shard-${SLURM_ARRAY_TASK_ID}"
