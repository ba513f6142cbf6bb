#!/usr/bin/env python3
"""Golden fixtures for the LanguageModel tests, from PyTorch + transformers (+ peft).

For tiny random Qwen2 (tied embeddings, q/k/v biases, classic config keys), Llama (llama3 rope
scaling, transformers-5 config keys) and Qwen3 (q/k norm, head_dim 12 != hidden/heads) models it
writes, under Tests/LanguageModelTests/Fixtures/<family>/:
  config.json          the model config (as a checkpoint would carry it)
  model.safetensors    the f32 weights (Hugging Face names)
  golden.safetensors   logits [B*T, V]; grad.<name> for every parameter; after3.<name> weights
                       after 3 AdamW steps (with grad-norm clipping) on the same batch
  golden.json          tokens, targets, loss, per-step losses, AdamW hyper-parameters, and a
                       greedy generate() prompt with the ids transformers produced
and a LoRA fixture (PEFT) for the Qwen2 model under Fixtures/lora/, and the Llama model saved by
save_pretrained in shards under Tests/CheckpointTests/Fixtures/hf-sharded-llama/.

Usage: /tmp/peers/bin/python tools/gen_model_goldens.py [OUT_DIR]
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "Tests", "LanguageModelTests", "Fixtures")
torch.manual_seed(0)
torch.set_num_threads(1)

B, T = 2, 7
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
CLIP = 1.0


def perturb(model, scale=0.15):
    """Random weights with visible structure: N(0, scale) matrices, norms 1 + N(0, 0.1), biases N(0, 0.1)."""
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(scale * noise)


def batch(vocab):
    g = torch.Generator().manual_seed(99)
    tokens = torch.randint(0, vocab, (B, T), generator=g)
    targets = torch.full((B, T), -100, dtype=torch.long)
    targets[:, :-1] = tokens[:, 1:]
    targets[1, :2] = -100            # a masked prompt in the second sequence
    return tokens, targets


def loss_of(logits, targets):
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                             ignore_index=-100)


def family(name, config_cls, model_cls, config_kwargs, classic_config=False):
    from transformers import GenerationConfig
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    config = config_cls(**config_kwargs)
    model = model_cls(config).float()
    perturb(model)
    model.eval()   # no dropout; gradients still flow
    initial = __import__("copy").deepcopy(model)
    tokens, targets = batch(config.vocab_size)

    model.zero_grad()
    logits = model(input_ids=tokens).logits
    loss = loss_of(logits, targets)
    loss.backward()
    grads = {f"grad.{n}": p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}
    weights = {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}

    # greedy generation from a short prompt
    prompt = tokens[0, :4].unsqueeze(0)
    gen_cfg = GenerationConfig(max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0)
    with torch.no_grad():
        generated = model.generate(prompt, generation_config=gen_cfg)[0, 4:].tolist()

    # 3 AdamW steps with grad-norm clipping on the same batch
    opt = torch.optim.AdamW(model.parameters(), foreach=False, **ADAMW)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        step_loss = loss_of(model(input_ids=tokens).logits, targets)
        step_loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        losses.append(step_loss.item())
    after = {f"after3.{n}": p.detach().clone().contiguous() for n, p in model.named_parameters()}

    save_file(weights, os.path.join(out, "model.safetensors"))
    save_file({"logits": logits.detach().reshape(B * T, -1).contiguous(), **grads, **after},
              os.path.join(out, "golden.safetensors"))
    cfg = json.loads(config.to_json_string())
    cfg["architectures"] = [model_cls.__name__]
    cfg["dtype"] = "float32"
    if classic_config:      # the keys of published checkpoints
        params = cfg.pop("rope_parameters")
        cfg["rope_theta"] = params.pop("rope_theta")
        cfg["rope_scaling"] = None if params.get("rope_type") == "default" else params
        cfg["torch_dtype"] = cfg.pop("dtype")
        cfg.pop("layer_types", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump({"batch": B, "time": T, "tokens": tokens.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
                   "loss": loss.item(), "step_losses": losses,
                   "adamw": {"lr": ADAMW["lr"], "beta1": ADAMW["betas"][0], "beta2": ADAMW["betas"][1],
                             "eps": ADAMW["eps"], "weight_decay": ADAMW["weight_decay"], "clip": CLIP},
                   "generate": {"prompt": prompt[0].tolist(), "ids": generated},
                   "source": f"torch {torch.__version__}, transformers {__import__('transformers').__version__}"},
                  f, indent=1)
    print(name, "loss", loss.item(), "params", sum(p.numel() for p in model.parameters()))
    return initial, config, tokens, targets


def lora_fixture(base, tokens, targets):
    import copy
    from peft import LoraConfig, get_peft_model
    out = os.path.join(OUT, "lora")
    os.makedirs(out, exist_ok=True)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(copy.deepcopy(base), cfg)
    # B random as well, so that the A gradients are not zero
    g = torch.Generator().manual_seed(77)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    model.zero_grad()
    logits = model(input_ids=tokens).logits
    loss = loss_of(logits, targets)
    loss.backward()
    adapter, grads = {}, {}
    for n, p in model.named_parameters():
        if "lora_" in n:
            clean = n.replace(".default", "")
            adapter[clean] = p.detach().clone().contiguous()
            grads[f"grad.{clean}"] = p.grad.detach().clone().contiguous()
    base_grads = {f"grad.{n.replace('base_model.model.', '')}": p.grad.detach().clone().contiguous()
                  for n, p in model.named_parameters() if p.grad is not None and "lora_" not in n}
    save_file(adapter, os.path.join(out, "adapter_model.safetensors"))
    save_file({"logits": logits.detach().reshape(B * T, -1).contiguous(), **grads},
              os.path.join(out, "golden.safetensors"))
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump({"r": cfg.r, "lora_alpha": cfg.lora_alpha, "target_modules": sorted(cfg.target_modules),
                   "peft_type": "LORA", "base_model": "qwen2 fixture"}, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump({"loss": loss.item(), "base_grads_are_none": len(base_grads) == 0,
                   "source": f"peft {__import__('peft').__version__}"}, f, indent=1)
    print("lora loss", loss.item())


def main():
    from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                              Qwen3ForCausalLM)
    common = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6)
    qwen2, _, tokens, targets = family(
        "qwen2", Qwen2Config, Qwen2ForCausalLM,
        dict(common, tie_word_embeddings=True, rope_theta=1000.0, use_sliding_window=False), classic_config=True)
    llama, _, _, _ = family("llama", LlamaConfig, LlamaForCausalLM,
           dict(common, tie_word_embeddings=False, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2,
                rope_parameters=dict(rope_type="llama3", rope_theta=10000.0, factor=4.0, low_freq_factor=1.0,
                                     high_freq_factor=4.0, original_max_position_embeddings=16)))
    family("qwen3", Qwen3Config, Qwen3ForCausalLM,
           dict(common, head_dim=12, tie_word_embeddings=False, rope_theta=10000.0))
    lora_fixture(qwen2, tokens, targets)
    # a sharded save_pretrained directory of the llama fixture (for `bridge import hf`)
    sharded = os.path.join(OUT, "..", "..", "CheckpointTests", "Fixtures", "hf-sharded-llama")
    llama.save_pretrained(sharded, max_shard_size="40KB")
    print("sharded:", sorted(os.listdir(sharded)))


if __name__ == "__main__":
    main()
