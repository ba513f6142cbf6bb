#!/usr/bin/env python3
"""A randomly initialised model with Qwen2.5-0.5B's published shape, as a Hugging Face directory.

The config repeats the published Qwen/Qwen2.5-0.5B config.json (896 hidden, 4864 intermediate,
24 layers, 14 query / 2 key-value heads, vocab 151936, rope theta 1e6, tied embeddings, q/k/v
biases, which Qwen2 always has); the weights are transformers' own random init under
torch.manual_seed(SEED), stored in bfloat16 like the published checkpoint (~1 GB, 494M parameters).
It stands in for the real model in size-dependent benchmarks when no download is possible:
speed does not depend on the weights' values.

Writes OUT_DIR/config.json, OUT_DIR/model.safetensors (save_pretrained, safetensors) and, when a
Qwen tokenizer.json is found offline under /work/shared/data, a copy of it (else says so).

Usage: /tmp/peers/bin/python tools/make_qwen25_05b.py OUT_DIR [--seed 0] [--threads 2]
"""
import argparse
import glob
import json
import os
import shutil
import time

# Published values (Qwen/Qwen2.5-0.5B config.json); anything not listed takes transformers' default.
QWEN25_05B = dict(
    vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
    num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, rms_norm_eps=1e-6,
    hidden_act="silu", tie_word_embeddings=True, use_sliding_window=False, sliding_window=32768,
    max_window_layers=24, bos_token_id=151643, eos_token_id=151643, initializer_range=0.02)


def find_tokenizer(root="/work/shared/data"):
    """A tokenizer.json under root whose path or vocabulary says Qwen, or None."""
    for path in sorted(glob.glob(os.path.join(root, "**", "tokenizer.json"), recursive=True)):
        if "qwen" in path.lower():
            return path
        with open(path, encoding="utf-8") as f:
            head = f.read(1 << 20)
        if "<|im_start|>" in head or "<|endoftext|>" in head:   # Qwen's special tokens
            return path
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    from transformers import Qwen2Config, Qwen2ForCausalLM
    start = time.perf_counter()
    config = Qwen2Config(architectures=["Qwen2ForCausalLM"], **QWEN25_05B)
    torch.manual_seed(a.seed)
    model = Qwen2ForCausalLM(config)                # transformers' init (normal(0, 0.02), unit norms)
    model = model.to(torch.bfloat16).eval()         # published checkpoint dtype
    model.config.dtype = torch.bfloat16             # saved as "dtype": "bfloat16"
    # Tied: lm_head.weight is embed_tokens.weight, counted once (as the published 494M is).
    params = sum(t.numel() for t in model.parameters())
    os.makedirs(a.out_dir, exist_ok=True)
    model.save_pretrained(a.out_dir, safe_serialization=True)

    tokenizer = find_tokenizer()
    if tokenizer:
        shutil.copy(tokenizer, os.path.join(a.out_dir, "tokenizer.json"))
        note = f"tokenizer.json copied from {tokenizer}"
    else:
        note = "no Qwen tokenizer.json under /work/shared/data: none copied (token ids only)"
    seconds = time.perf_counter() - start

    files = {name: os.path.getsize(os.path.join(a.out_dir, name)) for name in sorted(os.listdir(a.out_dir))}
    print(note)
    for name, size in files.items():
        print(f"  {name:28s} {size:>13,d} bytes")
    print(json.dumps({"parameters": params, "dtype": "bfloat16", "seed": a.seed, "seconds": round(seconds, 1),
                      "out_dir": a.out_dir, "tokenizer": tokenizer, "torch": torch.__version__,
                      "transformers": __import__("transformers").__version__}, sort_keys=True))


if __name__ == "__main__":
    main()
