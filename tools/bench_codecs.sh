#!/usr/bin/env bash
# Storage of a BRIDGE run that keeps every step (θ, θ̂, w and optimizer states), under two store
# policies side by side: deltas (the default: delta-sub against the base hints, chains ≤ 8) and
# no deltas (delta_max_depth 0), against plain copies (the logical bytes of the distinct tensors),
# one safetensors file per step and part and those files under zstd -3 (`bridge bench codecs`).
# Also the wall time of each run.
#
#   tools/bench_codecs.sh [PIPELINE] [extra `bridge run` args...]
#   MODEL25M=1 tools/bench_codecs.sh     # a random ~25M-parameter llama2.c model instead ($STEPS steps, default 25;
#                                        # learning rate $LR for θ and θ̂, default 1e-4, and $LORA_LR for the adapter, default 1e-3)
#   POLICIES=delta tools/bench_codecs.sh # the deltas store only (the ratios need only it; half the time and disk)
#
# Needs a release build (swift build -c release) and zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
BRIDGE=${BRIDGE:-.build/release/bridge}
PIPELINE=${1:-pipelines/quickstart.yaml}
shift || true
WORK=${WORK:-$(mktemp -d /tmp/bench-codecs.XXXXXX)}
mkdir -p "$WORK"
EXTRA=("$@")
command -v zstd >/dev/null || { echo "zstd is needed (apt-get install zstd)" >&2; exit 1; }

if [[ "${MODEL25M:-0}" == 1 ]]; then
  # dim 512, 8 layers, hidden 1376, 8 heads, vocab 512 (the stories260K tokenizer): ~25.5M parameters
  python3 - "$WORK/m25.bin" <<'PY'
import sys, numpy as np
dim, hidden, layers, heads, kv, vocab, seq = 512, 1376, 8, 8, 8, 512, 256
hd = dim // heads
rng = np.random.default_rng(0)
def w(*shape): return (rng.standard_normal(shape) * 0.02).astype(np.float32)
parts = [w(vocab, dim), np.ones((layers, dim), np.float32), w(layers, dim, dim), w(layers, dim, dim), w(layers, dim, dim),
         w(layers, dim, dim), np.ones((layers, dim), np.float32), w(layers, hidden, dim), w(layers, dim, hidden), w(layers, hidden, dim),
         np.ones(dim, np.float32), np.zeros((seq, hd // 2), np.float32), np.zeros((seq, hd // 2), np.float32)]
with open(sys.argv[1], "wb") as f:
    f.write(np.array([dim, hidden, layers, heads, kv, vocab, seq], np.int32).tobytes())
    for p in parts: f.write(p.tobytes())
print("parameters:", sum(p.size for p in parts[:11]))
PY
  EXTRA+=(--set "model={llama2c: $WORK/m25.bin, tokenizer: $(pwd)/Tests/CheckpointTests/Fixtures/stories260k/tok512.bin}" --steps "${STEPS:-25}" --set rl.max_completion_length=16 --set rl.prompts_per_step=4 --set train.sft_batch_size=8
          --set "train.learning_rate=${LR:-1e-4}" --set "bridge.lora_learning_rate=${LORA_LR:-1e-3}")
fi

POLICIES=${POLICIES:-delta plain}
for policy in $POLICIES; do
  store="$WORK/$policy"
  "$BRIDGE" init --store "$store" >/dev/null
  if [[ $policy == plain ]]; then
    python3 - "$store/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["delta_max_depth"] = 0
open(sys.argv[1], "w").write(json.dumps(c, indent=2) + "\n")
PY
  fi
  start=$(date +%s.%N)
  "$BRIDGE" run "$PIPELINE" --store "$store" --run bench --set schedule.keep_every=1 "${EXTRA[@]}" >"$WORK/$policy-run.log" 2>&1
  end=$(date +%s.%N)
  echo "== $policy: bridge run took $(python3 -c "print(round($end - $start, 1))") s"
  "$BRIDGE" ckpt verify --store "$store" >/dev/null && echo "   verify: clean"
  "$BRIDGE" store stats --store "$store" --json >"$WORK/$policy-stats.json"
  "$BRIDGE" bench codecs --store "$store" --run bench --json $([[ $policy == plain ]] && echo --no-files) >"$WORK/$policy-codecs.json"
done

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
import os
d, ds = json.load(open(f"{w}/delta-codecs.json")), json.load(open(f"{w}/delta-stats.json"))
ps = json.load(open(f"{w}/plain-stats.json")) if os.path.exists(f"{w}/plain-stats.json") else None
mib = lambda n: f"{n / 2**20:9.2f} MiB"
print(f"\nsteps kept: {d['steps']}")
print(f"{'part':22} {'plain copies':>14} {'deltas':>14} {'ratio':>6} {'safetensors':>14} {'zstd -3':>14} {'ratio':>6}")
for part in sorted(d["parts"]):
    a, b = d["parts"][part]["plain_bytes"], d["parts"][part]["disk_bytes"]
    st, z = d["parts"][part].get("safetensors_bytes", 0), d["parts"][part].get("safetensors_zstd3_bytes", 0)
    print(f"{part:22} {mib(a):>14} {mib(b):>14} {b / a if a else 0:6.3f} {mib(st):>14} {mib(z):>14} {z / a if a else 0:6.3f}")
print("(ratios against plain copies; safetensors: one file per step and part)")
allparts = lambda r, key="disk_bytes": sum(v[key] for k, v in r["parts"].items() if k != "theta+theta_hat")
print(f"all parts: deltas {mib(allparts(d))}, plain copies {mib(allparts(d, 'plain_bytes'))}, safetensors per step {mib(d['safetensors_bytes'])}, zstd -3 {mib(d['safetensors_zstd3_bytes'])}")
print(f"whole store on disk: deltas {mib(ds['disk_bytes'])}" + (f", plain {mib(ps['disk_bytes'])}" if ps else ""))
print(f"per codec (delta store): " + ", ".join(f"{k} {v['objects']} objects {mib(v['disk_bytes'])}" for k, v in sorted(d["codecs"].items())))
s = d["shuffle_lz4"]
print(f"shuffle-lz4 on the last θ (lone fp32): {s['times_smaller']:.3f}× smaller than raw, decode {s['decode_gb_per_s_one_core']:.2f} GB/s on one core")
if "delta" in d:
    x, t = d["delta"], d["write_step_theta_s"]
    print(f"{x['codec']} of the last θ against the one before: {x['ratio']:.3f} of raw, decode {x['decode_gb_per_s_one_core']:.2f} GB/s on one core")
    print(f"writing the step's θ: plain {t['plain']*1e3:.1f} ms, deltas {t['delta']*1e3:.1f} ms ({t['ratio']:.2f}×)")
PY
echo "(files in $WORK)"
