#!/usr/bin/env bash
# Distributed training on a slurm cluster: one task per GPU, through srun.
#   [GPUS=16] [GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME \
#       CONFIG WORK_DIR [tools/train.py args]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, GRES, PORT, SRUN_ARGS,
# PYTHON (defaults and meaning in tools/slurm_srun.sh).
# Resume an interrupted job with the same command plus --resume.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py args]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/slurm_srun.sh" "$1" "$2" train.py "$3" \
    --work-dir="$4" --launcher=slurm "${@:5}"
