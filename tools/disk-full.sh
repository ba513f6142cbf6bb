#!/usr/bin/env bash
# A real full disk (issue [reliability] item 5): a store on a small tmpfs (needs root and
# permission to mount, as in CI containers and on most Linux machines with sudo), a `bridge run`
# that outgrows it at several sizes. Each time: exit 1 with "No space left on device" naming a
# file of the store, `ckpt verify` clean, the committed head readable; then the store is copied to
# roomy disk and the run completes at the head of an uninterrupted run.
#
#   tools/disk-full.sh [--sizes "3m 5m 8m"]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="3m 5m 8m"
[ "${1:-}" = "--sizes" ] && SIZES="$2"
SWIFT=${SWIFT:-swift}
$SWIFT build -c release --product bridge >/dev/null
BIN=$(pwd)/.build/release/bridge
WORK=$(mktemp -d /tmp/bridge-disk-full.XXXXXX)
ARGS=(run pipelines/quickstart.yaml --run d
      --set "model.hf=$(pwd)/pipelines/models/arith-base"
      --set "data.sft={source: synthetic, level: 1, count: 16}" --set "data.rl={source: synthetic, level: 1, count: 16}"
      --set "data.eval=[]" --set rl.prompts_per_step=2 --set rl.num_generations=2 --set rl.max_completion_length=6
      --set train.sft_batch_size=2 --set schedule.eval_every=0 --set steps=6)

"$BIN" init --store "$WORK/reference" >/dev/null
"$BIN" "${ARGS[@]}" --store "$WORK/reference" >/dev/null 2>&1
EXPECTED=$(cat "$WORK/reference/refs/runs/d/head")
echo "uninterrupted: head $EXPECTED, store $(du -sh "$WORK/reference" | cut -f1)"

fail() { echo "FAIL: $*"; umount "$WORK/mnt" 2>/dev/null || true; exit 1; }
for size in $SIZES; do
    mkdir -p "$WORK/mnt"
    mount -t tmpfs -o "size=$size" tmpfs "$WORK/mnt" || { echo "cannot mount a tmpfs here (needs root): skipped, not passed"; exit 2; }
    "$BIN" init --store "$WORK/mnt/store" >/dev/null
    set +e
    "$BIN" "${ARGS[@]}" --store "$WORK/mnt/store" >"$WORK/out.log" 2>"$WORK/err.log"
    code=$?
    set -e
    if [ "$code" -eq 0 ]; then umount "$WORK/mnt"; echo "  $size: the run fit (no fault)"; continue; fi
    [ "$code" -eq 1 ] || fail "$size: exit $code (expected 1): $(cat "$WORK/err.log")"
    grep -q "No space left on device" "$WORK/err.log" || fail "$size: no 'No space left on device' in: $(cat "$WORK/err.log")"
    grep -q "$WORK/mnt/store" "$WORK/err.log" || fail "$size: the message names no file of the store: $(cat "$WORK/err.log")"
    "$BIN" ckpt verify --store "$WORK/mnt/store" >"$WORK/verify.log" 2>&1 || fail "$size: verify: $(cat "$WORK/verify.log")"
    step=none
    if [ -f "$WORK/mnt/store/refs/runs/d/head" ]; then
        step=$("$BIN" status d --json --store "$WORK/mnt/store" | sed -n 's/^ *"step" *: *\([0-9]*\).*/\1/p' | head -1)
    fi
    cp -a "$WORK/mnt/store" "$WORK/store-$size"
    umount "$WORK/mnt"
    "$BIN" "${ARGS[@]}" --store "$WORK/store-$size" >/dev/null 2>&1 || fail "$size: the resumed run failed"
    head=$(cat "$WORK/store-$size/refs/runs/d/head")
    [ "$head" = "$EXPECTED" ] || fail "$size: resumed head $head, expected $EXPECTED"
    "$BIN" ckpt verify --store "$WORK/store-$size" >/dev/null || fail "$size: verify after resuming"
    echo "  $size: full at step ${step:-none}: exit 1, '$(head -1 "$WORK/err.log" | cut -c1-110)…'; verify clean; resumed elsewhere to the same head"
done
rm -rf "$WORK"
echo "ok: a full disk lost nothing committed"
