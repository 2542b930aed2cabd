#!/usr/bin/env bash
# Run a tools/ script as one slurm task per GPU, through srun; used by
# tools/slurm_train.sh and tools/slurm_test.sh.
#   bash tools/slurm_srun.sh PARTITION JOB_NAME SCRIPT [SCRIPT args]
# SCRIPT is a file name in tools/ (train.py, test.py); the callers pass its
# arguments, --launcher=slurm among them.
# Environment:
#   GPUS           tasks (GPUs) in all                      (default 8)
#   GPUS_PER_NODE  tasks (GPUs) per node                    (default 8)
#   CPUS_PER_TASK  CPU cores per task, for data loading     (default 5)
#   GRES           generic resources per node (default gpu:GPUS_PER_NODE;
#                  set GRES= for CPU-only nodes, which then talk over gloo)
#   PORT           rendezvous port on the first node        (default 29500)
#   SRUN_ARGS      more srun options, e.g. "--quotatype=auto"
#   PYTHON         the interpreter                          (default python)
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME SCRIPT [SCRIPT args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
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
    "$PYTHON" -u "$DIR/tools/$SCRIPT" "${@:4}"
