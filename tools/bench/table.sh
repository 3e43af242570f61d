#!/usr/bin/env bash
# Run tools/bench/compare.sh over a matrix of configurations and print a Markdown table (one row per run):
# ours and torch samples/s, their ratio, our GFLOP/s and fraction of the sgemm rate, the load average.
#
#   tools/bench/table.sh [--models "dcgan28 dcgan64"] [--batches "64 256"] [--configs "1x1 1x2 2x1"]
#                        [--steps-per-sample-budget N] [--out FILE]
#
# A configuration is RANKSxTHREADS. Steps scale with the work (fewer for dcgan64 and large batches) so a run
# stays near a minute; set STEPS / WARMUP / REPEATS to override. Full logs go to FILE.log (default
# /tmp/bench-table.log). Environment as for compare.sh (UNLEARN, MPIRUN, PYTHON), plus WAIT_CMD: a command
# run before every row (e.g. one that waits until the shared machine is idle).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
models="dcgan28 dcgan64" batches="64 256" configs="1x1 1x2 2x1" out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --configs) configs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "Error: unknown option '$1'" >&2; exit 64 ;;
  esac
done
log="${out:-/tmp/bench-table}.log"
: >"$log"

rows=()
for model in $models; do
  for batch in $batches; do
    # ~2 s of our work per timed run at 1x1 (dcgan28 ~370 samples/s, dcgan64 ~90).
    per_second=$([[ "$model" == dcgan64 ]] && echo 90 || echo 370)
    steps_default=$(( 2 * per_second / batch )); (( steps_default < 3 )) && steps_default=3
    steps="${STEPS:-$steps_default}" warmup="${WARMUP:-1}" repeats="${REPEATS:-3}"
    for config in $configs; do
      ranks="${config%x*}" threads="${config#*x}"
      if [[ -n "${WAIT_CMD:-}" ]]; then $WAIT_CMD >&2 || true; fi
      echo "== $model batch $batch ${ranks}x${threads} (steps $steps x $repeats)" | tee -a "$log" >&2
      text="$("$here/compare.sh" --model "$model" --global-batch "$batch" --ranks "$ranks" --threads "$threads" \
        --steps "$steps" --warmup "$warmup" --repeats "$repeats" 2>&1)" || true
      echo "$text" >>"$log"
      ratio_line="$(grep -E 'ratio [0-9.]+x' <<<"$text" | tail -n 1 || true)"
      ours="$(sed -nE 's/.*unlearn ([0-9.]+) samples\/s.*/\1/p' <<<"$ratio_line")"
      theirs="$(sed -nE 's/.*torch ([0-9.]+) samples\/s.*/\1/p' <<<"$ratio_line")"
      ratio="$(sed -nE 's/.*ratio ([0-9.]+)x.*/\1/p' <<<"$ratio_line")"
      gf="$(grep -oE '[0-9.]+ GFLOP/s   \(' <<<"$text" | head -n 1 | grep -oE '^[0-9.]+' || true)"
      frac="$(grep -oE 'GFLOP/s → [0-9]+%' <<<"$text" | head -n 1 | grep -oE '[0-9]+%' || true)"
      loads="$(grep -E '^load average:' <<<"$text" | sed 's/load average: //' | cut -d' ' -f1 | paste -sd/ -)"
      rows+=("| $model | $batch | ${ranks}×${threads} | ${ours:-?} | ${theirs:-?} | ${ratio:-?}× | ${gf:-?} | ${frac:-?} | ${loads:-?} |")
      echo "${rows[-1]}" >&2
    done
  done
done
{
  echo "| model | global batch | ranks×threads | unlearn samples/s | torch samples/s | ratio | unlearn GFLOP/s | of sgemm | load (before/after) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "${out:-/dev/null}"
