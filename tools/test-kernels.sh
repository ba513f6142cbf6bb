#!/usr/bin/env bash
# Runs the numeric test targets again under each OpenBLAS kernel this CPU can execute (of
# Prescott, Haswell, SkylakeX and Zen; `bridge doctor --test-kernels` lists them), so that a
# tolerance that holds only on the kernel of the machine that wrote it fails here, not on a
# user's machine. Expects a debug build with tests (`swift build --build-tests`).
# Usage: tools/test-kernels.sh [KERNEL...]   (default: every runnable one)
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
BRIDGE=${BRIDGE:-.build/debug/bridge}
NUMERIC='^(TensorsTests|LanguageModelTests|TrainingTests|CheckpointTests|PipelineTests)\.'
# The pipeline runner's own tests (whole runs, resume, retention) add no kernel-dependent numerics
# beyond the stages' tests, and take minutes: they run once, in the main pass.
SKIP='PipelineRunTests'
if [ $# -gt 0 ]; then kernels=("$@"); else mapfile -t kernels < <("$BRIDGE" doctor --test-kernels); fi
[ ${#kernels[@]} -gt 0 ] || { echo "test-kernels: no OpenBLAS kernel to test on this CPU"; exit 0; }
for k in Prescott Haswell SkylakeX Zen; do
  [[ " ${kernels[*]} " == *" $k "* ]] || echo "test-kernels: skipping $k (this CPU cannot run it)"
done
failed=()
for k in "${kernels[@]}"; do
  log=$(mktemp)
  start=$SECONDS
  if OPENBLAS_CORETYPE=$k "$SWIFT" test --skip-build --filter "$NUMERIC" --skip "$SKIP" >"$log" 2>&1; then
    echo "test-kernels: $k passed ($(grep -m1 -oE 'Test run with [0-9]+ tests' "$log" | grep -oE '[0-9]+') tests, $((SECONDS - start)) s)"
  else
    echo "test-kernels: $k FAILED:"
    grep -E '✘|error:|failed' "$log" | grep -v ' started' | head -40
    failed+=("$k")
  fi
  rm -f "$log"
done
[ ${#failed[@]} -eq 0 ] || { echo "test-kernels: failed under ${failed[*]}"; exit 1; }
