#!/usr/bin/env bash
# Random kill -9 at scale (issue [reliability] item 2): a long `bridge run` is killed with
# SIGKILL from outside at random moments (seeded), resumed each time, N times; after every kill
# `bridge ckpt verify` must be clean and the run's head, when there is one, must be a committed
# step. At the end the run completes and its head must equal an uninterrupted run's, bit for bit.
#
#   tools/kill-loop.sh [--kills 200] [--steps 60] [--seed 1] [--max-wait 2.0] [--dir DIR]
#
# Uses the release build (built if missing). Prints one line per 20 kills and a summary; exits
# non-zero on any failed check. Takes ~10–20 minutes for 200 kills on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=200 STEPS=60 SEED=1 MAX_WAIT=2.0 DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kills) KILLS="$2"; shift 2 ;;
        --steps) STEPS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --max-wait) MAX_WAIT="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        *) echo "usage: tools/kill-loop.sh [--kills N] [--steps S] [--seed K] [--max-wait SECONDS] [--dir DIR]" >&2; exit 2 ;;
    esac
done

SWIFT=${SWIFT:-swift}
$SWIFT build -c release --product bridge >/dev/null
BIN=$(pwd)/.build/release/bridge
DIR=${DIR:-$(mktemp -d /tmp/bridge-kill-loop.XXXXXX)}
mkdir -p "$DIR"
ARGS=(run pipelines/quickstart.yaml --run k
      --set "model.hf=$(pwd)/pipelines/models/arith-base"
      --set "data.sft={source: synthetic, level: 1, count: 64}" --set "data.rl={source: synthetic, level: 1, count: 64}"
      --set "data.eval=[{name: held-out, source: synthetic, level: 1, count: 8, split: test}]"
      --set rl.prompts_per_step=2 --set rl.num_generations=4 --set rl.max_completion_length=12 --set train.sft_batch_size=2
      --set evaluation.max_new_tokens=12 --set schedule.eval_every=10 --set schedule.keep_last=3 --set schedule.keep_every=20
      --set bridge.shadow_rollouts=separate --set "steps=$STEPS")

echo "kill-loop: $KILLS kills of a $STEPS-step run, seed $SEED, in $DIR"
START=$(date +%s)
"$BIN" init --store "$DIR/reference" >/dev/null
"$BIN" "${ARGS[@]}" --store "$DIR/reference" >/dev/null 2>&1
EXPECTED=$(cat "$DIR/reference/refs/runs/k/head")
echo "uninterrupted run: head $EXPECTED in $(( $(date +%s) - START )) s"

"$BIN" init --store "$DIR/store" >/dev/null
RANDOM=$SEED
kills=0 attempts=0 finished_early=0 verifies=0
while [ "$kills" -lt "$KILLS" ]; do
    attempts=$((attempts + 1))
    "$BIN" "${ARGS[@]}" --store "$DIR/store" >"$DIR/last.log" 2>&1 &
    pid=$!
    # a wait in [0.05, MAX_WAIT) seconds, from the seeded generator
    wait_s=$(awk -v r="$RANDOM" -v m="$MAX_WAIT" 'BEGIN { printf "%.3f", 0.05 + (m - 0.05) * r / 32768 }')
    sleep "$wait_s"
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        kills=$((kills + 1))
    else
        # the run finished before the kill: it must have exited cleanly at the expected head
        if ! wait "$pid"; then echo "FAIL: the run exited with an error:"; cat "$DIR/last.log"; exit 1; fi
        finished_early=1
        break
    fi
    if ! "$BIN" ckpt verify --store "$DIR/store" >"$DIR/verify.log" 2>&1; then
        echo "FAIL: ckpt verify after kill $kills:"; cat "$DIR/verify.log"; exit 1
    fi
    verifies=$((verifies + 1))
    step=none
    if [ -f "$DIR/store/refs/runs/k/head" ]; then
        # the head reads back as a run state
        step=$("$BIN" status k --json --store "$DIR/store" 2>"$DIR/status.log" | sed -n 's/^ *"step" *: *\([0-9]*\).*/\1/p' | head -1)
        [ -n "$step" ] || { echo "FAIL: the head after kill $kills does not read back:"; cat "$DIR/status.log"; exit 1; }
    fi
    if [ $((kills % 20)) -eq 0 ]; then
        echo "  $kills kills, $attempts attempts, at step $step, $(( $(date +%s) - START )) s"
    fi
done
# run to completion
"$BIN" "${ARGS[@]}" --store "$DIR/store" >"$DIR/last.log" 2>&1 || { echo "FAIL: the final run failed:"; cat "$DIR/last.log"; exit 1; }
HEAD=$(cat "$DIR/store/refs/runs/k/head")
"$BIN" ckpt verify --store "$DIR/store" >/dev/null
echo "kills: $kills (of $attempts attempts); ckpt verify clean after each: $verifies; final head $HEAD"
if [ "$HEAD" != "$EXPECTED" ]; then echo "FAIL: the final head differs from the uninterrupted run's ($EXPECTED)"; exit 1; fi
if [ "$kills" -lt "$KILLS" ]; then
    echo "FAIL: the run finished after only $kills kills (raise --steps)"; exit 1
fi
echo "ok: $kills kills, 0 committed steps lost, the final head equals the uninterrupted run's ($(( $(date +%s) - START )) s)"
