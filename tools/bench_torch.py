#!/usr/bin/env python3
"""PyTorch + transformers side of `bridge bench train` / `bridge bench generate`, same flags.

  train:    Qwen2ForCausalLM on batch×seq random tokens, labels = input_ids (next-token loss),
            forward + backward + torch.optim.AdamW step; tokens/s = batch·seq / median step time.
  generate: prompts of seq random tokens, then model.generate(max_new_tokens=N, do_sample=True,
            temperature=1, top_k=0, top_p=1) with the KV cache; tokens/s = batch·N / median time.

Usage: /tmp/peers/bin/python tools/bench_torch.py {train,generate} [--hidden 256 --layers 4 --heads 4
       --kv-heads 2 --intermediate 704 --vocab 4096 --batch 8 --seq 128 --new-tokens 64
       --threads 2 --steps 5 --warmup 1 --json]
"""
import argparse
import json
import os
import statistics
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "generate"])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=704)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(a.seed)
    config = Qwen2Config(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                         num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                         max_position_embeddings=a.seq + a.new_tokens, tie_word_embeddings=False, use_sliding_window=False)
    model = Qwen2ForCausalLM(config).float()
    params = sum(p.numel() for p in model.parameters())
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq))
    times = []
    if a.mode == "train":
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for i in range(a.warmup + a.steps):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = model(input_ids=tokens, labels=tokens).loss
            loss.backward()
            opt.step()
            if i >= a.warmup:
                times.append(time.perf_counter() - start)
        t = statistics.median(times)
        out = {"tokens_per_s": a.batch * a.seq / t, "step_ms": t * 1000, "loss": loss.item()}
        text = f"torch train: {out['tokens_per_s']:.0f} tokens/s, {t * 1000:.1f} ms/step"
    else:
        model.eval()
        cfg = GenerationConfig(max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=True, temperature=1.0,
                               top_k=0, top_p=1.0, pad_token_id=0, eos_token_id=None)
        with torch.no_grad():
            for i in range(a.warmup + a.steps):
                start = time.perf_counter()
                generated = model.generate(tokens, attention_mask=torch.ones_like(tokens), generation_config=cfg)
                if i >= a.warmup:
                    times.append(time.perf_counter() - start)
        t = statistics.median(times)
        produced = (generated.shape[1] - a.seq) * a.batch
        out = {"tokens_per_s": produced / t, "seconds": t, "new_tokens": produced}
        text = f"torch generate: {out['tokens_per_s']:.0f} new tokens/s ({produced} tokens in {t:.3f} s)"
    out.update({"threads": a.threads, "parameters": params, "torch": torch.__version__,
                "transformers": __import__("transformers").__version__})
    print(json.dumps(out, sort_keys=True) if a.json else text + f", {a.threads} threads, {params} parameters")


if __name__ == "__main__":
    main()
