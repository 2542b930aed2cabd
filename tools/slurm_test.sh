#!/usr/bin/env bash
# Distributed testing on a slurm cluster: videos are split over the tasks and
# gathered back whole before evaluation.
#   [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT \
#       [tools/test.py args, e.g. --data-root DIR --work-dir DIR]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, GRES, PORT, SRUN_ARGS,
# PYTHON (defaults and meaning in tools/slurm_srun.sh).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py args]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/slurm_srun.sh" "$1" "$2" test.py "$3" "$4" \
    --launcher=slurm "${@:5}"
