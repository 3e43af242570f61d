#!/usr/bin/env bash
# The test command: installs the packages the tests need, then runs `swift test` (unit, gradient, PyTorch
# parity, and mpirun end-to-end tests). MNIST is read from ../shared/data/mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_BUILD=1 bash launch/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]'
swift test --skip-build "$@"
