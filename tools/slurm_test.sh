#!/usr/bin/env bash
# Distributed testing on a slurm cluster: videos are split over the tasks and
# gathered back whole before evaluation.
#   [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT \
#       [tools/test.py args, e.g. --data-root DIR --work-dir DIR]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, GRES, PORT, SRUN_ARGS,
# PYTHON, as for tools/slurm_train.sh.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:${GPUS_PER_NODE}}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
DIR=$(cd "$(dirname "$0")/.." && pwd)
export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}
export PYTHONPATH="$DIR:${PYTHONPATH:-}"
# shellcheck disable=SC2086  # SRUN_ARGS holds several options
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$DIR/tools/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher=slurm "${@:5}"
