#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: the paper's MNIST protocol (DESIGN.md §1) for two features (digit 8 by the
# shipped classifier; the top 10 % of stroke thickness) on the shipped GAN and VAE, plus the logistic-
# regression direction, each: collect 5,000 → direction → train → eval on 5,000 fresh latents → attack.
#   bash tools/reproduce-results.sh [RANKS] [experiment ...]      (default: 2 ranks, all experiments)
# Writes checkpoints/results/<experiment>/ and prints a markdown table (also saved as
# checkpoints/results/table.md). Real-image FID uses the held-out MNIST digits 8000–9999 when
# ../shared/data/mnist is present.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}; shift || true
U="$PWD/.build/release/unlearn"
[ -x "$U" ] || bash launch/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))
run() { if [ "$ranks" -gt 1 ]; then mpirun -np "$ranks" --oversubscribe --bind-to none "$U" "$@"; else "$U" "$@"; fi; }
P=checkpoints/pretrained
C=$P/mnist-classifier.h5
real=()
[ -f ../shared/data/mnist/t10k-images-idx3-ubyte.gz ] && real=(--real-images ../shared/data/mnist/t10k-images-idx3-ubyte.gz --real-from 8000)

# name model labeler steps [direction flags] [train: train flags]
experiments=(
  "gan-digit8-300 $P/mnist-dcgan28.h5 classifier:$C:class=8 300"
  "gan-digit8-1000 $P/mnist-dcgan28.h5 classifier:$C:class=8 1000"
  "gan-thickness-300 $P/mnist-dcgan28.h5 attribute:thickness:top=0.1 300"
  "gan-thickness-1000 $P/mnist-dcgan28.h5 attribute:thickness:top=0.1 1000"
  "vae-digit8-300 $P/mnist-vae28.h5 classifier:$C:class=8 300"
  "vae-thickness-300 $P/mnist-vae28.h5 attribute:thickness:top=0.1 300"
  "vae-thickness-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000"
  "vae-thickness-logistic-300 $P/mnist-vae28.h5 attribute:thickness:top=0.1 300 --method logistic --recall 0.95"
  "vae-thickness-logistic99-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000 --method logistic --recall 0.99"
  "gan-digit8-logistic-300 $P/mnist-dcgan28.h5 classifier:$C:class=8 300 --method logistic --recall 0.95"
  "gan-digit8-logistic-1000 $P/mnist-dcgan28.h5 classifier:$C:class=8 1000 --method logistic --recall 0.95"
  "gan-digit8-labeler-a5-1000 $P/mnist-dcgan28.h5 classifier:$C:class=8 1000 train: --routing labeler --alpha 5"
  "gan-thickness-labeler-a5-1000 $P/mnist-dcgan28.h5 attribute:thickness:top=0.1 1000 train: --routing labeler --alpha 5"
  "vae-digit8-labeler-a5-1000 $P/mnist-vae28.h5 classifier:$C:class=8 1000 train: --routing labeler --alpha 5"
  "vae-thickness-labeler-300 $P/mnist-vae28.h5 attribute:thickness:top=0.1 300 train: --routing labeler"
  "vae-thickness-labeler-a3-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000 train: --routing labeler --alpha 3"
  "vae-thickness-labeler-a5-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000 train: --routing labeler --alpha 5"
  "vae-thickness-labeler-a10-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000 train: --routing labeler --alpha 10"
  "vae-thickness-labeler-a3-3000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 3000 train: --routing labeler --alpha 3"
  "vae-thickness-logistic-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000 --method logistic --recall 0.95"
  "vae-thickness-logistic90-1000 $P/mnist-vae28.h5 attribute:thickness:top=0.1 1000 --method logistic --recall 0.9"
)
selected=("$@")
for e in "${experiments[@]}"; do
  read -r name model labeler steps flags <<<"$e"
  dirflags=${flags%%train:*}; trainflags=""
  [[ "$flags" == *"train:"* ]] && trainflags=${flags#*train:}
  if ((${#selected[@]})) && [[ ! " ${selected[*]} " == *" $name "* ]]; then continue; fi
  out=checkpoints/results/$name; mkdir -p "$out"
  echo "== $name" >&2
  start=$(date +%s)
  run collect --model "$model" --count 5000 --seed 0 --labeler "$labeler" --out "$out/collection.h5" --sheet "$out/sheet.png" --sheet-count 100
  # shellcheck disable=SC2086
  "$U" direction --collection "$out/collection.h5" --out "$out/direction.h5" $dirflags
  run train --model "$model" --direction "$out/direction.h5" --out "$out/run" --steps "$steps" --global-batch 64 --seed 0 --checkpoint-every 0 --log-every 50 $trainflags
  run eval --model "$out/run/latest.h5" --original "$model" --labeler "$labeler" --count 5000 --seed 1 --classifier "$C" \
    --direction "$out/direction.h5" "${real[@]}" --json "$out/eval.json" --report "$out/eval.h5" --png "$out/original-vs-unlearned.png"
  run attack --model "$out/run/latest.h5" --original "$model" --labeler "$labeler" --direction "$out/direction.h5" \
    --count 1000 --seed 2 --walk 0,1,2,3 --json "$out/attack.json"
  echo "$(( $(date +%s) - start ))" > "$out/seconds"
done

python3 - "$@" <<'PY' | tee checkpoints/results/table.md
import json, os, sys
root = "checkpoints/results"
print("| experiment | target ratio f → g | change | floor | FID (real) f → g | FID g vs f | IS f → g | preservation L1 / SSIM | walk s=3: f → g | gradient attack f → g | time |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in sorted(os.listdir(root)):
    p = os.path.join(root, name, "eval.json")
    if not os.path.exists(p): continue
    e = json.load(open(p)); a = json.load(open(os.path.join(root, name, "attack.json")))
    walk = {w["step"]: w for w in a["walk"]}
    w3 = walk.get(3.0)
    grad = f'{100*a["gradient_success_original"]:.1f}% → {100*a["gradient_success"]:.1f}%' if "gradient_success" in a else "—"
    fid = f'{e["fid_original"]:.2f} → {e["fid"]:.2f} ({100*(e["fid"]-e["fid_original"])/e["fid_original"]:+.0f}%)' if "fid" in e else "—"
    secs = open(os.path.join(root, name, "seconds")).read().strip() if os.path.exists(os.path.join(root, name, "seconds")) else "?"
    print(f'| {name} | {100*e["target_ratio_original"]:.1f}% → {100*e["target_ratio"]:.1f}% | {100*e["target_ratio_change"]:+.0f}% | {100*e.get("target_ratio_floor", float("nan")):.1f}% | {fid} | '
          f'{e.get("fid_vs_original", float("nan")):.2f} | {e.get("inception_score_original", 0):.2f} → {e.get("inception_score", 0):.2f} | '
          f'{e["preservation_l1"]:.4f} / {e["preservation_ssim"]:.3f} | '
          f'{(100*w3["target_ratio_original"]):.1f}% → {(100*w3["target_ratio"]):.1f}% | {grad} | {secs} s |' if w3 else "")
PY
