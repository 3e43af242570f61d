#!/usr/bin/env bash
# Data-parallel unlearning with mpirun on this machine or on hosts given in HOSTS.
#   bash launch/mpirun.sh RANKS THREADS_PER_RANK [unlearn train flags...]
#   HOSTS=node1:2,node2:2 bash launch/mpirun.sh 4 1 --config configs/train-mnist-gan-digit8.json
# Keep RANKS × THREADS_PER_RANK ≤ cores per host. Any subcommand works: set SUBCOMMAND=collect|eval|pretrain.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:?usage: launch/mpirun.sh RANKS THREADS_PER_RANK [flags...]}; threads=${2:?threads per rank}; shift 2
[ -x .build/release/unlearn ] || bash launch/setup.sh
args=(-np "$ranks" --bind-to none -x OPENBLAS_NUM_THREADS="$threads" -x HDF5_USE_FILE_LOCKING)
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ "$ranks" -gt "$(nproc)" ] && args+=(--oversubscribe)
[ -n "${HOSTS:-}" ] && args+=(--host "$HOSTS")
export HDF5_USE_FILE_LOCKING="${HDF5_USE_FILE_LOCKING:-FALSE}"
exec mpirun "${args[@]}" "$PWD/.build/release/unlearn" "${SUBCOMMAND:-train}" "$@"
