#!/usr/bin/env bash
# The one-command demo: sets up, then makes the shipped MNIST GAN forget digit 8 on 2 ranks
# (collect → direction → train → eval → attack), writing checkpoints/demo/.
#   bash launch/demo.sh [extra 'unlearn demo' flags, e.g. --feature thickness --ranks 1]
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec .build/release/unlearn demo "$@"
