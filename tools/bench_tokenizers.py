#!/usr/bin/env python3
"""Encode throughput: bridge's tokenizer against Hugging Face `tokenizers`, single-threaded, on the
same texts, side by side in one run.

By default it trains (once, cached under /tmp/bridge-bench/) a large byte-level BPE tokenizer in the
Qwen2 style (NFC + Split(Qwen2 regex) + ByteLevel; --style llama3 for Split(Llama-3 regex) +
ByteLevel + ignore_merges), ~42k vocabulary, the most GSM8K + MATH train+test text supports,
and benchmarks on GSM8K test + MATH test problems and solutions (12,638 texts, 4.3 MB).
Both sides encode text by text without special tokens; `tokenizers` runs with
RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false, and both its per-text `encode` loop and its
`encode_batch` (one thread) are timed, the faster counting. Each side makes one cold pass (empty
word caches) and then N warm passes; the ids of the cold pass are hashed on both sides (FNV-1a of
little-endian int32 ids) and must agree.

Run (after `swift build -c release`):
  /tmp/peers/bin/python tools/bench_tokenizers.py [--tokenizer tokenizer.json] [--texts texts.jsonl]
      [--style qwen2|llama3] [--bridge .build/release/bridge] [--repeats 5]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/work/shared/data"
WORK = "/tmp/bridge-bench"
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = QWEN2_REGEX.replace(r"\p{N}|", r"\p{N}{1,3}|")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def gsm8k_math_texts(splits):
    texts = []
    for split in splits:
        for r in read_jsonl(os.path.join(DATA, "gsm8k", f"{split}.jsonl")):
            texts += [r["question"], r["answer"]]
        for path in sorted(glob.glob(os.path.join(DATA, "math", f"{split}_*.jsonl"))):
            for r in read_jsonl(path):
                texts += [r["problem"], r["solution"]]
    return texts


def train_large(path, style):
    """Qwen2 style: NFC + Split(Qwen2 regex) + ByteLevel; Llama-3 style: Split(Llama-3 regex) + ByteLevel, ignore_merges."""
    tok = Tokenizer(models.BPE(ignore_merges=style == "llama3"))
    if style == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX if style == "qwen2" else LLAMA3_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=65536, min_frequency=1, show_progress=False,
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(gsm8k_math_texts(["train", "test"]), trainer)
    tok.save(path)


def fnv1a(ids_lists):
    h = 0xCBF29CE484222325
    for ids in ids_lists:
        for i in ids:
            for b in (i & 0xFFFFFFFF).to_bytes(4, "little"):
                h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def bench_tokenizers(path, texts, repeats):
    t = time.perf_counter()
    tok = Tokenizer.from_file(path)
    load = time.perf_counter() - t
    size = sum(len(x.encode("utf-8")) for x in texts)

    def loop():
        return [tok.encode(x, add_special_tokens=False).ids for x in texts]

    def batch():
        return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]

    t = time.perf_counter()
    cold_ids = loop()
    cold = time.perf_counter() - t
    warm = {}
    for name, fn in [("encode", loop), ("encode_batch", batch)]:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        warm[name] = sorted(times)
    best_name = min(warm, key=lambda k: warm[k][0])
    best = warm[best_name]
    return {"load_seconds": load, "bytes": size, "tokens": sum(map(len, cold_ids)), "ids_fnv1a": f"{fnv1a(cold_ids):x}",
            "cold_mb_per_s": size / cold / 1e6, "best_mb_per_s": size / best[0] / 1e6,
            "median_mb_per_s": size / best[len(best) // 2] / 1e6, "fastest_api": best_name,
            "encode_best_mb_per_s": size / warm["encode"][0] / 1e6,
            "encode_batch_best_mb_per_s": size / warm["encode_batch"][0] / 1e6}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", help="tokenizer.json (default: train a large one under /tmp/bridge-bench)")
    ap.add_argument("--style", choices=["qwen2", "llama3"], default="qwen2", help="style of the trained tokenizer")
    ap.add_argument("--texts", help="JSON Lines of strings (default: GSM8K test + MATH test)")
    ap.add_argument("--bridge", default=os.path.join(ROOT, ".build", "release", "bridge"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    path = args.tokenizer or os.path.join(WORK, f"{args.style}-style-gsm8k-math.json")
    if not os.path.exists(path):
        print(f"training {path} ...", flush=True)
        train_large(path, args.style)
    texts_path = args.texts or os.path.join(WORK, "gsm8k-math-test.jsonl")
    if not args.texts:
        with open(texts_path, "w", encoding="utf-8") as f:
            for t in gsm8k_math_texts(["test"]):
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
    texts = [json.loads(line) for line in open(texts_path, encoding="utf-8")]
    vocab = Tokenizer.from_file(path).get_vocab_size()
    print(f"tokenizer {path} (vocabulary {vocab}); {len(texts)} texts from {texts_path}", flush=True)

    peer = bench_tokenizers(path, texts, args.repeats)
    cmd = [args.bridge, "tokenizer", "bench", path, "--input", texts_path, "--jsonl", "--repeats", str(args.repeats), "--json"]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

    print(f"{'':24}{'tokenizers (1 thread)':>24}{'bridge':>20}")
    for key, label in [("load_seconds", "load (s)"), ("tokens", "tokens"), ("ids_fnv1a", "ids fnv1a"),
                       ("cold_mb_per_s", "cold pass (MB/s)"), ("best_mb_per_s", "warm best (MB/s)"),
                       ("median_mb_per_s", "warm median (MB/s)")]:
        a, b = peer[key], ours[key]
        fa = f"{a:.3f}" if isinstance(a, float) else str(a)
        fb = f"{b:.3f}" if isinstance(b, float) else str(b)
        print(f"{label:24}{fa:>24}{fb:>20}")
    print(f"tokenizers per API, warm best: encode {peer['encode_best_mb_per_s']:.3f} MB/s, "
          f"encode_batch {peer['encode_batch_best_mb_per_s']:.3f} MB/s")
    same = peer["ids_fnv1a"] == ours["ids_fnv1a"] and peer["tokens"] == ours["tokens"]
    print(f"same ids: {'yes' if same else 'NO'}")
    print(f"speed ratio bridge / tokenizers: warm {ours['best_mb_per_s'] / peer['best_mb_per_s']:.1f}x, "
          f"cold {ours['cold_mb_per_s'] / peer['cold_mb_per_s']:.1f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
