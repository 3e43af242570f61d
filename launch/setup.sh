#!/usr/bin/env bash
# Installs the Debian packages the tool needs (when missing) and builds it in release mode.
#   bash launch/setup.sh            # packages + release build → .build/release/unlearn
#   SKIP_BUILD=1 bash launch/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libopenblas-dev libpng-dev zlib1g-dev pkg-config)
optional=(dataset-fashion-mnist)
missing=()
for p in "${packages[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Fashion-MNIST is optional (only for the Fashion-MNIST models); the rest is required.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null 2>&1 \
    || echo "setup: dataset-fashion-mnist not available; Fashion-MNIST pretraining needs other IDX files" >&2
fi
command -v swift >/dev/null || { echo "setup: swift not found on PATH (Swift 6 toolchain required)" >&2; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
  swift build -c release --product unlearn 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
  test -x .build/release/unlearn || { echo "setup: release build failed" >&2; exit 1; }
  echo "setup: built .build/release/unlearn" >&2
fi
