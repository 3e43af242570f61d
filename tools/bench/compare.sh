#!/usr/bin/env bash
# Run `unlearn bench` and the PyTorch DDP reference (tools/bench/torch_step.py) on the same step and print
# both rates and their ratio (ours / torch).
#
#   tools/bench/compare.sh --model dcgan28 --global-batch 64 --ranks 2 --threads 1 [--steps 20 --warmup 3 --repeats 3]
#
# Environment:
#   UNLEARN   path of the unlearn executable (default: .build/release/unlearn; build it with
#             `swift build -c release --product unlearn` first)
#   LAUNCH    how to start ours when --ranks > 1: "mpirun" (default: $MPIRUN -np R unlearn bench ... --ranks R)
#             or "self" (run unlearn bench directly, e.g. inside an allocation whose launcher wraps it)
#   MPIRUN    mpirun command line prefix (default: "mpirun --bind-to none --oversubscribe", plus
#             --allow-run-as-root when run as root)
#   PYTHON    python with torch (default: python3)
# Both tools time --repeats runs of --steps steps and report the median run. Our tool is expected to print
# its rate as "<number> samples/s" (the last such figure is taken).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
UNLEARN="${UNLEARN:-$root/.build/release/unlearn}"
LAUNCH="${LAUNCH:-mpirun}"
if [[ -z "${MPIRUN:-}" ]]; then
  MPIRUN="mpirun --bind-to none --oversubscribe"
  if [[ "$(id -u)" -eq 0 ]]; then MPIRUN+=" --allow-run-as-root"; fi
fi
PYTHON="${PYTHON:-python3}"

model=dcgan28 batch=64 ranks=1 threads=1 steps=20 warmup=3 repeats=3
usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --global-batch) batch="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "Error: unknown option '$1'" >&2; usage >&2; exit 64 ;;
  esac
done

if [[ ! -x "$UNLEARN" ]]; then
  echo "Error: $UNLEARN is not an executable (set UNLEARN or run: swift build -c release --product unlearn)" >&2
  exit 66
fi

flags=(--model "$model" --global-batch "$batch" --ranks "$ranks" --threads "$threads"
       --steps "$steps" --warmup "$warmup" --repeats "$repeats")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== unlearn bench ${flags[*]}"
if [[ "$ranks" -gt 1 && "$LAUNCH" == "mpirun" ]]; then
  # shellcheck disable=SC2086  # MPIRUN is a command prefix with its own words
  ours_out="$(OPENBLAS_NUM_THREADS="$threads" $MPIRUN -np "$ranks" "$UNLEARN" bench "${flags[@]}" 2>&1)"
else
  ours_out="$(OPENBLAS_NUM_THREADS="$threads" "$UNLEARN" bench "${flags[@]}" 2>&1)"
fi
echo "$ours_out"
ours="$(grep -oE '[0-9]+(\.[0-9]+)? *samples/s' <<<"$ours_out" | tail -n 1 | grep -oE '^[0-9.]+' || true)"

echo "== torch_step.py ${flags[*]}"
torch_out="$("$PYTHON" "$here/torch_step.py" "${flags[@]}" 2>&1)"
echo "$torch_out"
theirs="$(grep -oE 'RESULT samples_per_s=[0-9.]+' <<<"$torch_out" | tail -n 1 | cut -d= -f2 || true)"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -z "$ours" || -z "$theirs" ]]; then
  echo "Error: could not read a samples/s figure (ours: '${ours}', torch: '${theirs}')" >&2
  exit 1
fi
awk -v a="$ours" -v b="$theirs" -v m="$model" -v B="$batch" -v r="$ranks" -v t="$threads" 'BEGIN {
  printf "%s batch %s, %s rank(s) x %s thread(s): unlearn %.1f samples/s, torch %.1f samples/s, ratio %.2fx\n",
         m, B, r, t, a, b, a / b }'
