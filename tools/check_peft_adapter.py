#!/usr/bin/env python3
"""Checks bridge's PEFT adapter export against PEFT itself.

Given a base model exported by `bridge export hf BASE DIR`, an adapter exported by
`bridge export lora W DIR`, and the merged export `bridge export hf BASE DIR --adapter W --merge-lora`,
loads the adapter with peft.PeftModel on the base and compares its logits with the merged model's
(transformers): they must agree to float rounding, and the adapter must change the base's logits.

Usage: /tmp/peers/bin/python tools/check_peft_adapter.py BASE_DIR ADAPTER_DIR MERGED_DIR
"""
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def main():
    base_dir, adapter_dir, merged_dir = sys.argv[1:4]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32), adapter_dir)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    vocab = merged.config.vocab_size
    ids = torch.randint(1, vocab, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        with_adapter, folded = model(input_ids=ids).logits, merged(input_ids=ids).logits
        with model.disable_adapter():
            plain = model(input_ids=ids).logits
    scale = with_adapter.abs().max().item()
    diff = (with_adapter - folded).abs().max().item()
    effect = (with_adapter - plain).abs().max().item()
    loaded = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    print(f"PEFT base + adapter vs bridge's merged export: max |diff| {diff:.3g} (logit scale {scale:.3g}); "
          f"the adapter moves logits by up to {effect:.3g}; {loaded} adapter parameters loaded")
    if not (diff <= 1e-5 * max(scale, 1) * 10 and effect > 100 * diff and loaded > 0):
        sys.exit("adapter export check failed")


if __name__ == "__main__":
    main()
