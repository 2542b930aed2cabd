#!/usr/bin/env bash
# Distributed testing with torchrun: videos are split over the processes and
# gathered back whole before evaluation (same AP as one process).
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS_PER_NODE [tools/test.py args]
# Environment (several nodes as for tools/dist_train.sh): NNODES (1),
# NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS_PER_NODE [tools/test.py args]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}
PYTHONPATH="$DIR:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$DIR/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
