#!/usr/bin/env bash
# `make demo`: the main job on the built-in default model and task. The real pretrained
# stories260K model (llama2.c format, committed as a test fixture) is trained with BRIDGE on the
# built-in synthetic arithmetic task, stage by stage: each iteration rolls out from θ + w, scores
# the answers, takes π_ref's log-probs, steps θ and the RL-only shadow θ̂ (lower step) and the
# adapter w (upper step). It is graded before and after, and θ is diffed against θ̂.
# (`bridge run` with a pipeline file will drive these same stages.) Store: ./.bridge-demo/store.
# ITERATIONS=N changes the number of BRIDGE iterations (default 60).
set -eu
cd "$(dirname "$0")/.."
B=.build/release/bridge
S=.bridge-demo
N=${ITERATIONS:-60}
rm -rf "$S" && mkdir -p "$S"
export BRIDGE_STORE=$S/store
M=Tests/CheckpointTests/Fixtures/stories260k
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
R="--run demo"

step "1. a store, and the pretrained stories260K model imported into it"
$B init
$B import llama2c $M/stories260K.bin --tokenizer $M/tok512.bin --name stories
$B ckpt show stories | tail -1
step "2. it tells stories, not sums (greedy, 40 tokens)"
$B generate stories --prompt "Once upon a time" --max-tokens 40 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["text"])'
step "3. tokenize the built-in synthetic arithmetic task (SFT examples, RL prompts, held-out problems)"
$B stage tokenize $R --tokenizer stories --data synthetic --kind sft --level 1 --count 1024 | head -1
$B stage tokenize $R --tokenizer stories --data synthetic --kind rl --level 1 --count 1024 | head -1
$B stage tokenize $R --tokenizer stories --data synthetic --kind eval --level 1 --count 64 --split test | head -1
step "4. BRIDGE, $N iterations: λ = 0.5, 8 prompts × 4 rollouts from θ + w, 16 SFT examples, LoRA r = 8 on every projection"
$B stage lora-init $R --base stories --r 8 --lora-alpha 16 --seed 0 | head -1
theta=stories; hat=stories; topt=""; hopt=""; wopt=""
start=$(date +%s)
for k in $(seq 0 $((N - 1))); do
  $B stage rollout $R --policy $theta --adapter runs/demo/lora --prompts runs/demo/data/rl --cursor $((k * 8)) --batch 8 \
    --group-size 4 --max-tokens 48 --temperature 1 --order shuffled --seed 0 --name step >/dev/null 2>&1
  reward=$($B stage score $R --prompts runs/demo/data/rl --responses runs/demo/responses/step --tokenizer stories --json 2>/dev/null \
    | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["metrics"]["reward_mean"])')
  $B stage ref-logprobs $R --reference stories --responses runs/demo/responses/step --prompts runs/demo/data/rl --temperature 1 >/dev/null 2>&1
  lower=$($B stage lower-step $R --theta $theta $topt --theta-hat $hat $hopt --lora runs/demo/lora --sft runs/demo/data/sft \
    --sft-cursor $((k * 16)) --sft-batch 16 --prompts runs/demo/data/rl --responses runs/demo/responses/step --scores runs/demo/scores \
    --ref-logprobs runs/demo/ref_logprobs --lambda 0.5 --lr 2e-3 --temperature 1 --max-completion-length 48 --json 2>/dev/null)
  $B stage upper-step $R --lora runs/demo/lora $wopt --lora-grads runs/demo/lora_grads --lr 1e-2 >/dev/null 2>&1
  theta=runs/demo/theta; hat=runs/demo/theta_hat
  topt="--theta-optimizer runs/demo/theta_optimizer"; hopt="--theta-hat-optimizer runs/demo/theta_hat_optimizer"; wopt="--lora-optimizer runs/demo/lora_optimizer"
  if [ $((k % 5)) = 0 ] || [ $k = $((N - 1)) ]; then
    echo "$lower" | python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; k, r, t = sys.argv[1:4]
print("iteration %3d  reward %s  sft loss %.3f  kl %.4f  |g| θ %.2f θ̂ %.2f w %.2f  (%s s)" % (int(k) + 1, r, m["sft_loss"], m.get("rl_kl", 0),
      m["grad_norm_theta"], m["grad_norm_theta_hat"], m["grad_norm_lora"], t))' \
      "$k" "$reward" "$(( $(date +%s) - start ))"
  fi
done
step "5. greedy answers to the held-out problems, graded (pass@1): the base, θ + w after BRIDGE, and the RL-only shadow θ̂ + w"
$B eval stories --data synthetic --level 1 --count 64 --split test --max-tokens 48 2>/dev/null | sed "s/^/base:     /"
$B eval runs/demo/theta --adapter runs/demo/lora --data synthetic --level 1 --count 64 --split test --max-tokens 48 --out "$S/bridge.jsonl" 2>/dev/null | sed "s/^/θ + w:    /"
$B eval runs/demo/theta_hat --adapter runs/demo/lora --data synthetic --level 1 --count 64 --split test --max-tokens 48 2>/dev/null | sed "s/^/θ̂ + w:    /"
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print("an answer of θ + w:", json.dumps(r["response"]), "(reference", r["answer"] + ")")' "$S/bridge.jsonl"
step "6. θ against its RL-only shadow θ̂, and what the store holds"
$B ckpt diff runs/demo/theta runs/demo/theta_hat | tail -1
$B export lora runs/demo/lora "$S/adapter" && ls "$S/adapter"
$B store stats
$B ckpt verify | tail -1
echo
echo "result: stories260K trained with BRIDGE on synthetic arithmetic for $N iterations; pass@1 of the base, θ + w and θ̂ + w above."
