#!/usr/bin/env python3
"""Peer side of the rollout-stage benchmark: transformers model.generate on a GRPO-shaped batch.

N prompts of P random token ids (seeded), each repeated G times in a row (batch N·G, as GRPO's
num_generations), sampled with the KV cache at temperature 1, top_p 1, top_k 0 (plain multinomial
sampling over the full vocabulary), min_new_tokens = max_new_tokens = T with no EOS, so every
sequence generates exactly T tokens. f32 weights, torch.set_num_threads(threads), inference_mode.
One warm-up generate, then R timed ones; tokens/s = N·G·T / median seconds.

The model is a Hugging Face directory (config.json + safetensors). Only the base model is timed:
a PEFT adapter saved next to it (adapter_config.json), which from_pretrained would attach, is
left out by loading through a temporary directory of symlinks to the other files.

Usage: /tmp/peers/bin/python tools/bench_rollout.py --model HF_DIR --prompts N --group G
       --prompt-len P --new-tokens T [--threads 2] [--repeat 3] [--seed 0]
Prints one JSON line: {"peer": "transformers", "tokens_per_s", "seconds", "batch", "new_tokens", ...}.
"""
import argparse
import json
import os
import statistics
import tempfile
import time


def base_model_dir(path, scratch):
    """path itself, or (when it holds a PEFT adapter) a directory of symlinks without the adapter."""
    if not os.path.exists(os.path.join(path, "adapter_config.json")):
        return path
    for name in os.listdir(path):
        if not name.startswith("adapter_"):
            os.symlink(os.path.abspath(os.path.join(path, name)), os.path.join(scratch, name))
    return scratch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="Hugging Face model directory")
    p.add_argument("--prompts", type=int, required=True, help="N distinct prompts")
    p.add_argument("--group", type=int, required=True, help="G completions per prompt")
    p.add_argument("--prompt-len", type=int, required=True, help="P prompt tokens")
    p.add_argument("--new-tokens", type=int, required=True, help="T generated tokens per sequence")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="R timed runs after one warm-up")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    import transformers
    from transformers import AutoModelForCausalLM, GenerationConfig

    with tempfile.TemporaryDirectory() as scratch:
        model = AutoModelForCausalLM.from_pretrained(base_model_dir(a.model, scratch), dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size

    # N prompts, each repeated G times consecutively ([p0, p0, ..., p1, p1, ...]) like GRPO's sampler.
    g = torch.Generator().manual_seed(a.seed)
    prompts = torch.randint(0, vocab, (a.prompts, a.prompt_len), generator=g)
    input_ids = prompts.repeat_interleave(a.group, dim=0)
    attention_mask = torch.ones_like(input_ids)
    batch = input_ids.shape[0]

    # Exactly T new tokens per sequence: no EOS, and min = max new tokens.
    cfg = GenerationConfig(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=a.new_tokens,
                           min_new_tokens=a.new_tokens, eos_token_id=None, pad_token_id=0, bos_token_id=None)
    torch.manual_seed(a.seed)  # the sampling stream
    times = []
    with torch.inference_mode():
        for i in range(1 + a.repeat):
            start = time.perf_counter()
            out = model.generate(input_ids, attention_mask=attention_mask, generation_config=cfg)
            elapsed = time.perf_counter() - start
            assert out.shape == (batch, a.prompt_len + a.new_tokens), f"unexpected output shape {tuple(out.shape)}"
            if i > 0:                           # run 0 is the warm-up
                times.append(elapsed)

    seconds = statistics.median(times)
    generated = batch * a.new_tokens
    print(json.dumps({
        "peer": "transformers", "tokens_per_s": generated / seconds, "seconds": seconds,
        "runs_s": [round(t, 4) for t in times], "batch": batch, "prompts": a.prompts, "group": a.group,
        "new_tokens": a.new_tokens, "prompt_len": a.prompt_len, "generated_tokens": generated,
        "threads": a.threads, "parameters": sum(t.numel() for t in model.parameters()),
        "torch": torch.__version__, "transformers": transformers.__version__}, sort_keys=True))


if __name__ == "__main__":
    main()
