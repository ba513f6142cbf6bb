#!/usr/bin/env python3
"""Checks bridge's on-disk formats with tools we did not write.

Runs the `bridge` binary on a scratch store and then, in Python:
  - validates config.json, every manifest object and every journal line against schemas/
    (jsonschema);
  - re-derives every object's id from its bytes with the `xxhash` library and decodes `lz4`
    payloads with the `lz4` library, following schemas/object-file.md;
  - loads the exported safetensors file with the reference `safetensors` library and compares
    every tensor with the original fixture.

Usage: python3 tools/check_interop.py [--bridge .build/debug/bridge]
Needs: jsonschema, xxhash, lz4, safetensors, numpy (tools/check-interop.sh installs them).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import jsonschema
import numpy as np
import lz4.block
import xxhash
from safetensors import deserialize

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURE = os.path.join(ROOT, "Tests", "CheckpointTests", "Fixtures", "all_dtypes.safetensors")
STORIES = os.path.join(ROOT, "Tests", "CheckpointTests", "Fixtures", "stories260k")
GRADE_CASES = os.path.join(ROOT, "Tests", "TrainingTests", "Fixtures", "qwen25_math_cot_verdicts.jsonl")
MAGIC = b"BRGOBJ\x00\x01"
failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL:", message)


def schema(name):
    with open(os.path.join(ROOT, "schemas", name)) as f:
        s = json.load(f)
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker())


def lz4_blocks(body, logical, name):
    """The `lz4` payload layout: block size, block count, compressed sizes, blocks."""
    block, count = struct.unpack_from("<II", body, 0)
    sizes = struct.unpack_from(f"<{count}I", body, 8)
    pos, parts = 8 + 4 * count, []
    for i, size in enumerate(sizes):
        n = min(block, logical - i * block)
        parts.append(lz4.block.decompress(body[pos:pos + size], uncompressed_size=n))
        pos += size
    check(pos == len(body), f"{name}: trailing lz4 bytes")
    return block, parts


def ungroup(block_bytes, width, bit_planes):
    """Inverse of the grouping of one block: the top `bit_planes` byte planes are bit planes (bit 0
    of every byte of the plane, then bit 1, ...; the last n mod 8 bytes whole); then all byte 0s,
    all byte 1s, ... → elements."""
    a = np.frombuffer(block_bytes, dtype=np.uint8).reshape(width, len(block_bytes) // width).copy()
    n = a.shape[1]
    whole = n // 8 * 8
    for plane in range(width - bit_planes, width):
        rows = a[plane, :whole].reshape(8, whole // 8)           # row b: bit b of 8 bytes per byte
        bits = np.unpackbits(rows, axis=1, bitorder="little")    # (8, whole): bits[b, i] = bit b of byte i
        a[plane, :whole] = np.packbits(bits.T, axis=1, bitorder="little").reshape(whole)
    return a.T.copy().tobytes()


def unzigzag_add(delta, base, width):
    """delta-sub: base + unzigzag(z) as little-endian unsigned integers of `width` bytes, wrapping."""
    t = np.dtype({1: "u1", 2: "<u2", 4: "<u4", 8: "<u8"}[width])
    z, b = np.frombuffer(delta, dtype=t), np.frombuffer(base, dtype=t)
    one = z.dtype.type(1)
    d = (z >> one) ^ (np.zeros_like(z) - (z & one))
    return (b + d).astype(t).tobytes()


def read_object(path):
    """Decodes one object file per schemas/object-file.md (a delta through its base); returns
    (kind, tag, logical bytes, codec)."""
    with open(path, "rb") as f:
        data = f.read()
    name = os.path.basename(path)
    check(data[:8] == MAGIC, f"{name}: magic")
    version, codec, kind, tag = struct.unpack_from("<HBBB", data, 8)
    check(version == 1 and data[13:16] == b"\0\0\0", f"{name}: version/reserved")
    logical, payload = struct.unpack_from("<QQ", data, 16)
    check(len(data) == 64 + payload, f"{name}: file size {len(data)} != 64 + {payload}")
    check(data[32:48].hex() == name, f"{name}: header id {data[32:48].hex()}")
    base = data[48:64]
    check((base == b"\0" * 16) == (codec not in (3, 4)), f"{name}: base id must be set exactly for the deltas")
    body = data[64:]
    if codec == 0:
        out = body
    elif codec == 1:
        out = b"".join(lz4_blocks(body, logical, name)[1])
    elif codec in (2, 3, 4):
        width, depth, bit_planes = body[0], body[1], body[2]
        check(body[3:8] == b"\0" * 5 and bit_planes <= width, f"{name}: grouped prefix reserved bytes / bit planes")
        check((depth == 0) == (codec == 2), f"{name}: chain depth {depth} for codec {codec}")
        _, parts = lz4_blocks(body[8:], logical, name)
        out = b"".join(ungroup(p, width, bit_planes) for p in parts)
        if codec in (3, 4):
            base_path = os.path.join(os.path.dirname(os.path.dirname(path)), base.hex()[:2], base.hex())
            check(os.path.exists(base_path), f"{name}: delta base {base.hex()} missing")
            bkind, btag, bdata, _ = read_object(base_path)
            check((bkind, btag, len(bdata)) == (kind, tag, logical), f"{name}: base {base.hex()} differs in kind, dtype or length")
            if codec == 3:
                out = (np.frombuffer(out, dtype=np.uint8) ^ np.frombuffer(bdata, dtype=np.uint8)).tobytes()
            else:
                out = unzigzag_add(out, bdata, width)
    else:
        check(False, f"{name}: unknown codec {codec}")
        out = b""
    check(len(out) == logical, f"{name}: logical length")
    prefix = b"brg1" + bytes([kind, tag, 0, 0]) + struct.pack("<Q", logical)
    digest = xxhash.xxh3_128(prefix + out).hexdigest()
    check(digest == name, f"{name}: xxh3-128 of content is {digest}")
    return kind, tag, out, codec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", default=os.path.join(ROOT, ".build", "debug", "bridge"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bridge-interop-")
    store = os.path.join(work, "store")

    def bridge(*argv, store_option=True):
        r = subprocess.run([args.bridge, *argv, *(["--store", store] if store_option else [])], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bridge {' '.join(argv)} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    bridge("init")
    imported = json.loads(bridge("ckpt", "import", FIXTURE, "--name", "fx", "--run", "interop", "--json"))
    out = os.path.join(work, "out.safetensors")
    bridge("ckpt", "export", "fx", out)
    # A model, a token shard, responses and scores: every manifest and journal line they write is checked below.
    bridge("import", "llama2c", os.path.join(STORIES, "stories260K.bin"), "--tokenizer", os.path.join(STORIES, "tok512.bin"), "--name", "stories")
    bridge("stage", "tokenize", "--run", "interop", "--tokenizer", "stories", "--data", "synthetic", "--kind", "rl", "--count", "4")
    responses = os.path.join(work, "responses.jsonl")
    with open(responses, "w") as f:
        for i in range(4):
            for text in ("\\boxed{1}", "no idea"):
                f.write(json.dumps({"prompt_index": i, "response": text}) + "\n")
    bridge("stage", "score", "--run", "interop", "--prompts", "runs/interop/data/rl", "--responses", responses,
           "--tokenizer", "stories", "--group-size", "2")

    # Command outputs with schemas: grade --json lines, dataset records.
    grade_schema = schema("grade-output.schema.json")
    graded = [json.loads(l) for l in bridge("grade", "--input", GRADE_CASES, "--json", store_option=False).splitlines() if l.strip()]
    check(len(graded) > 1 and "accuracy" in graded[-1], "grade --json ends with a summary")
    for g in graded:
        for e in grade_schema.iter_errors(g):
            check(False, f"grade output: {e.message}")
    record_schema = schema("math-record.schema.json")
    for l in bridge("dataset", "synth", "--level", "2", "--count", "5", store_option=False).splitlines():
        for e in record_schema.iter_errors(json.loads(l)):
            check(False, f"synthetic record: {e.message}")

    # safetensors: the export loads in the reference library and equals the fixture.
    # (safetensors.deserialize is the library's framework-free reader: it keeps bf16/fp8 as bytes.)
    def load(path):
        with open(path, "rb") as f:
            return {name: (t["dtype"], list(t["shape"]), bytes(t["data"])) for name, t in deserialize(f.read())}
    a, b = load(FIXTURE), load(out)
    check(sorted(a) == sorted(b), "exported tensor names")
    for k in a:
        check(a[k] == b[k], f"tensor {k} differs after round trip")

    # Pipeline files: every canonical config validates; a tiny BRIDGE run writes run states.
    pipeline_schema, run_state_schema = schema("pipeline.schema.json"), schema("run-state.schema.json")
    pipelines = sorted(f for f in os.listdir(os.path.join(ROOT, "pipelines")) if f.endswith(".yaml"))
    for f in pipelines:
        cfg_doc = json.loads(bridge("run", os.path.join(ROOT, "pipelines", f), "--print-config"))
        for e in pipeline_schema.iter_errors(cfg_doc):
            check(False, f"pipelines/{f}: canonical config: {e.message}")
    bridge("run", os.path.join(ROOT, "pipelines", "quickstart.yaml"), "--run", "tiny",
           *[a for kv in ("model.hf=" + os.path.join(ROOT, "pipelines", "models", "arith-base"),
                          "data.sft={source: synthetic, count: 8}", "data.rl={source: synthetic, count: 8}", "data.eval=[]",
                          "rl.prompts_per_step=2", "rl.num_generations=2", "rl.max_completion_length=4", "train.sft_batch_size=2", "steps=2")
             for a in ("--set", kv)])

    # ckpt diff of the run's θ against θ̂ agrees with numpy over the two sets exported as safetensors.
    exported = {}
    for role in ("theta", "theta_hat"):
        path = os.path.join(work, role + ".safetensors")
        bridge("ckpt", "export", f"runs/tiny/{role}", path)
        with open(path, "rb") as f:
            exported[role] = {n: np.frombuffer(bytes(t["data"]), dtype=np.float32).astype(np.float64) for n, t in deserialize(f.read()) if t["dtype"] == "F32"}
    diff = json.loads(bridge("ckpt", "diff", "runs/tiny/theta", "runs/tiny/theta_hat", "--json", "--all"))
    compared = 0
    for t in diff["tensors"]:
        ta, tb = exported["theta"].get(t["name"]), exported["theta_hat"].get(t["name"])
        if ta is None or t["status"] != "changed":
            continue
        d = ta - tb
        ours = {"l2_diff": np.sqrt((d * d).sum()), "rel_change": np.sqrt((d * d).sum()) / np.sqrt((ta * ta).sum()),
                "max_abs_diff": np.abs(d).max(), "cosine": (ta * tb).sum() / np.sqrt((ta * ta).sum() * (tb * tb).sum())}
        for k, v in ours.items():
            check(abs(t[k] - v) <= 1e-9 * max(abs(v), 1e-12) + 1e-15, f"ckpt diff {t['name']} {k}: {t[k]} vs numpy {v}")
        compared += 1
    check(compared >= 10, f"ckpt diff compared only {compared} tensors with numpy")
    states = [s for s in (json.loads(bridge("ckpt", "show", ref, "--json"))["run_state"] for ref in ("runs/tiny/steps/1", "runs/tiny/head"))]
    first = json.loads(bridge("ckpt", "show", states[0]["parent"], "--json"))["run_state"]
    check(first["step"] == 0 and first["theta"] == first["theta_hat"], "at step 0 θ and θ̂ are the same object")

    # Formats: config, objects, manifests, journal.
    with open(os.path.join(store, "config.json")) as f:
        cfg = json.load(f)
    for e in schema("store-config.schema.json").iter_errors(cfg):
        check(False, f"config.json: {e.message}")
    tensor_set = schema("tensor-set.schema.json")
    codecs, manifests, run_states = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}, 0, 0
    objects_dir = os.path.join(store, "objects")
    for fan in sorted(os.listdir(objects_dir)):
        for name in sorted(os.listdir(os.path.join(objects_dir, fan))):
            check(name.startswith(fan), f"{name} under {fan}/")
            kind, tag, data, codec = read_object(os.path.join(objects_dir, fan, name))
            codecs[codec] += 1
            if kind == 3:
                manifests += 1
                doc = json.loads(data)
                check(data.decode() == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False), f"{name}: manifest is not canonical JSON")
                fmt = doc.get("format")
                check(fmt in ("bridge-tensor-set", "bridge-run-state", "bridge-pipeline-config"), f"{name}: unknown manifest format {fmt}")
                validator = {"bridge-tensor-set": tensor_set, "bridge-run-state": run_state_schema, "bridge-pipeline-config": pipeline_schema}.get(fmt)
                if validator is not None:
                    run_states += fmt == "bridge-run-state"
                    for e in validator.iter_errors(doc):
                        check(False, f"manifest {name} ({fmt}): {e.message}")
    check(manifests >= 5, f"expected the manifests of a checkpoint, a model, a shard, responses and scores; found {manifests}")
    check(codecs[1] > 0 and codecs[0] > 0 and codecs[4] > 0, f"expected raw, lz4 and delta-sub objects (a run's θ against its parent), got {codecs}")
    check(run_states >= 3, f"expected the run states of a 2-step run; found {run_states}")
    journal = schema("journal-line.schema.json")
    with open(os.path.join(store, "journal", "interop.jsonl")) as f:
        lines = [json.loads(l) for l in f]
    check([l["stage"] for l in lines] == ["import", "tokenize", "score"], f"journal stages {[l['stage'] for l in lines]}")
    check(lines[0]["outputs"]["set"] == imported["id"], "journal line for the import")
    for l in lines:
        for e in journal.iter_errors(l):
            check(False, f"journal line: {e.message}")

    if failures:
        sys.exit(f"{len(failures)} interop checks failed")
    print(f"interop ok: {len(a)} tensors round-tripped through the reference safetensors library; ckpt diff of θ vs θ̂ equals numpy on {compared} tensors; "
          f"{sum(codecs.values())} objects re-hashed with xxhash ({codecs[1]} lz4-, {codecs[2]} shuffle-lz4-, {codecs[3]} delta-xor- and {codecs[4]} delta-sub-decoded, deltas through their bases); {manifests} manifests, "
          f"{len(lines)} journal lines, {len(graded)} grade lines, {len(pipelines)} pipeline configs and {run_states} run states validated against schemas/")


if __name__ == "__main__":
    main()
