#!/usr/bin/env bash
# Reproduces docs/RESULTS.md "The floor belongs to the pretrained generator": a second MNIST GAN trained
# with the shipped GAN's command and --seed 1, saved at 1000, 2000 and 3000 steps; for each (and the
# shipped GAN), the digit-8 and thickness floors of the paper's method (`eval` of f against itself: no
# training), then the method itself where RESULTS.md shows it. ~1 h on 2 cores.
#   bash tools/floor-study.sh [OUT]        (default OUT: checkpoints/floor-study)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-checkpoints/floor-study}; mkdir -p "$out"
U="$PWD/.build/release/unlearn"
[ -x "$U" ] || bash launch/setup.sh
M=../shared/data/mnist
[ -f $M/t10k-images-idx3-ubyte.gz ] || { echo "floor-study: needs MNIST at $M" >&2; exit 1; }
C=checkpoints/pretrained/mnist-classifier.h5
export OPENBLAS_NUM_THREADS=1
real=(--real-images $M/t10k-images-idx3-ubyte.gz --real-from 8000)

resume=()
for s in 1000 2000 3000; do
  [ -f "$out/gan-seed1-$s.h5" ] || {
    "$U" pretrain gan --images $M/t10k-images-idx3-ubyte.gz --labels $M/t10k-labels-idx1-ubyte.gz \
      --out "$out/pretrain" --steps $s --seed 1 "${resume[@]}"
    cp "$out/pretrain/model.h5" "$out/gan-seed1-$s.h5"
  }
  resume=(--resume "$out/pretrain/latest.h5")
done

# study MODEL TAG [FEATURE STEPS]: floors of both features; with FEATURE STEPS also train and evaluate g.
study() {
  local m=$1 tag=$2 d="$out/$2"; mkdir -p "$d"
  for feat in digit8 thickness; do
    local lab=classifier:$C:class=8; [ $feat = thickness ] && lab=attribute:thickness:top=0.1
    "$U" collect --model "$m" --count 5000 --seed 0 --labeler "$lab" --out "$d/c-$feat.h5" > /dev/null
    "$U" direction --collection "$d/c-$feat.h5" --out "$d/d-$feat.h5" > /dev/null
    "$U" eval --model "$m" --original "$m" --labeler "$lab" --count 5000 --seed 1 --direction "$d/d-$feat.h5" \
      --classifier $C "${real[@]}" --json "$d/floor-$feat.json" > /dev/null
    if [ "${3:-}" = $feat ]; then
      "$U" train --model "$m" --direction "$d/d-$feat.h5" --out "$d/run-$feat" --steps "$4" --checkpoint-every 0 > /dev/null
      "$U" eval --model "$d/run-$feat/latest.h5" --original "$m" --labeler "$lab" --count 5000 --seed 1 \
        --direction "$d/d-$feat.h5" --classifier $C "${real[@]}" --json "$d/g-$feat.json" > /dev/null
    fi
  done
}
study checkpoints/pretrained/mnist-dcgan28.h5 shipped
study "$out/gan-seed1-1000.h5" seed1-1000 digit8 300
study "$out/gan-seed1-2000.h5" seed1-2000
study "$out/gan-seed1-3000.h5" seed1-3000 thickness 300

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
print("| GAN | FID / IS | digit-8 floor | thickness floor | the method, 300 steps |")
print("|---|---|---|---|---|")
for tag in ["shipped", "seed1-1000", "seed1-2000", "seed1-3000"]:
    f = {k: json.load(open(f"{out}/{tag}/floor-{k}.json")) for k in ["digit8", "thickness"]}
    cells = [f'{100*(f[k]["target_ratio_floor"]/f[k]["target_ratio_original"]-1):+.0f}%' for k in ["digit8", "thickness"]]
    runs = []
    for k in ["digit8", "thickness"]:
        p = f"{out}/{tag}/g-{k}.json"
        if os.path.exists(p):
            g = json.load(open(p))
            runs.append(f'{k} {100*g["target_ratio_original"]:.1f}% → {100*g["target_ratio"]:.1f}% ({100*g["target_ratio_change"]:+.0f}%), '
                        f'FID {100*(g["fid"]/g["fid_original"]-1):+.0f}%, L1 {g["preservation_l1"]:.4f}')
    e = f["digit8"]
    print(f'| {tag} | {e["fid_original"]:.0f} / {e["inception_score_original"]:.2f} | {cells[0]} | {cells[1]} | {"; ".join(runs) or "—"} |')
PY
