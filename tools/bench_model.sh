#!/usr/bin/env bash
# Side-by-side model benchmarks: `bridge bench train|generate` and tools/bench_torch.py with the
# same flags, alternated ROUNDS times in one run (the machine may be shared): medians, bests, ratios.
# Usage: tools/bench_model.sh [ROUNDS] (env: BRIDGE=.build/release/bridge PYTHON=/tmp/peers/bin/python THREADS=2)
set -euo pipefail
ROUNDS=${1:-3}
BRIDGE=${BRIDGE:-.build/release/bridge}
PYTHON=${PYTHON:-/tmp/peers/bin/python}
THREADS=${THREADS:-2}
SMALL="--hidden 256 --layers 4 --heads 4 --kv-heads 2 --intermediate 704 --vocab 4096 --batch 8 --seq 128"
LARGE="--hidden 512 --layers 8 --heads 8 --kv-heads 2 --intermediate 1408 --vocab 8192 --batch 8 --seq 128"
# Both sides' kernels, so that a ratio is read with what produced it.
echo "bridge: BLAS kernel $($BRIDGE doctor --no-measure --json | $PYTHON -c 'import json,sys; b=json.load(sys.stdin)["openblas"]; print(b["kernel"], "(corrected from " + b["openblas_choice"] + ")" if b["corrected"] else "", "|", b["config"])')"
echo "peer: $($PYTHON -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__, "threads", torch.get_num_threads())')"
$PYTHON -c 'import torch; print(torch.__config__.show())' | sed 's/^/peer: /'
declare -A CASES=(
  [train-small]="train $SMALL --steps 5 --warmup 1"
  [train-large]="train $LARGE --steps 3 --warmup 1"
  [generate-small]="generate $SMALL --new-tokens 64 --steps 3 --warmup 1"
)
for name in train-small train-large generate-small; do
  args=${CASES[$name]}
  ours=(); theirs=()
  for _ in $(seq "$ROUNDS"); do
    extra=""; [[ $args == train* ]] && extra="--no-peak"
    ours+=("$($BRIDGE bench $args --threads "$THREADS" --json $extra | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')")
    theirs+=("$($PYTHON tools/bench_torch.py $args --threads "$THREADS" --json 2>/dev/null | tail -1 | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')")
  done
  $PYTHON - "$name" "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
name, ours, theirs = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
mo, mt = statistics.median(ours), statistics.median(theirs)
bo, bt = max(ours), max(theirs)
print(f"{name:15s} median: bridge {mo:7.0f} torch {mt:7.0f} tok/s = {mo / mt:4.2f}x | best: bridge {bo:7.0f} torch {bt:7.0f} = {bo / bt:4.2f}x"
      f"   (runs: bridge {[round(x) for x in ours]}, torch {[round(x) for x in theirs]})")
PY
done
