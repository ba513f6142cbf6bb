#!/usr/bin/env python3
"""Golden fixtures for the GRPO loss, from TRL's own GRPOTrainer code (+ transformers + PEFT).

Nothing of the loss is re-implemented here: the loss, the per-token log-probabilities and the
gradients come from `GRPOTrainer._compute_loss` and `GRPOTrainer._get_per_token_logps_and_entropies`
of the installed TRL, called on a real PEFT-wrapped tiny Qwen2 model whose LM head was patched by
TRL's `add_fused_lm_head` (which is where TRL applies the sampling temperature). The trainer is a
bare `GRPOTrainer.__new__` object carrying only the attributes `_compute_loss` reads (listed in
golden.json under "trainer_attributes"), copied from a real `GRPOConfig` the way
`GRPOTrainer.__init__` copies them. The group advantages come from the lines of
`GRPOTrainer._generate_and_score_completions` that compute them, extracted at run time with
`inspect.getsource` and executed as they stand (that method generates text, so it cannot be called
in isolation); the extracted text is stored in golden.json.

It writes, under Tests/TrainingTests/Fixtures/grpo/:
  config.json                 the tiny Qwen2 config (classic checkpoint keys; the weights are those of
                              Tests/LanguageModelTests/Fixtures/qwen2)
  model.safetensors           the f32 base weights θ (Hugging Face names)
  adapter_model.safetensors   the LoRA adapter (PEFT save_pretrained names; A and B both random)
  adapter_config.json         PEFT's own adapter config
  golden.safetensors          inputs, per-token log-probs, and per case the loss and the gradients of
                              every base weight and every LoRA matrix
  golden.json                 cases, settings, versions, and a description of every tensor

Usage: /tmp/peers/bin/python tools/gen_grpo_goldens.py [OUT_DIR]
"""
import collections
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import textwrap

import torch
from safetensors.torch import save_file

torch.set_num_threads(1)

TEMPERATURE = 0.7
EPSILON = 0.2
G = 3                        # generations per prompt
NUM_PROMPTS = 2
P = 4                        # prompt length (all prompts the same length: no left padding)
C = 6                        # padded completion length (= max_completion_length)
COMPLETION_LENGTHS = [6, 4, 5, 3, 6, 2]
PAD_ID = 0
ADVANTAGES = [0.9, -0.6, -0.2, 1.1, -0.4, -0.5]      # both signs; they do not sum to 0, so grpo's loss is not 0
LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
MODEL_CONFIG = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
                    tie_word_embeddings=True, rope_theta=1000.0, use_sliding_window=False)
# rewards for the advantage goldens: 3 prompts x G=4 (an all-equal group, a binary group, a graded group)
ADV_G = 4
ADV_REWARDS = [1.0, 1.0, 1.0, 1.0,
               1.0, 0.0, 0.0, 0.0,
               0.0, 0.5, 1.0, 0.25]


# The same seeded weights as LanguageModelTests/Fixtures/qwen2 (tools/ is on sys.path when run as a script).
from gen_model_goldens import perturb  # noqa: E402


def versions():
    import peft
    import transformers
    import trl
    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "trl": trl.__version__}


def make_model():
    """The tiny random Qwen2 (f32, eval mode is not needed: no dropout anywhere)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    config = Qwen2Config(**MODEL_CONFIG)
    model = Qwen2ForCausalLM(config).float()
    perturb(model)
    return model


def save_config(model, out):
    cfg = json.loads(model.config.to_json_string())
    cfg["architectures"] = [type(model).__name__]
    cfg["dtype"] = "float32"
    params = cfg.pop("rope_parameters")          # the keys of published checkpoints
    cfg["rope_theta"] = params.pop("rope_theta")
    cfg["rope_scaling"] = None if params.get("rope_type") == "default" else params
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg.pop("layer_types", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def lora_config():
    from peft import LoraConfig
    return LoraConfig(**LORA)


def fill_lora(model, seed, b_scale):
    """A ~ N(0, 0.15²) and B ~ N(0, b_scale²) from a fixed generator (b_scale 0 gives PEFT's B = 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_A" in n:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))
            elif "lora_B" in n:
                p.copy_(b_scale * torch.randn(p.shape, generator=g) if b_scale else torch.zeros_like(p))


def lora_name(n):
    """PEFT parameter name -> the name save_pretrained writes."""
    return n.replace(".default", "")


def base_name(n):
    """PEFT parameter name of a base weight -> its Hugging Face name (LoRA-wrapped layers hold theirs in base_layer)."""
    return n.replace("base_model.model.", "", 1).replace(".base_layer.", ".")


def save_adapter(model, out):
    """PEFT's save_pretrained, keeping only adapter_model.safetensors and adapter_config.json (the config
    re-serialised with sorted keys and a sorted target_modules: PEFT writes that set in hash order)."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        shutil.copyfile(os.path.join(tmp, "adapter_model.safetensors"), os.path.join(out, "adapter_model.safetensors"))
        with open(os.path.join(tmp, "adapter_config.json")) as f:
            cfg = json.load(f)
    cfg["target_modules"] = sorted(cfg["target_modules"])
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def make_batch():
    g = torch.Generator().manual_seed(2024)
    prompts = torch.randint(1, 64, (NUM_PROMPTS, P), generator=g)
    prompt_ids = prompts.repeat_interleave(G, dim=0)                       # rows 3i..3i+2 share prompt i
    completion_ids = torch.randint(1, 64, (NUM_PROMPTS * G, C), generator=g)
    completion_mask = torch.zeros(NUM_PROMPTS * G, C, dtype=torch.long)
    for i, n in enumerate(COMPLETION_LENGTHS):
        completion_mask[i, :n] = 1
    completion_ids = completion_ids.masked_fill(completion_mask == 0, PAD_ID)
    prompt_mask = torch.ones_like(prompt_ids, dtype=torch.long)
    return prompt_ids, prompt_mask, completion_ids, completion_mask


def clip_deltas(mask):
    """log(π/π_old) per token for the off-policy cases: |δ| in [0, 0.12] (inside the clip range, ln 1.2 = 0.182,
    ln 0.8 = -0.223) or in [0.28, 0.5] (outside it), so no ratio sits within 0.02 of a clip boundary."""
    g = torch.Generator().manual_seed(31)
    u = torch.rand(mask.shape, generator=g)
    far = torch.rand(mask.shape, generator=g) < 0.5
    sign = torch.where(torch.rand(mask.shape, generator=g) < 0.5, -1.0, 1.0)
    mag = torch.where(far, 0.28 + 0.22 * u, 0.12 * u)
    return (sign * mag) * mask


# ---------------------------------------------------------------- the trainer object _compute_loss runs on

TRAINER_ATTRIBUTES = {
    # attribute: how GRPOTrainer.__init__ sets it (trl 1.16 grpo_trainer.py), read by _compute_loss or the
    # methods it calls (_get_per_token_logps_and_entropies, the metrics code at its end)
    "args": "the GRPOConfig (read: args.use_bias_correction_kl, args.delta, args.steps_per_generation)",
    "accelerator": "accelerate.Accelerator(cpu=True): autocast() (a no-op in f32), num_processes=1, gather/reduce for metrics",
    "model": "the PEFT model (only model.training is read: 'train' mode)",
    "aux_loss_enabled": "False (no MoE router)",
    "top_entropy_quantile": "args.top_entropy_quantile",
    "off_policy_mask_threshold": "args.off_policy_mask_threshold",
    "importance_sampling_level": "args.importance_sampling_level",
    "beta": "args.beta",
    "loss_type": "args.loss_type",
    "epsilon_low": "args.epsilon",
    "epsilon_high": "args.epsilon_high if not None else args.epsilon",
    "use_vllm": "args.use_vllm",
    "vllm_importance_sampling_correction": "args.vllm_importance_sampling_correction",
    "max_completion_length": "args.max_completion_length",
    "current_gradient_accumulation_steps": "1 (set by Trainer's training loop to the accumulation window)",
    "entropy_coef": "args.entropy_coef",
    "use_adaptive_entropy": "args.use_adaptive_entropy",
    "_entropy_bonus_enabled": "entropy_coef != 0 or use_adaptive_entropy",
    "_metrics": "{'train': defaultdict(list), 'eval': defaultdict(list)} (clip fractions are read back from it)",
}

# GRPOConfig settings: the defaults that make the loss the standard clipped GRPO one (set explicitly)
STANDARD_SETTINGS = dict(
    epsilon=EPSILON, epsilon_high=None, delta=None, importance_sampling_level="token", top_entropy_quantile=1.0,
    off_policy_mask_threshold=None, use_vllm=False, entropy_coef=0.0, use_adaptive_entropy=False,
    mask_truncated_completions=False, cast_lm_head_to_fp32=False, multi_objective_aggregation="sum_then_normalize",
)


def grpo_config(tmp, **kw):
    from trl import GRPOConfig
    settings = dict(STANDARD_SETTINGS, use_bias_correction_kl=False)
    settings.update(kw)
    return GRPOConfig(output_dir=tmp, use_cpu=True, report_to="none", per_device_train_batch_size=NUM_PROMPTS * G,
                      num_generations=G, steps_per_generation=1, gradient_accumulation_steps=1,
                      max_completion_length=C, temperature=TEMPERATURE, seed=0, **settings)


def make_trainer(args, model):
    """A GRPOTrainer carrying only what _compute_loss reads. The Accelerator is made after the GRPOConfig
    (making a TrainingArguments resets accelerate's shared state)."""
    import accelerate
    from trl import GRPOTrainer
    t = GRPOTrainer.__new__(GRPOTrainer)
    t.args = args
    t.accelerator = accelerate.Accelerator(cpu=True)
    t.model = model
    t.aux_loss_enabled = False
    t.top_entropy_quantile = args.top_entropy_quantile
    t.off_policy_mask_threshold = args.off_policy_mask_threshold
    t.importance_sampling_level = args.importance_sampling_level
    t.beta = args.beta
    t.loss_type = args.loss_type
    t.epsilon_low = args.epsilon
    t.epsilon_high = args.epsilon_high if args.epsilon_high is not None else args.epsilon
    t.use_vllm = args.use_vllm
    t.vllm_importance_sampling_correction = args.vllm_importance_sampling_correction
    t.max_completion_length = args.max_completion_length
    t.current_gradient_accumulation_steps = 1
    t.entropy_coef = args.entropy_coef
    t.use_adaptive_entropy = args.use_adaptive_entropy
    t._entropy_bonus_enabled = t.entropy_coef != 0.0 or t.use_adaptive_entropy
    t._metrics = {"train": collections.defaultdict(list), "eval": collections.defaultdict(list)}
    assert set(TRAINER_ATTRIBUTES) == set(vars(t)), set(vars(t)) ^ set(TRAINER_ATTRIBUTES)
    return t


# ---------------------------------------------------------------- advantages, with TRL's own lines

def advantage_source():
    """The lines of GRPOTrainer._generate_and_score_completions from the unscorable mask to the NaN cleanup."""
    from trl import GRPOTrainer
    src = textwrap.dedent(inspect.getsource(GRPOTrainer._generate_and_score_completions))
    lines = src.splitlines()
    start = next(i for i, l in enumerate(lines) if "unscorable_mask = torch.isnan(rewards_per_func)" in l)
    end = next(i for i, l in enumerate(lines) if "advantages = torch.nan_to_num(advantages, nan=0.0)" in l)
    return textwrap.dedent("\n".join(lines[start:end + 1])) + "\n"


def trl_advantages(source, rewards, num_generations, scale_rewards, aggregation):
    from trl.trainer.utils import nanstd
    stub = type("TrainerStub", (), {})()
    stub.reward_weights = torch.ones(1, dtype=torch.float32)        # one reward function, weight 1
    stub.reward_funcs = [None]
    stub.scale_rewards = scale_rewards
    stub.multi_objective_aggregation = aggregation
    scope = {"self": stub, "torch": torch, "nanstd": nanstd, "device": torch.device("cpu"),
             "num_generations": num_generations, "rewards_per_func": rewards.reshape(-1, 1).clone()}
    exec(compile(source, "<trl GRPOTrainer._generate_and_score_completions, advantage lines>", "exec"), scope)
    return scope["advantages"], scope["std_rewards"]


# ---------------------------------------------------------------- main

def main():
    from peft import get_peft_model
    from trl.trainer.utils import add_fused_lm_head, use_adapter

    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrainingTests", "Fixtures", "grpo")
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp()

    base = make_model()
    save_config(base, out)
    save_file({n: p.detach().clone().contiguous() for n, p in base.named_parameters()},
              os.path.join(out, "model.safetensors"))

    # as GRPOTrainer.__init__: the fused LM head (log-probs of logits / T) is added to the base model
    add_fused_lm_head(base, temperature=TEMPERATURE, cast_lm_head_to_fp32=False, outputs=("log_probs", "entropy"))
    model = get_peft_model(base, lora_config())
    fill_lora(model, seed=77, b_scale=0.1)
    save_adapter(model, out)
    for p in model.parameters():          # base weights unfrozen: base and LoRA grads from one backward
        p.requires_grad_(True)
    model.train()
    base_names = {n: base_name(n) for n, _ in model.named_parameters() if "lora_" not in n}
    lora_names = {n: lora_name(n) for n, _ in model.named_parameters() if "lora_" in n}
    from safetensors.torch import load_file
    saved_adapter = load_file(os.path.join(out, "adapter_model.safetensors"))
    assert set(saved_adapter) == set(lora_names.values()), "PEFT names differ from save_pretrained's"
    assert set(base_names.values()) == set(load_file(os.path.join(out, "model.safetensors"))), "HF names"

    prompt_ids, prompt_mask, completion_ids, completion_mask = make_batch()
    advantages = torch.tensor(ADVANTAGES, dtype=torch.float32)
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
    probe = make_trainer(grpo_config(tmp), model)
    with torch.no_grad():
        per_token_logps, entropies, _ = probe._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, C, compute_entropy=True)
        # TRL's reference for a PEFT policy: the same model with the adapter disabled
        with use_adapter(model, adapter_name=None):
            ref_per_token_logps, _, _ = probe._get_per_token_logps_and_entropies(model, input_ids, attention_mask, C)
        # sanity check (not the golden): TRL's log-probs are log_softmax(logits / T) of the model's own forward
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, P - 1:-1]
        plain = torch.log_softmax(logits / TEMPERATURE, -1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)
        assert torch.allclose(plain * completion_mask, per_token_logps, atol=1e-5), "temperature placement"
    deltas = clip_deltas(completion_mask)
    old_per_token_logps = (per_token_logps - deltas).contiguous()
    num_items_in_batch = probe.accelerator.gather(completion_mask.sum()).sum()     # as _generate_and_score_completions

    cases = []
    for loss_type in ("grpo", "bnpo", "dapo", "dr_grpo"):
        for beta in (0.0, 0.04):
            cases.append(dict(name=f"{loss_type}_beta{beta:g}", loss_type=loss_type, beta=beta, num_iterations=1,
                              use_bias_correction_kl=False))
    for loss_type in ("grpo", "bnpo", "dapo", "dr_grpo"):
        cases.append(dict(name=f"{loss_type}_beta0.04_clip", loss_type=loss_type, beta=0.04, num_iterations=2,
                          use_bias_correction_kl=False))
    # TRL 1.16's default: the KL term multiplied by the (differentiable) importance ratio
    cases.append(dict(name="dapo_beta0.04_biaskl", loss_type="dapo", beta=0.04, num_iterations=1,
                      use_bias_correction_kl=True))
    cases.append(dict(name="dapo_beta0.04_clip_biaskl", loss_type="dapo", beta=0.04, num_iterations=2,
                      use_bias_correction_kl=True))

    tensors = {
        "prompt_ids": prompt_ids.to(torch.int32), "completion_ids": completion_ids.to(torch.int32),
        "completion_mask": completion_mask.to(torch.int32), "advantages": advantages,
        "per_token_logps": per_token_logps.contiguous(), "ref_per_token_logps": ref_per_token_logps.contiguous(),
        "old_per_token_logps": old_per_token_logps, "entropies": entropies.contiguous(),
    }
    params = dict(model.named_parameters())
    for case in cases:
        args = grpo_config(tmp, loss_type=case["loss_type"], beta=case["beta"],
                           num_iterations=case["num_iterations"], use_bias_correction_kl=case["use_bias_correction_kl"])
        trainer = make_trainer(args, model)
        inputs = {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
                  "completion_mask": completion_mask, "advantages": advantages,
                  "num_items_in_batch": num_items_in_batch}
        if case["beta"] != 0.0:
            inputs["ref_per_token_logps"] = ref_per_token_logps
        if case["num_iterations"] > 1:     # TRL computes old log-probs only then; else it uses per_token_logps.detach()
            inputs["old_per_token_logps"] = old_per_token_logps
        model.zero_grad(set_to_none=True)
        loss = trainer._compute_loss(model, inputs)
        loss.backward()
        m = trainer._metrics["train"]
        case["loss"] = loss.item()
        case["clip_ratio_low_mean"] = m["clip_ratio/low_mean"][-1]
        case["clip_ratio_high_mean"] = m["clip_ratio/high_mean"][-1]
        case["clip_ratio_region_mean"] = m["clip_ratio/region_mean"][-1]
        if "kl" in m:
            case["kl_mean"] = m["kl"][-1]
        if case["num_iterations"] > 1:
            assert case["clip_ratio_low_mean"] > 0 and case["clip_ratio_high_mean"] > 0, case
        else:
            assert case["clip_ratio_region_mean"] == 0, case
        tensors[f"case.{case['name']}.loss"] = loss.detach().reshape(()).clone()
        for n, hf in base_names.items():
            tensors[f"case.{case['name']}.grad.{hf}"] = params[n].grad.detach().clone().contiguous()
        for n, pn in lora_names.items():
            g = params[n].grad
            assert g is not None and g.abs().max() > 0, n
            tensors[f"case.{case['name']}.grad.{pn}"] = g.detach().clone().contiguous()
        print(f"{case['name']:28s} loss {case['loss']:+.6f}  clip low {case['clip_ratio_low_mean']:.3f} "
              f"high {case['clip_ratio_high_mean']:.3f}")
        case["settings"] = {k: getattr(args, k) for k in (
            "loss_type", "beta", "num_iterations", "use_bias_correction_kl", "temperature", "epsilon", "epsilon_high",
            "delta", "importance_sampling_level", "top_entropy_quantile", "off_policy_mask_threshold", "use_vllm",
            "vllm_importance_sampling_correction", "entropy_coef", "use_adaptive_entropy",
            "max_completion_length", "num_generations", "steps_per_generation", "gradient_accumulation_steps",
            "per_device_train_batch_size", "mask_truncated_completions", "cast_lm_head_to_fp32")}

    # advantages with TRL's own lines
    source = advantage_source()
    rewards = torch.tensor(ADV_REWARDS, dtype=torch.float32)
    adv_cases = []
    for scale in ("group", "batch", "none"):
        a, std = trl_advantages(source, rewards, ADV_G, scale, "sum_then_normalize")
        tensors[f"adv.{scale}"] = a.contiguous()
        adv_cases.append({"name": f"adv.{scale}", "scale_rewards": scale, "multi_objective_aggregation":
                          "sum_then_normalize", "advantages": a.tolist(), "std_rewards": std.tolist()})
    a, std = trl_advantages(source, rewards, ADV_G, "group", "normalize_then_sum")
    tensors["adv.normalize_then_sum"] = a.contiguous()
    adv_cases.append({"name": "adv.normalize_then_sum", "scale_rewards": "(ignored)", "multi_objective_aggregation":
                      "normalize_then_sum", "advantages": a.tolist(), "std_rewards": std.tolist()})
    tensors["adv.rewards"] = rewards
    # population or sample std? group 2 = [1, 0, 0, 0]: sample std 0.5, population std 0.4330
    group_std = adv_cases[0]["std_rewards"][4]
    std_kind = "sample (n-1, Bessel)" if abs(group_std - 0.5) < 1e-6 else "population (n)"
    assert abs(group_std - 0.5) < 1e-6 or abs(group_std - 0.4330127) < 1e-6
    print("advantages (group):", [round(x, 5) for x in adv_cases[0]["advantages"]], "std:", std_kind)

    save_file(tensors, os.path.join(out, "golden.safetensors"))
    shutil.rmtree(tmp, ignore_errors=True)

    base_shapes = {hf: list(params[n].shape) for n, hf in base_names.items()}
    lora_shapes = {pn: list(params[n].shape) for n, pn in lora_names.items()}
    doc = {
        "source": versions(),
        "generator": "tools/gen_grpo_goldens.py",
        "how": "loss and gradients from trl GRPOTrainer._compute_loss (which calls _get_per_token_logps_and_entropies) "
               "on a GRPOTrainer.__new__ object; one backward per case with requires_grad on every base weight and "
               "every LoRA matrix; the model's LM head patched by trl.trainer.utils.add_fused_lm_head(temperature=T) "
               "as GRPOTrainer.__init__ does (TRL applies the temperature there: log_softmax(logits * (1/T)))",
        "trainer_attributes": TRAINER_ATTRIBUTES,
        "standard_settings": dict(STANDARD_SETTINGS, use_bias_correction_kl=False),
        "model": {"config": "config.json", "weights": "model.safetensors (f32, HF names; the tied lm_head is "
                  "model.embed_tokens.weight)", "same_as": "Tests/LanguageModelTests/Fixtures/qwen2/model.safetensors",
                  "mode": "train() (no dropout exists: attention_dropout 0, lora_dropout 0)"},
        "adapter": {"files": ["adapter_model.safetensors", "adapter_config.json"], "r": LORA["r"],
                    "lora_alpha": LORA["lora_alpha"], "scaling": LORA["lora_alpha"] / LORA["r"],
                    "target_modules": sorted(LORA["target_modules"]),
                    "init": "A ~ 0.15·N(0,1), B ~ 0.1·N(0,1) (torch.Generator seed 77, in named_parameters order); "
                            "W_eff = W + (alpha/r)·B·A"},
        "batch": {"num_prompts": NUM_PROMPTS, "num_generations": G, "prompt_length": P, "completion_length": C,
                  "completion_lengths": COMPLETION_LENGTHS, "pad_token_id": PAD_ID,
                  "layout": "row r = prompt r // G, generation r % G; input = prompt_ids ++ completion_ids, "
                            "attention_mask = ones(P) ++ completion_mask (right padding only, so positions are 0..P+C-1)",
                  "prompt_ids": prompt_ids.tolist(), "completion_ids": completion_ids.tolist(),
                  "completion_mask": completion_mask.tolist(), "advantages": ADVANTAGES,
                  "num_items_in_batch": int(num_items_in_batch)},
        "temperature": TEMPERATURE,
        "epsilon": EPSILON,
        "trl_semantics": {
            "temperature": "applied inside the fused LM head: log_softmax(logits * (1/T)), for the policy and the "
                           "reference alike; per-token log-probs are 0 on padding (labels -100)",
            "ratio": "ρ = exp(logp - old); old = logp.detach() when inputs carry no old_per_token_logps "
                     "(num_iterations = 1 with steps_per_generation <= gradient_accumulation_steps)",
            "per_token_loss": "-min(ρ·A, clamp(ρ, 1-ε_low, 1+ε_high)·A) + β·k3, k3 = exp(ref-logp) - (ref-logp) - 1",
            "use_bias_correction_kl": "TRL 1.16 DEFAULTS TO True: k3 is multiplied by ρ (not detached), so even on-policy "
                                      "the KL gradient coefficient per token becomes β·(logp - ref) instead of "
                                      "β·(1 - exp(ref - logp)); the main cases set it False (ALGORITHM.md's formula); "
                                      "the *_biaskl cases keep TRL's default",
            "grpo": "mean over sequences of (Σ_t loss·mask / Σ_t mask)",
            "bnpo": "Σ loss·mask / Σ mask over the local batch (here = dapo)",
            "dapo": "Σ loss·mask / num_items_in_batch (the completion tokens of the whole generation batch, gathered), "
                    "× grad_accum / steps_per_generation, / num_processes (here: / 26)",
            "dr_grpo": "Σ loss·mask / (number of sequences × max_completion_length) (here: / (6 × 6))",
            "advantages": "rewards − group mean, divided by (std + 1e-4) with the SAMPLE std (Bessel, n−1, TRL's nanstd); "
                          "scale_rewards=batch subtracts the GROUP mean but divides by the std of the whole batch; "
                          "none: no division; an all-equal group gets 0",
        },
        "cases": cases,
        "advantages": {
            "rewards": ADV_REWARDS, "num_generations": ADV_G,
            "how": "extracted at run time with inspect.getsource from trl GRPOTrainer._generate_and_score_completions "
                   "(the lines below, executed as they stand with one reward function of weight 1)",
            "trl_source": source, "trl_source_sha256": hashlib.sha256(source.encode()).hexdigest(),
            "std": std_kind, "std_epsilon": 1e-4,
            "cases": adv_cases,
        },
        "tensors": {
            "prompt_ids": f"int32 [{NUM_PROMPTS * G}, {P}] prompt token ids, each prompt repeated G times",
            "completion_ids": f"int32 [{NUM_PROMPTS * G}, {C}] completion token ids, pad id {PAD_ID} after the end",
            "completion_mask": f"int32 [{NUM_PROMPTS * G}, {C}] 1 on completion tokens, 0 on padding",
            "advantages": f"f32 [{NUM_PROMPTS * G}] one advantage per sequence (broadcast to its tokens)",
            "per_token_logps": f"f32 [{NUM_PROMPTS * G}, {C}] log π(completion token | prefix) at temperature T "
                               "with the adapter on (log_softmax(logits/T)); 0 on padding",
            "ref_per_token_logps": f"f32 [{NUM_PROMPTS * G}, {C}] the same with the adapter disabled (TRL's reference "
                                   "for a PEFT policy); 0 on padding; input of the beta>0 cases",
            "old_per_token_logps": f"f32 [{NUM_PROMPTS * G}, {C}] per_token_logps - delta, delta in ±[0,0.12] or "
                                   "±[0.28,0.5]; input of the *_clip cases (num_iterations=2); 0 on padding",
            "entropies": f"f32 [{NUM_PROMPTS * G}, {C}] per-token entropy at T (TRL's, for reference); 0 on padding",
            "case.<name>.loss": "f32 scalar, the value _compute_loss returned",
            "case.<name>.grad.<HF name>": "f32, d loss / d base weight, shapes as model.safetensors",
            "case.<name>.grad.<PEFT name>": "f32, d loss / d LoRA matrix, shapes as adapter_model.safetensors "
                                            "(lora_A [r, in], lora_B [out, r])",
            "adv.rewards": f"f32 [{len(ADV_REWARDS)}] rewards, 3 prompts x G={ADV_G}",
            "adv.group|adv.batch|adv.none": "f32 [12] TRL's advantages for scale_rewards group|batch|none",
            "adv.normalize_then_sum": "f32 [12] multi_objective_aggregation=normalize_then_sum (one reward function)",
        },
        "shapes": {"base": base_shapes, "lora": lora_shapes},
    }
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(doc, f, indent=1)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print("fixture bytes:", total)


if __name__ == "__main__":
    main()
