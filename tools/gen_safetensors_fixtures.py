#!/usr/bin/env python3
"""Writes small safetensors fixtures with the reference `safetensors` library (torch flavour), for
Tests/CheckpointTests: one tensor of every dtype bridge stores, odd byte lengths (1, 63, 65), an
empty tensor, a scalar and __metadata__; plus a JSON file of each tensor's dtype, shape and
its bytes in hex as the library sees them.

Usage: /tmp/peers/bin/python tools/gen_safetensors_fixtures.py [OUT_DIR]
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "CheckpointTests", "Fixtures")
os.makedirs(out, exist_ok=True)
g = torch.Generator().manual_seed(0)

tensors = {
    "model.embed_tokens.weight": torch.randn(11, 7, generator=g),
    "f32.odd63": torch.randn(63, generator=g),
    "bf16.w": torch.randn(5, 3, generator=g).to(torch.bfloat16),
    "f16.w": torch.randn(2, 2, 3, generator=g).to(torch.float16),
    "f64.v": torch.randn(4, generator=g, dtype=torch.float64),
    "i64.ids": torch.arange(6, dtype=torch.int64).reshape(2, 3) - 3,
    "i32.ids": torch.arange(10, dtype=torch.int32) * 7 - 20,
    "i16.v": torch.tensor([-1, 2, -300], dtype=torch.int16),
    "i8.v": torch.tensor([-128, 0, 127], dtype=torch.int8),
    "u8.odd1": torch.tensor([200], dtype=torch.uint8),
    "u8.odd63": torch.arange(63, dtype=torch.uint8),
    "u8.odd65": torch.arange(65, dtype=torch.uint8),
    "bool.mask": torch.tensor([True, False, True, True]),
    "empty.f32": torch.zeros(0, 4),
    "scalar.f32": torch.tensor(3.25),
}
if hasattr(torch, "float8_e4m3fn"):
    tensors["f8e4m3.v"] = torch.tensor([0.5, -2.0, 448.0]).to(torch.float8_e4m3fn)
    tensors["f8e5m2.v"] = torch.tensor([0.25, -3.0]).to(torch.float8_e5m2)

path = os.path.join(out, "all_dtypes.safetensors")
save_file(tensors, path, metadata={"format": "pt", "producer": "tools/gen_safetensors_fixtures.py"})

# What the reference library reads back: dtype, shape, and the raw bytes in hex.
from safetensors import safe_open

expected = {}
with safe_open(path, "pt") as f:
    for name in f.keys():
        t = f.get_tensor(name)
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        expected[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "hex": raw.hex(), "bytes": len(raw)}
    metadata = f.metadata()
with open(os.path.join(out, "all_dtypes.json"), "w") as fh:
    json.dump({"tensors": expected, "metadata": metadata}, fh, indent=1, sort_keys=True)
print("wrote", path, os.path.getsize(path), "bytes,", len(expected), "tensors")
