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
step "5. greedy answers to the held-out problems, graded (pass@1 before and after)"
for m in stories arith; do
  $B eval $m --data synthetic --level 1 --count 64 --split test --max-tokens 48 --out "$S/$m.jsonl" 2>/dev/null | sed "s/^/$m: /"
done
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print("example answer of the fine-tuned model:", json.dumps(r["response"]), "(reference", r["answer"] + ")")' "$S/arith.jsonl"
step "6. what the store holds: the two models differ in every tensor but share the tokenizer"
$B ckpt diff stories arith | tail -1
$B store stats
$B ckpt verify | tail -1
echo
echo "result: stories260K fine-tuned on synthetic arithmetic; pass@1 before/after above. Next: the BRIDGE pipeline (RL + SFT)."
