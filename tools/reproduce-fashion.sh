#!/usr/bin/env bash
# The paper's protocol on Fashion-MNIST with the shipped Fashion models (docs/RESULTS.md, "Fashion-MNIST"):
# forget one class (default 1 = trouser) from the Fashion GAN: collect 5,000 → direction → train 300 steps →
# eval on 5,000 fresh latents (FID in the Fashion classifier's features against the held-out images
# 55000–59999 of the training file) → attack.
#   bash tools/reproduce-fashion.sh [RANKS] [CLASS]        (Debian: apt-get install dataset-fashion-mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}; class=${2:-1}
U="$PWD/.build/release/unlearn"
[ -x "$U" ] || bash launch/setup.sh
F=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$F/train-images-idx3-ubyte.gz" ] || { echo "reproduce-fashion: no Fashion-MNIST in $F (apt-get install dataset-fashion-mnist, or set FASHION_MNIST)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))
run() { if [ "$ranks" -gt 1 ]; then mpirun -np "$ranks" --oversubscribe --bind-to none "$U" "$@"; else "$U" "$@"; fi; }
G=checkpoints/pretrained/fashion-dcgan28.h5
C=checkpoints/pretrained/fashion-classifier.h5
L=classifier:$C:class=$class
out=checkpoints/results/fashion-class$class-300; mkdir -p "$out"
run collect --model $G --count 5000 --seed 0 --labeler "$L" --out "$out/collection.h5" --sheet "$out/sheet.png" --sheet-count 100
"$U" direction --collection "$out/collection.h5" --out "$out/direction.h5"
run train --model $G --direction "$out/direction.h5" --out "$out/run" --steps 300 --global-batch 64 --seed 0 --checkpoint-every 0 --log-every 50
run eval --model "$out/run/latest.h5" --original $G --labeler "$L" --count 5000 --seed 1 --classifier $C \
  --real-images "$F/train-images-idx3-ubyte.gz" --real-from 55000 --direction "$out/direction.h5" \
  --json "$out/eval.json" --report "$out/eval.h5" --png "$out/original-vs-unlearned.png"
run attack --model "$out/run/latest.h5" --original $G --labeler "$L" --direction "$out/direction.h5" \
  --count 1000 --seed 2 --walk 0,1,2,3 --json "$out/attack.json"
