#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU.
#   bash tools/dist_train.sh CONFIG GPUS_PER_NODE [tools/train.py args]
# Several nodes: run it on each node with the same NNODES, MASTER_ADDR (the
# first node's address) and PORT, and NODE_RANK=0..NNODES-1.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python).
# Without CUDA the processes run on the CPU and talk over gloo
# (vis.config_utils.setup_cpu_distributed).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS_PER_NODE [tools/train.py args]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$DIR/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
