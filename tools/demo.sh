#!/usr/bin/env bash
# `make demo`: the main job as far as it exists today, on the built-in default model and task:
# the real pretrained stories260K model (llama2.c format, committed as a test fixture) learns
# the built-in synthetic arithmetic task by SFT, is graded, and the store shows what it holds.
# (The BRIDGE pipeline replaces the SFT step here once it lands.) Store: ./.bridge-demo/store.
set -eu
cd "$(dirname "$0")/.."
B=.build/release/bridge
S=.bridge-demo
rm -rf "$S" && mkdir -p "$S"
export BRIDGE_STORE=$S/store
M=Tests/CheckpointTests/Fixtures/stories260k
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. a store, and the pretrained stories260K model imported into it"
$B init
$B import llama2c $M/stories260K.bin --tokenizer $M/tok512.bin --name stories
$B ckpt show stories | tail -1
step "2. it tells stories, not sums (greedy, 40 tokens)"
$B generate stories --prompt "Once upon a time" --max-tokens 40 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["text"])'
step "3. tokenize the built-in synthetic arithmetic task (SFT examples, eval prompts); a rerun is skipped"
$B stage tokenize --run demo --tokenizer stories --data synthetic --kind sft --level 1 --count 1024 | head -1
$B stage tokenize --run demo --tokenizer stories --data synthetic --kind eval --level 1 --count 64 --split test | head -1
$B stage tokenize --run demo --tokenizer stories --data synthetic --kind sft --level 1 --count 1024 | head -1
step "4. supervised fine-tuning, 150 steps of 16 examples"
$B train sft stories --data runs/demo/data/sft --steps 150 --batch 16 --lr 2e-3 --name arith --json \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); l, s = d["losses"], d["seconds"]; print(f"loss {l[0]:.3f} -> {l[-1]:.3f} in {s:.1f} s")'
step "5. greedy answers to 64 held-out problems, graded"
python3 - "$B" <<'PY'
import json, subprocess, sys
b = sys.argv[1]
out = subprocess.run([b, "dataset", "synth", "--level", "1", "--count", "64", "--split", "test"], capture_output=True, text=True, check=True).stdout
rows = []
for line in out.splitlines():
    r = json.loads(line)
    prompt = r["prompt"] + "\nPlease reason step by step, and put your final answer within \\boxed{}.\n"
    for name in ("stories", "arith"):
        g = json.loads(subprocess.run([b, "generate", name, "--prompt", prompt, "--max-tokens", "48", "--json"], capture_output=True, text=True, check=True).stdout)
        rows.append({"model": name, "response": g["text"], "answer": r["answer"]})
for name in ("stories", "arith"):
    with open(f".bridge-demo/{name}.jsonl", "w") as f:
        for row in rows:
            if row["model"] == name:
                f.write(json.dumps({"response": row["response"], "answer": row["answer"]}) + "\n")
example = next(r for r in rows if r["model"] == "arith")
print("example answer of the fine-tuned model:", json.dumps(example["response"]))
PY
for m in stories arith; do
  acc=$($B grade --input $S/$m.jsonl --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')
  echo "$m: pass@1 = $acc"
done
step "6. what the store holds: the two models differ in every tensor but share the tokenizer"
$B ckpt diff stories arith | tail -1
$B store stats
$B ckpt verify | tail -1
echo
echo "result: stories260K fine-tuned on synthetic arithmetic; pass@1 before/after above. Next: the BRIDGE pipeline (RL + SFT)."
