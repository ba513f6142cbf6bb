#!/usr/bin/env bash
# `make demo`: a tour of the store on a fresh machine (the BRIDGE pipeline demo replaces this
# once the pipeline lands). Creates ./.bridge-demo, imports a checkpoint, shows, exports,
# changes one tensor, diffs, verifies, and catches a flipped byte.
set -eu
cd "$(dirname "$0")/.."
B=.build/release/bridge
S=.bridge-demo
rm -rf "$S" && mkdir -p "$S"
export BRIDGE_STORE=$S/store
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "init a store"
$B init
step "import a safetensors checkpoint (every dtype; written by the reference safetensors library)"
$B ckpt import Tests/CheckpointTests/Fixtures/all_dtypes.safetensors --name demo
step "show it (reads only the manifest)"
$B ckpt show demo
step "export and re-import: same checkpoint id, no new objects"
$B ckpt export demo "$S/roundtrip.safetensors"
$B ckpt import "$S/roundtrip.safetensors" --name roundtrip --json | grep -E '"(id|new_objects)"'
step "a 64 MiB generated checkpoint, then a copy with one tensor changed"
$B bench store --size-mib 64 --repeat 1 --write-file "$S/big.safetensors" --scratch "$S/bench" >/dev/null 2>&1
$B ckpt import "$S/big.safetensors" --name big
python3 - "$S/big.safetensors" "$S/big2.safetensors" <<'PY'
import json, struct, sys
# Flip the sign of one tensor's data (no third-party packages needed).
src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
n = struct.unpack_from("<Q", data, 0)[0]
header = json.loads(data[8:8 + n])
b, e = header["model.norm.weight"]["data_offsets"]
for i in range(8 + n + b + 3, 8 + n + e, 4):
    data[i] ^= 0x80
open(dst, "wb").write(data)
PY
$B ckpt import "$S/big2.safetensors" --name big2
$B ckpt diff big big2
step "store statistics"
$B store stats
step "flip one byte of one object: verify names the object, the ref and the tensor"
obj=$($B ckpt show big --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print([t for t in d["tensors"] if t["name"]=="model.layers.0.self_attn.q_proj.weight"][0]["ids"][0])')
f=$BRIDGE_STORE/objects/${obj:0:2}/$obj
chmod u+w "$f"; printf '\x01' | dd of="$f" bs=1 seek=1000 conv=notrunc 2>/dev/null
$B ckpt verify || echo "(exit code $? — as it should be)"
echo
echo "result: store round trip ok; see README.md for what each command does."
