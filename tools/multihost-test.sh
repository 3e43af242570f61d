#!/usr/bin/env bash
# Multi-host reliability checks (docs/RELIABILITY.md, "Across hosts"); .ci/run runs them after launch/test.sh.
#
#   bash tools/multihost-test.sh          # as root: needs `ip netns` and ../shared/tools/test-hosts
#
# ../shared/tools/test-hosts makes two test hosts (network namespaces uh1, uh2 on a private bridge) and an
# rsh agent, so `mpirun --host` starts one rank on each "machine" and they talk over TCP. Checks:
#   1. collect on 2 hosts writes the same collection as on 1 host;
#   2. train on 2 hosts gives the same model as on 1 host (2 ranks: bit for bit; 1 rank: within 1e-4 + 3·lr);
#   3. cutting host 2's link mid-run ends the job by itself within 60 s, with a line naming the phase and
#      step it stalled in;
#   4. after mending the link, the last checkpoint loads and --resume continues from it on 2 hosts.
# Every command has a hard timeout; the test hosts (if this script made them) and every process it
# started are removed on exit. Uses .build/debug/unlearn (built by the tests), else .build/release/unlearn;
# UNLEARN, TEST_HOSTS and MNIST_DIR override the binary, the test-hosts tool and the MNIST folder.
# Prints one line per check and 'N passed, N failed'; exits 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
hosts_tool=${TEST_HOSTS:-$repo/../shared/tools/test-hosts}
mnist=${MNIST_DIR:-$repo/../shared/data/mnist}
unlearn=${UNLEARN:-}
for candidate in .build/debug/unlearn .build/release/unlearn; do
  [ -z "$unlearn" ] && [ -x "$candidate" ] && unlearn=$repo/$candidate
done
die() { echo "multihost-test: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (ip netns); run as root"
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || die "ip netns is not available"
[ -x "$hosts_tool" ] || die "$hosts_tool not found (set TEST_HOSTS)"
[ -n "$unlearn" ] && [ -x "$unlearn" ] || die "no unlearn binary (swift build first, or set UNLEARN)"
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || die "MNIST not found in $mnist (set MNIST_DIR)"
command -v h5dump >/dev/null && command -v h5ls >/dev/null || die "h5dump/h5ls missing (apt-get install hdf5-tools)"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d /tmp/unlearn-multihost.XXXXXX)
made_hosts=0
background=()
passed=0
failed=0

# Kills a process we started and all its descendants, by process id.
kill_tree() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
  kill -9 "$1" 2>/dev/null
}

cleanup() {
  local pid
  for pid in "${background[@]}"; do kill_tree "$pid"; done
  "$hosts_tool" mend 2 >/dev/null 2>&1
  if [ "$made_hosts" -eq 1 ]; then
    for ns in uh1 uh2; do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    done
    "$hosts_tool" down >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { passed=$((passed + 1)); echo "PASS  $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }

# The test hosts may be in use by someone else on a shared machine: wait for them rather than break a run.
for _ in $(seq 1 60); do
  busy=0
  for ns in uh1 uh2; do [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && busy=1; done
  [ "$busy" -eq 0 ] && break
  echo "multihost-test: test hosts busy, waiting" >&2
  sleep 5
done
[ "$busy" -eq 0 ] || die "test hosts uh1/uh2 stayed busy for 5 minutes (another run?)"
ip netns list | grep -qw uh1 || made_hosts=1
hosts=$(timeout 60 "$hosts_tool" up 2) || die "test-hosts up failed"

# mpirun inside host 1 with one rank on each test host, over TCP on the bridge.
two_hosts=(ip netns exec uh1 mpirun --mca plm_rsh_agent "$hosts_tool agent" --mca btl tcp,self
  --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24
  -x OPENBLAS_NUM_THREADS -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
  --host "$hosts" -np 2 "$unlearn")

# The step of a checkpoint, empty if it does not load.
checkpoint_step() { timeout 30 "$unlearn" inspect "$1" 2>/dev/null | sed -n 's/^  step = //p'; }

# same_datasets A B GROUP RTOL: every dataset of GROUP agrees (RTOL 0: byte for byte; else within
# RTOL × the dataset's largest magnitude). Prints the worst dataset on failure.
same_datasets() {
  local a=$1 b=$2 group=$3 rtol=$4 atol=${5:-0} name ds
  for name in $(h5ls "$a/$group" | awk '$2 == "Dataset" {print $1}'); do
    ds=${group:+/$group}/$name
    h5dump -d "$ds" -b LE -o "$work/a.bin" "$a" >/dev/null 2>&1 || { echo "cannot read $ds of $a"; return 1; }
    h5dump -d "$ds" -b LE -o "$work/b.bin" "$b" >/dev/null 2>&1 || { echo "cannot read $ds of $b"; return 1; }
    if [ "$rtol" = 0 ]; then
      cmp -s "$work/a.bin" "$work/b.bin" || { echo "$ds differs"; return 1; }
    else
      paste <(od -An -v -t f4 -w4 "$work/a.bin") <(od -An -v -t f4 -w4 "$work/b.bin") | awk -v tol="$rtol" -v atol="$atol" -v ds="$ds" '
        { d = $1 - $2; if (d < 0) d = -d; m = $2 < 0 ? -$2 : $2; if (m > s) s = m; if (d > w) w = d }
        END { if (w > tol * s + atol + 1e-12) { printf "%s differs by %g (scale %g)\n", ds, w, s; exit 1 } }' || return 1
    fi
  done
}

# --- Tiny inputs (one host): a DCGAN pretrained for a few steps, a collection, a direction.
arch='{"family":"dcgan","latent_dim":8,"channels":1,"base_size":7,"widths":[8,4]}'
timeout 120 "$unlearn" pretrain gan --images "$mnist/t10k-images-idx3-ubyte.gz" --labels "$mnist/t10k-labels-idx1-ubyte.gz" \
  --architecture "$arch" --out "$work/pre" --steps 20 --global-batch 16 --train-count 500 --log-every 10 >"$work/pre.log" 2>&1 \
  || die "pretraining the tiny model failed: $(tail -3 "$work/pre.log")"
model=$work/pre/model.h5
collect=(collect --model "$model" --count 400 --seed 0 --labeler attribute:area:top=0.5)

# 1. collect on 2 hosts = collect on 1 host.
if timeout 120 "$unlearn" "${collect[@]}" --out "$work/c1.h5" >"$work/c1.log" 2>&1 \
  && timeout 120 "${two_hosts[@]}" "${collect[@]}" --out "$work/c2.h5" >"$work/c2.log" 2>&1; then
  if why=$(same_datasets "$work/c2.h5" "$work/c1.h5" "" 0); then pass "collect on 2 hosts writes the 1-host collection"
  else fail "collect on 2 hosts differs from 1 host: $why"; fi
else
  fail "collect failed: $(tail -3 "$work/c1.log" "$work/c2.log")"
fi
timeout 60 "$unlearn" direction --collection "$work/c1.h5" --out "$work/d.h5" >"$work/d.log" 2>&1 \
  || die "direction failed: $(tail -3 "$work/d.log")"
train=(train --model "$model" --direction "$work/d.h5" --global-batch 8 --learning-rate 1e-4 --log-every 1)

# 2. train on 2 hosts = train on 1 host.
if timeout 180 "${two_hosts[@]}" "${train[@]}" --out "$work/t2h" --steps 12 >"$work/t2h.log" 2>&1 \
  && timeout 180 mpirun -np 2 --oversubscribe --bind-to none "$unlearn" "${train[@]}" --out "$work/t1h" --steps 12 >"$work/t1h.log" 2>&1 \
  && timeout 180 "$unlearn" "${train[@]}" --out "$work/t1r" --steps 12 >"$work/t1r.log" 2>&1; then
  if why=$(same_datasets "$work/t2h/latest.h5" "$work/t1h/latest.h5" generator 0); then pass "train on 2 hosts = 2 ranks on 1 host, bit for bit"
  else fail "train on 2 hosts differs from 2 ranks on 1 host: $why"; fi
  # 1 and 2 ranks sum gradients in a different order; Adam's normalisation turns a rounding-level difference
  # of a near-zero gradient into up to a whole step (lr) for that weight, so allow 3 steps' worth per weight.
  if why=$(same_datasets "$work/t2h/latest.h5" "$work/t1r/latest.h5" generator 1e-4 3e-4); then pass "train on 2 hosts = 1 rank within 1e-4 relative + 3·lr"
  else fail "train on 2 hosts differs from 1 rank: $why"; fi
else
  fail "training failed: $(tail -3 "$work/t2h.log" "$work/t1h.log" "$work/t1r.log")"
fi

# 3. Cut host 2's link mid-run: the job must end by itself, naming the phase and step it stalled in.
run=$work/long
(timeout -s KILL 150 "${two_hosts[@]}" "${train[@]}" --out "$run" --steps 1000000 --checkpoint-every 4 --log-every 1000 \
  --watchdog-seconds 10; echo "exit status $?") >"$work/long.log" 2>&1 &
job=$!
background+=("$job")
step=""
for _ in $(seq 1 300); do
  step=$(checkpoint_step "$run/latest.h5")
  [ -n "$step" ] && [ "$step" -ge 8 ] && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$step" ] || ! kill -0 "$job" 2>/dev/null; then
  fail "the long 2-host run did not start: $(tail -5 "$work/long.log")"
else
  "$hosts_tool" cut 2
  cut_at=$(date +%s.%N)
  ended=""
  for _ in $(seq 1 900); do kill -0 "$job" 2>/dev/null || { ended=$(date +%s.%N); break; }; sleep 0.1; done
  if [ -z "$ended" ]; then
    fail "cut host 2: the job was still running 90 s after the cut"
  else
    seconds=$(awk -v a="$cut_at" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')
    stall=$(grep -m1 -E 'rank [01]: stalled for [0-9.]+ s in .+ at step [0-9]+; aborting' "$work/long.log")
    if awk -v s="$seconds" 'BEGIN { exit !(s <= 60) }' && [ -n "$stall" ]; then
      pass "cut host 2: job ended by itself after $seconds s: ${stall#unlearn: }"
    else
      fail "cut host 2: ended after $seconds s; stall line: '${stall:-none}'; log: $(tail -5 "$work/long.log")"
    fi
  fi
  "$hosts_tool" mend 2
  sleep 1

  # 4. The last checkpoint is intact and --resume continues from it on 2 hosts.
  step=$(checkpoint_step "$run/latest.h5")
  if [ -z "$step" ]; then
    fail "after the cut the checkpoint does not load: $(timeout 30 "$unlearn" inspect "$run/latest.h5" 2>&1 | head -2)"
  elif timeout 180 "${two_hosts[@]}" "${train[@]}" --out "$run" --steps $((step + 4)) --checkpoint-every 4 --resume "$run/latest.h5" \
    >"$work/resume.log" 2>&1 && [ "$(checkpoint_step "$run/latest.h5")" = $((step + 4)) ] && grep -q "resumed .* at step $step" "$work/resume.log"; then
    pass "after the cut: checkpoint at step $step loads and --resume on 2 hosts reaches step $((step + 4))"
  else
    fail "resume after the cut failed: $(tail -5 "$work/resume.log")"
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
