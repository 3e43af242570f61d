#!/usr/bin/env bash
# Single-rank unlearning run on this machine (no mpirun needed).
#   bash launch/local.sh --model M.h5 --direction D.h5 --out DIR [more 'unlearn train' flags]
#   THREADS=2 bash launch/local.sh --config configs/train-mnist-gan-digit8.json
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .build/release/unlearn ] || bash launch/setup.sh
export OPENBLAS_NUM_THREADS="${THREADS:-$(nproc)}"
exec .build/release/unlearn train "$@"
