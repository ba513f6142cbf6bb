#!/usr/bin/env python3
"""Checks that a `bridge export hf` directory loads in Hugging Face transformers and gives the
same logits as `bridge forward` (and, optionally, the same greedy ids as `bridge generate`).

Usage: /tmp/peers/bin/python tools/check_hf_export.py DIR LOGITS.safetensors IDS [GREEDY_IDS N]
  IDS         the comma-separated prompt ids given to `bridge forward --prompt-ids`
  GREEDY_IDS  ids printed by `bridge generate --prompt-ids IDS --max-tokens N` (greedy)
Exit status 0 when everything matches (max abs logit error ≤ 1e-5 of the largest logit).
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, GenerationConfig


def main():
    directory, logits_path, ids = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        ref = model(input_ids=torch.tensor([ids])).logits[0]
    ours = load_file(logits_path)["logits"]
    err = ((ours - ref).abs().max() / ref.abs().max()).item()
    print(f"{type(model).__name__}: logits {tuple(ours.shape)} max |bridge - transformers| / max |logit| = {err:.2e}")
    ok = err <= 1e-5
    if len(sys.argv) > 5:
        expected = [int(x) for x in sys.argv[4].split(",") if x]
        n = int(sys.argv[5])
        cfg = GenerationConfig(max_new_tokens=n, do_sample=False, pad_token_id=0,
                               eos_token_id=model.generation_config.eos_token_id)
        with torch.no_grad():
            got = model.generate(torch.tensor([ids]), generation_config=cfg)[0, len(ids):].tolist()
        print(f"greedy generate: transformers {len(got)} ids, bridge {len(expected)} ids, equal: {got == expected}")
        ok = ok and got == expected
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
