#!/usr/bin/env python3
"""Reference BRIDGE iterations and baselines, from ../shared/ALGORITHM.md, in PyTorch + PEFT (no TRL).

Same tiny Qwen2 as tools/gen_grpo_goldens.py (θ⁰), a PEFT LoRA adapter w (r=4, alpha=8, all seven
projections, A random, B = 0) and the shadow θ̂⁰ = θ⁰. Per iteration k, at the OLD iterates
(simultaneous update), in loss form (minimised):
    gθ_sft, gw_sft   = ∇ L_sft(θᵏ, wᵏ)   on SFT batch k
    gθ_rl,  gw_rl    = ∇ L_rl(θᵏ, wᵏ)    on RL batch k
    gθ̂_rl,  gw_rlhat = ∇ L_rl(θ̂ᵏ, wᵏ)    on RL batch k (shared) or on shadow RL batch k (separate)
    Gθ = (1−λ)·gθ_sft + λ·gθ_rl          Gθ̂ = gθ̂_rl          Gw = (1−λ)·gw_sft + λ·(gw_rl − gw_rlhat)
each of Gθ, Gθ̂, Gw clipped to global norm 1.0 on its own (torch.nn.utils.clip_grad_norm_), then one step of
its own torch.optim.AdamW. L_rl is GRPO with num_iterations = 1 (ρ ≡ 1: old log-probs are the detached
current ones, for the θ pass and for the θ̂ pass separately), loss_type dapo, k3 KL to π_ref = θ⁰ without
adapter (no importance-ratio factor on the KL), log-probs of logits / T. L_sft is the token-mean
cross-entropy of the target tokens at temperature 1. It also runs one iteration of each baseline
(sft, rl-zero, naive mixing, naive alternating, cold-start) from the same start.

It writes, under Tests/TrainingTests/Fixtures/bridge/:
  config.json, model.safetensors                   θ⁰ (the weights of ../grpo and of LanguageModelTests' qwen2)
  adapter_model.safetensors, adapter_config.json   w⁰ (PEFT save_pretrained; B = 0)
  golden.safetensors                               the fixed batches, θ, θ̂, w after every iteration of
                                                   every scenario, some AdamW moments, step-0 gradients,
                                                   the baselines' θ
  golden.json                                      hyper-parameters, schedules, per-iteration losses and
                                                   gradient/update norms, a description of every tensor

Usage: /tmp/peers/bin/python tools/bridge_reference.py [OUT_DIR]
"""
import contextlib
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_grpo_goldens import (LORA, base_name, fill_lora, lora_config, lora_name, make_model,  # noqa: E402
                              save_adapter, save_config)

torch.set_num_threads(1)

STEPS = 3
TEMPERATURE = 0.7
EPSILON = 0.2
BETA_KL = 1e-3
G = 3
NUM_PROMPTS = 2
P, C = 4, 5                       # RL prompt length (same for all prompts) and padded response length
SFT_B, SFT_L, SFT_PROMPT = 2, 8, 3
PAD_ID = 0
ADAMW = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
LR_THETA = 1e-2                   # α, for θ and θ̂
LR_LORA = 5e-2                    # β, for w
CLIP = 1.0
LAMBDA = 0.5
RAMP = (0.2, 0.8)                 # λ_k = λ0 + (λ1 − λ0)·k/(STEPS − 1)
SCENARIOS = {
    "const_shared": dict(schedule="constant", shadow="shared"),
    "ramp_shared": dict(schedule="ramp", shadow="shared"),
    "const_separate": dict(schedule="constant", shadow="separate"),
}


def lam(schedule, k):
    if schedule == "constant":
        return LAMBDA
    return round(RAMP[0] + (RAMP[1] - RAMP[0]) * k / (STEPS - 1), 12)      # 0.2, 0.5, 0.8 (no 0.5000000000000001)


# ---------------------------------------------------------------- fixed batches

def sft_batch(g):
    tokens = torch.randint(1, 64, (SFT_B, SFT_L), generator=g)
    mask = torch.zeros(SFT_B, SFT_L, dtype=torch.long)
    mask[:, SFT_PROMPT:] = 1                     # target tokens: everything after the 3-token prompt
    mask[1, -1] = 0                              # the second sequence is one token shorter (a pad)
    tokens = tokens.masked_fill((mask == 0) & (torch.arange(SFT_L) >= SFT_PROMPT), PAD_ID)
    return {"tokens": tokens, "target_mask": mask}


def rl_batch(g):
    prompts = torch.randint(1, 64, (NUM_PROMPTS, P), generator=g)
    completion_ids = torch.randint(1, 64, (NUM_PROMPTS * G, C), generator=g)
    lengths = torch.randint(2, C + 1, (NUM_PROMPTS * G,), generator=g)
    lengths[0] = C
    mask = (torch.arange(C)[None, :] < lengths[:, None]).long()
    advantages = torch.round(torch.randn(NUM_PROMPTS * G, generator=g) * 100) / 100
    return {"prompt_ids": prompts.repeat_interleave(G, dim=0), "completion_ids": completion_ids.masked_fill(mask == 0, PAD_ID),
            "completion_mask": mask, "advantages": advantages.float()}


def make_batches():
    g = torch.Generator().manual_seed(4321)
    return [{"sft": sft_batch(g), "rl": rl_batch(g), "rl_shadow": rl_batch(g)} for _ in range(STEPS)]


# ---------------------------------------------------------------- losses (ALGORITHM.md)

def completion_logps(model, batch):
    """log π(response token | prefix) from logits / T, [N, C]; padding positions are masked later."""
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    logits = model(input_ids=ids).logits[:, P - 1:-1].float()
    logp = torch.log_softmax(logits / TEMPERATURE, dim=-1)
    return logp.gather(-1, batch["completion_ids"].unsqueeze(-1)).squeeze(-1)


def rl_loss(model, batch):
    """GRPO, num_iterations = 1, loss_type dapo: Σ_tokens(−min(ρA, clip(ρ)A) + β·k3) / number of tokens."""
    logp = completion_logps(model, batch)
    mask = batch["completion_mask"].float()
    ratio = torch.exp(logp - logp.detach())                       # ρ ≡ 1, but carries ∇ log π
    adv = batch["advantages"].unsqueeze(1)
    surrogate = torch.min(ratio * adv, torch.clamp(ratio, 1 - EPSILON, 1 + EPSILON) * adv)
    ref = batch["ref_logps"]
    k3 = torch.exp(ref - logp) - (ref - logp) - 1
    per_token = -surrogate + BETA_KL * k3
    return (per_token * mask).sum() / mask.sum()


def sft_loss(model, batch):
    """Mean over target tokens t (target_mask[b, t] = 1, t ≥ 1) of −log p(tokens[b, t] | tokens[b, <t]), T = 1."""
    tokens = batch["tokens"]
    logits = model(input_ids=tokens).logits[:, :-1].float()
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = batch["target_mask"][:, 1:].float()
    return (nll * mask).sum() / mask.sum()


# ---------------------------------------------------------------- parameter sets on one PEFT model

class Evaluator:
    """One PEFT model; θ (or θ̂) and w are copied into it before each forward/backward."""

    def __init__(self, model):
        self.model = model
        self.base = [(n, base_name(n)) for n, _ in model.named_parameters() if "lora_" not in n]
        self.lora = [(n, lora_name(n)) for n, _ in model.named_parameters() if "lora_" in n]
        self.params = dict(model.named_parameters())
        for p in model.parameters():
            p.requires_grad_(True)

    def grads(self, loss_fn, batch, theta, w):
        """(loss, ∇θ, ∇w) at (θ, w); w None runs the base model alone (adapter disabled, ∇w None)."""
        with torch.no_grad():
            for n, hf in self.base:
                self.params[n].copy_(theta[hf])
            if w is not None:
                for n, pn in self.lora:
                    self.params[n].copy_(w[pn])
        self.model.zero_grad(set_to_none=True)
        with (contextlib.nullcontext() if w is not None else self.model.disable_adapter()):
            loss = loss_fn(self.model, batch)
        loss.backward()
        g_theta = {hf: self.params[n].grad.detach().clone() for n, hf in self.base}
        g_w = None if w is None else {pn: self.params[n].grad.detach().clone() for n, pn in self.lora}
        return loss.item(), g_theta, g_w

    @torch.no_grad()
    def ref_logps(self, batch, theta):
        for n, hf in self.base:
            self.params[n].copy_(theta[hf])
        with self.model.disable_adapter():
            logp = completion_logps(self.model, batch)
        return (logp * batch["completion_mask"]).contiguous()


def as_params(tensors):
    return {k: torch.nn.Parameter(v.detach().clone()) for k, v in tensors.items()}


def values(params):
    return {k: p.detach().clone() for k, p in params.items()}


def adamw(params, lr):
    return torch.optim.AdamW(list(params.values()), lr=lr, foreach=False, **ADAMW)


def step(params, opt, grads):
    """Clip this set's gradients to global norm CLIP, one AdamW step; returns the norm before clipping."""
    for k, p in params.items():
        p.grad = grads[k].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP, foreach=False).item()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return norm


def diff_norm(a, b):
    return torch.sqrt(sum(((a[k] - b[k]).double() ** 2).sum() for k in a)).item()


def small_grads(grads, norm):
    """Elements whose clipped gradient is below 1e-7 (Adam's update there is sensitive to rounding)."""
    scale = min(1.0, CLIP / (norm + 1e-6))
    return int(sum(((g * scale).abs() < 1e-7).sum().item() for g in grads.values()))


def moments(opt, params, prefix, out):
    for k, p in params.items():
        st = opt.state[p]
        out[f"{prefix}.exp_avg.{k}"] = st["exp_avg"].detach().clone().contiguous()
        out[f"{prefix}.exp_avg_sq.{k}"] = st["exp_avg_sq"].detach().clone().contiguous()


# ---------------------------------------------------------------- BRIDGE

def bridge(ev, theta0, w0, batches, schedule, shadow, tensors, prefix, keep_moments, keep_grads):
    theta, theta_hat, w = as_params(theta0), as_params(theta0), as_params(w0)
    opt_theta, opt_hat, opt_w = adamw(theta, LR_THETA), adamw(theta_hat, LR_THETA), adamw(w, LR_LORA)
    log = []
    for k in range(STEPS):
        lk = lam(schedule, k)
        b = batches[k]
        th, thh, ww = values(theta), values(theta_hat), values(w)
        l_sft, gt_sft, gw_sft = ev.grads(sft_loss, b["sft"], th, ww)
        l_rl, gt_rl, gw_rl = ev.grads(rl_loss, b["rl"], th, ww)
        shadow_batch = b["rl"] if shadow == "shared" else b["rl_shadow"]
        l_rlhat, gt_hat, gw_rlhat = ev.grads(rl_loss, shadow_batch, thh, ww)
        gain = {n: gw_rl[n] - gw_rlhat[n] for n in gw_rl}             # ∇ of the cooperative gain (loss form)
        if k == 0 and shadow == "shared":
            assert all(torch.equal(gw_rl[n], gw_rlhat[n]) for n in gw_rl), "θ̂⁰ = θ⁰, shared: gains must cancel"
            assert all(torch.count_nonzero(t) == 0 for t in gain.values())
            assert all(torch.equal(gt_rl[n], gt_hat[n]) for n in gt_rl)
        G_theta = {n: (1 - lk) * gt_sft[n] + lk * gt_rl[n] for n in gt_sft}
        G_w = {n: (1 - lk) * gw_sft[n] + lk * gain[n] for n in gw_sft}
        if keep_grads and k == 0:
            for name, gs in (("grad_theta_sft", gt_sft), ("grad_theta_rl", gt_rl), ("grad_lora_sft", gw_sft),
                             ("grad_lora_rl", gw_rl)):
                for n, t in gs.items():
                    tensors[f"{prefix}.step0.{name}.{n}"] = t.contiguous()
        n_theta = step(theta, opt_theta, G_theta)
        n_hat = step(theta_hat, opt_hat, gt_hat)
        n_w = step(w, opt_w, G_w)
        entry = {"k": k, "lambda": lk, "loss_sft": l_sft, "loss_rl": l_rl, "loss_rl_hat": l_rlhat,
                 "grad_norm_theta": n_theta, "grad_norm_theta_hat": n_hat, "grad_norm_lora": n_w,
                 "clipped": {"theta": n_theta > CLIP, "theta_hat": n_hat > CLIP, "lora": n_w > CLIP},
                 "gain_norm": torch.sqrt(sum((t.double() ** 2).sum() for t in gain.values())).item(),
                 "update_norm_theta": diff_norm(values(theta), th),
                 "update_norm_theta_hat": diff_norm(values(theta_hat), thh),
                 "update_norm_lora": diff_norm(values(w), ww),
                 "distance_from_start": {"theta": diff_norm(values(theta), theta0),
                                         "theta_hat": diff_norm(values(theta_hat), theta0),
                                         "lora": diff_norm(values(w), w0)},
                 "tiny_grad_elements": {"theta": small_grads(G_theta, n_theta),
                                        "theta_hat": small_grads(gt_hat, n_hat),
                                        "lora": small_grads(G_w, n_w)}}
        log.append(entry)
        for name, ps in (("theta", theta), ("theta_hat", theta_hat), ("lora", w)):
            for n, t in values(ps).items():
                tensors[f"{prefix}.step{k + 1}.{name}.{n}"] = t.contiguous()
        print(f"{prefix} k={k} λ={lk:.2f} L_sft {l_sft:.5f} L_rl {l_rl:+.5f} L_rl(θ̂) {l_rlhat:+.5f} | "
              f"|g| θ {n_theta:.3f} θ̂ {n_hat:.3f} w {n_w:.3f} | Δθ {entry['update_norm_theta']:.4f} "
              f"Δθ̂ {entry['update_norm_theta_hat']:.4f} Δw {entry['update_norm_lora']:.4f} "
              f"|gain| {entry['gain_norm']:.2e}")
    sets = (("theta", opt_theta, theta), ("theta_hat", opt_hat, theta_hat), ("lora", opt_w, w)) if keep_moments \
        else (("lora", opt_w, w),)
    for name, opt, ps in sets:
        moments(opt, ps, f"{prefix}.step{STEPS}.adam.{name}", tensors)
    return log


# ---------------------------------------------------------------- baselines

def baselines(ev, theta0, batches, tensors):
    b0, b1 = batches[0], batches[1]
    log = {}

    def one(name, grads_fn):
        theta = as_params(theta0)
        opt = adamw(theta, LR_THETA)
        norm = step(theta, opt, grads_fn())
        v = values(theta)
        log[name] = {"grad_norm": norm, "update_norm": diff_norm(v, theta0)}
        print(f"baseline {name}: |g| {norm:.3f} Δθ {log[name]['update_norm']:.4f}")
        return v, theta, opt

    sft1, _, _ = one("sft", lambda: ev.grads(sft_loss, b0["sft"], theta0, None)[1])
    rl1, _, _ = one("rl_zero", lambda: ev.grads(rl_loss, b0["rl"], theta0, None)[1])

    def mixing():
        _, gs, _ = ev.grads(sft_loss, b0["sft"], theta0, None)
        _, gr, _ = ev.grads(rl_loss, b0["rl"], theta0, None)
        return {n: (1 - LAMBDA) * gs[n] + LAMBDA * gr[n] for n in gs}
    mix1, _, _ = one("naive_mixing", mixing)

    # naive alternating: one RL step, then one SFT step, on θ with the same AdamW (its step count goes 1, 2)
    half, theta, opt = one("naive_alternating_rl_half", lambda: ev.grads(rl_loss, b0["rl"], theta0, None)[1])
    assert all(torch.equal(half[n], rl1[n]) for n in half)
    norm = step(theta, opt, ev.grads(sft_loss, b0["sft"], half, None)[1])
    alt1 = values(theta)
    log["naive_alternating"] = {"grad_norm_rl": log.pop("naive_alternating_rl_half")["grad_norm"],
                                "grad_norm_sft": norm, "update_norm": diff_norm(alt1, theta0)}
    print(f"baseline naive_alternating: Δθ {log['naive_alternating']['update_norm']:.4f}")

    # cold start: iteration 0 is the SFT step (= the sft baseline); iteration 1 is RL-zero from that checkpoint:
    # a fresh AdamW, π_ref = the checkpoint, RL batch 1
    cold_rl = dict(b1["rl"])
    cold_rl["ref_logps"] = ev.ref_logps(cold_rl, sft1)
    tensors["baseline.cold_start.step2.ref_logps"] = cold_rl["ref_logps"]
    theta = as_params(sft1)
    opt = adamw(theta, LR_THETA)
    norm = step(theta, opt, ev.grads(rl_loss, cold_rl, sft1, None)[1])
    cold2 = values(theta)
    log["cold_start"] = {"grad_norm_rl": norm, "update_norm_step2": diff_norm(cold2, sft1),
                         "update_norm": diff_norm(cold2, theta0)}
    print(f"baseline cold_start step 2: |g| {norm:.3f} Δθ {log['cold_start']['update_norm_step2']:.4f}")

    for name, v in (("sft.step1", sft1), ("rl_zero.step1", rl1), ("naive_mixing.step1", mix1),
                    ("naive_alternating.step1", alt1), ("cold_start.step2", cold2)):
        for n, t in v.items():
            tensors[f"baseline.{name}.theta.{n}"] = t.contiguous()
    return log


# ---------------------------------------------------------------- main

def main():
    import peft
    import transformers
    from peft import get_peft_model

    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrainingTests", "Fixtures", "bridge")
    os.makedirs(out, exist_ok=True)

    base = make_model()
    save_config(base, out)
    theta0 = {n: p.detach().clone().contiguous() for n, p in base.named_parameters()}
    save_file(theta0, os.path.join(out, "model.safetensors"))
    model = get_peft_model(base, lora_config())
    fill_lora(model, seed=88, b_scale=0.0)                         # A random, B = 0
    save_adapter(model, out)
    model.train()
    ev = Evaluator(model)
    w0 = {pn: ev.params[n].detach().clone() for n, pn in ev.lora}
    assert all(torch.count_nonzero(w0[pn]) == 0 for pn in w0 if "lora_B" in pn)

    batches = make_batches()
    tensors = {}
    for k, b in enumerate(batches):
        for part in ("rl", "rl_shadow"):
            b[part]["ref_logps"] = ev.ref_logps(b[part], theta0)          # π_ref = θ⁰, no adapter
        for part, fields in (("sft", ("tokens", "target_mask")),
                             ("rl", ("prompt_ids", "completion_ids", "completion_mask", "advantages", "ref_logps")),
                             ("rl_shadow", ("prompt_ids", "completion_ids", "completion_mask", "advantages",
                                            "ref_logps"))):
            for f in fields:
                t = b[part][f]
                tensors[f"batch.{k}.{part}.{f}"] = (t.to(torch.int32) if t.dtype == torch.long else t).contiguous()

    logs = {}
    for name, sc in SCENARIOS.items():
        logs[name] = bridge(ev, theta0, w0, batches, sc["schedule"], sc["shadow"], tensors, name,
                            keep_moments=(name == "const_shared"), keep_grads=(name == "const_shared"))
    base_log = baselines(ev, theta0, batches, tensors)
    # with B = 0 the adapter adds exact zeros: BRIDGE's first θ step at λ = 0.5 is naive mixing's, and the shared
    # shadow's first step is RL-zero's, bit for bit
    for n in theta0:
        assert torch.equal(tensors[f"baseline.naive_mixing.step1.theta.{n}"], tensors[f"const_shared.step1.theta.{n}"])
        assert torch.equal(tensors[f"baseline.rl_zero.step1.theta.{n}"], tensors[f"const_shared.step1.theta_hat.{n}"])

    save_file(tensors, os.path.join(out, "golden.safetensors"))
    n_theta = sum(t.numel() for t in theta0.values())
    n_lora = sum(t.numel() for t in w0.values())
    doc = {
        "source": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "generator": "tools/bridge_reference.py (PyTorch + PEFT from ../shared/ALGORITHM.md; no TRL)",
        "model": {"config": "config.json", "theta0": "model.safetensors (f32, HF names; tied lm_head = "
                  "model.embed_tokens.weight)", "parameters": n_theta,
                  "same_as": "../grpo/model.safetensors and LanguageModelTests/Fixtures/qwen2/model.safetensors"},
        "adapter": {"w0": "adapter_model.safetensors (PEFT save_pretrained names)", "parameters": n_lora,
                    "r": LORA["r"], "lora_alpha": LORA["lora_alpha"], "scaling": LORA["lora_alpha"] / LORA["r"],
                    "target_modules": sorted(LORA["target_modules"]), "dropout": 0.0,
                    "init": "A ~ 0.15·N(0,1) (torch.Generator seed 88), B = 0"},
        "hyper": {
            "steps": STEPS, "temperature": TEMPERATURE, "epsilon": EPSILON, "beta_kl": BETA_KL,
            "kl_estimator": "k3 = exp(ref - logp) - (ref - logp) - 1, no importance-ratio factor",
            "reference_policy": "θ⁰ with the adapter disabled (= θ⁰ + w⁰ since B = 0), log-probs at T; "
                                "stored as batch.<k>.<rl|rl_shadow>.ref_logps",
            "rl_loss": "loss_type dapo, num_iterations 1: per token −min(ρA, clip(ρ,1−ε,1+ε)A) + β_kl·k3 with "
                       "ρ = exp(logp − logp.detach()) ≡ 1; summed over response tokens (completion_mask) and divided "
                       "by their number in the batch; logp = log_softmax(logits / T)[token]",
            "sft_loss": "token mean over target tokens of −log softmax(logits)[token] (T = 1): for t ≥ 1 with "
                        "target_mask[b,t] = 1, token t predicted from positions < t; divided by Σ target_mask[:,1:]",
            "forward": "plain causal forward of prompt ++ response (no attention mask: padding is only at the end)",
            "adamw": {"lr_theta": LR_THETA, "lr_theta_hat": LR_THETA, "lr_lora": LR_LORA,
                      "beta1": ADAMW["betas"][0], "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"],
                      "weight_decay": ADAMW["weight_decay"],
                      "note": "torch.optim.AdamW(foreach=False), one param group: weight decay on every tensor "
                              "(norms, biases, embeddings, LoRA A and B too); three optimizers (θ, θ̂, w)"},
            "clip": {"max_norm": CLIP, "how": "torch.nn.utils.clip_grad_norm_ on each set separately: "
                     "g ← g·min(1, max_norm/(‖g‖₂ + 1e-6)) over all tensors of the set"},
            "update": "simultaneous: all gradients at the old iterates (θᵏ, θ̂ᵏ, wᵏ); "
                      "Gθ = (1−λ)·gθ_sft + λ·gθ_rl; Gθ̂ = gθ̂_rl; Gw = (1−λ)·gw_sft + λ·(gw_rl − gw_rlhat) "
                      "(loss-form gradients, evaluated in that order in f32); then clip, then AdamW",
            "lambda": {"constant": LAMBDA, "ramp": f"λ_k = {RAMP[0]} + ({RAMP[1]} − {RAMP[0]})·k/({STEPS} − 1), "
                       "k = 0, 1, 2 → 0.2, 0.5, 0.8"},
            "shadow": {"shared": "θ̂ pass on RL batch k (the θ pass's responses and advantages), treated as on-policy",
                       "separate": "θ̂ pass on shadow RL batch k (batch.<k>.rl_shadow.*)"},
        },
        "scenarios": {name: dict(sc, log=logs[name]) for name, sc in SCENARIOS.items()},
        "assertions": ["const_shared and ramp_shared, k = 0: gw_rl == gw_rlhat bit for bit (the cooperative-gain "
                       "term is exactly 0, so Gw = (1−λ)·gw_sft) and gθ_rl == gθ̂_rl",
                       "baseline.naive_mixing.step1.theta == const_shared.step1.theta and baseline.rl_zero.step1.theta "
                       "== const_shared.step1.theta_hat bit for bit (B⁰ = 0: the adapter adds exact zeros)"],
        "baselines": {
            "start": "θ⁰, batch 0 (AdamW as above, lr 1e-2, clip 1.0, fresh optimizer); no adapter anywhere",
            "sft": "one AdamW step on ∇L_sft(θ⁰) → baseline.sft.step1.theta.*",
            "rl_zero": "one AdamW step on ∇L_rl(θ⁰) (λ = 1, π_ref = θ⁰) → baseline.rl_zero.step1.theta.*",
            "naive_mixing": "one AdamW step on 0.5·∇L_sft(θ⁰) + 0.5·∇L_rl(θ⁰) → baseline.naive_mixing.step1.theta.*",
            "naive_alternating": "an RL step (gives exactly rl_zero.step1), then an SFT step at that point on SFT batch 0 "
                                 "with the same AdamW (step 2 of its bias correction) → baseline.naive_alternating.step1.theta.*",
            "cold_start": "iteration 0 is the SFT step (= baseline.sft.step1, not stored again); iteration 1 [choice]: "
                          "RL-zero from that checkpoint on RL batch 1 with a fresh AdamW and π_ref = the checkpoint "
                          "(ref log-probs: baseline.cold_start.step2.ref_logps) → baseline.cold_start.step2.theta.*",
            "log": base_log,
        },
        "tensors": {
            "batch.<k>.sft.tokens": f"int32 [{SFT_B}, {SFT_L}] SFT tokens of iteration k (pad id {PAD_ID})",
            "batch.<k>.sft.target_mask": f"int32 [{SFT_B}, {SFT_L}] 1 where the token is an SFT target (never column 0)",
            "batch.<k>.rl.prompt_ids": f"int32 [{NUM_PROMPTS * G}, {P}] row r: prompt r // {G}, response r % {G}",
            "batch.<k>.rl.completion_ids": f"int32 [{NUM_PROMPTS * G}, {C}] responses, pad id {PAD_ID} after the end",
            "batch.<k>.rl.completion_mask": f"int32 [{NUM_PROMPTS * G}, {C}] 1 on response tokens",
            "batch.<k>.rl.advantages": f"f32 [{NUM_PROMPTS * G}] given advantages (one per response)",
            "batch.<k>.rl.ref_logps": f"f32 [{NUM_PROMPTS * G}, {C}] π_ref log-probs at T (θ⁰, no adapter), 0 on padding",
            "batch.<k>.rl_shadow.*": "the same for the θ̂ pass of the separate scenario",
            "<scenario>.step<k>.theta.<HF name>": "f32 θᵏ after k iterations (k = 1..3; θ⁰ = model.safetensors)",
            "<scenario>.step<k>.theta_hat.<HF name>": "f32 θ̂ᵏ (θ̂⁰ = θ⁰)",
            "<scenario>.step<k>.lora.<PEFT name>": "f32 wᵏ (w⁰ = adapter_model.safetensors)",
            "<scenario>.step3.adam.lora.<exp_avg|exp_avg_sq>.<PEFT name>": "f32 AdamW moments of w after 3 steps",
            "const_shared.step3.adam.<theta|theta_hat>.<exp_avg|exp_avg_sq>.<HF name>": "f32 AdamW moments after 3 steps",
            "const_shared.step0.<grad_theta_sft|grad_theta_rl>.<HF name>": "f32 ∇L_sft(θ⁰,w⁰), ∇L_rl(θ⁰,w⁰) w.r.t. θ "
                                                                          "(unclipped, loss form)",
            "const_shared.step0.<grad_lora_sft|grad_lora_rl>.<PEFT name>": "f32 the same w.r.t. w (lora_A grads are 0: B = 0)",
            "baseline.<name>.step<k>.theta.<HF name>": "f32 θ after the baseline's iteration(s), see baselines",
            "baseline.cold_start.step2.ref_logps": f"f32 [{NUM_PROMPTS * G}, {C}] π_ref = SFT checkpoint, on RL batch 1",
        },
        "tolerance_hint": "compare θ, θ̂, w relative to the update norms in the logs (e.g. max-abs error ≤ 1e-4 · "
                          "update norm); tiny_grad_elements counts clipped-gradient elements below 1e-7, where "
                          "Adam's step g/(√v + eps) is sensitive to rounding",
    }
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print("fixture bytes:", total)


if __name__ == "__main__":
    main()
