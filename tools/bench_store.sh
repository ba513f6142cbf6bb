#!/usr/bin/env bash
# The store benchmark beside Python safetensors, on the same ~1 GiB file, same machine, same run.
# Usage: tools/bench_store.sh [PYTHON]   (PYTHON defaults to /tmp/peers/bin/python, see
# ../shared/tools/setup-peers.sh; it needs torch and safetensors)
set -eu
cd "$(dirname "$0")/.."
PY=${1:-/tmp/peers/bin/python}
swift build -c release >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
file=$work/bench.safetensors
echo "== bridge (release) =="
.build/release/bridge bench store --write-file "$file" --scratch "$work/b" --json > "$work/bridge.json"
echo "== python safetensors =="
"$PY" tools/bench_safetensors.py "$file" --json > "$work/py.json"
"$PY" - "$work/bridge.json" "$work/py.json" <<'PYEOF'
import json, sys
b, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
gib = b["bytes"] / 2**30
print(f"\n{gib:.2f} GiB, {b['tensors']} tensors; ratio = python time / bridge time (> 1: bridge faster)")
rows = [
    ("bridge import      vs save_file", b["import_s"], p["save_file_s"]),
    ("bridge import      vs save_file + fsync", b["import_s"], p["save_file_fsync_s"]),
    ("bridge import      vs load_file", b["import_s"], p["load_file_s"]),
    ("bridge export      vs save_file", b["export_s"], p["save_file_s"]),
    ("bridge open        vs safe_open + get all", b["open_s"], p["safe_open_all_s"]),
    ("bridge open+verify vs load_file", b["open_verified_s"], p["load_file_s"]),
    ("bridge show        vs safe_open + keys", b["show_s"], p["safe_open_keys_s"]),
]
for name, ours, theirs in rows:
    print(f"{name:<44} {ours:8.4f} s  {theirs:8.4f} s  x{theirs / ours:6.2f}")
print(f"round trip byte-identical: {b['round_trip_identical']}; hash {b['hash_gb_s']:.1f} GB/s")
PYEOF
