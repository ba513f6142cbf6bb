#!/usr/bin/env bash
# `make demo`: the main job on the built-in default model and task — `bridge run
# pipelines/quickstart.yaml`: the built-in base (pipelines/models/arith-base, a small Qwen2-style
# model bridge pretrained on arithmetic text) trained with BRIDGE on the built-in synthetic
# arithmetic task (each step: rollouts from θ + w, scores, π_ref's log-probs, the lower step on θ
# and its RL-only shadow θ̂, the upper step on the adapter w), then a table: held-out pass@1 of the
# base and of the BRIDGE policy, θ against θ̂, the store. Store: ./.bridge-demo/store. STEPS=N runs N steps (default: the file's 60).
set -eu
cd "$(dirname "$0")/.."
B=.build/release/bridge
S=.bridge-demo
rm -rf "$S" && mkdir -p "$S"
export BRIDGE_STORE=$S/store
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. a store"
$B init
step "2. bridge run pipelines/quickstart.yaml (BRIDGE, λ = 0.5, 8 prompts × 4 rollouts and 16 worked solutions a step, LoRA r = 8)"
$B run pipelines/quickstart.yaml ${STEPS:+--steps $STEPS} 2>&1 | grep -E '^(step|run|interrupted)' | awk 'NR % 5 == 1 || /held-out|^run/'
step "3. the base and the BRIDGE policy on the held-out problems (greedy pass@1, bridge eval)"
# the quickstart's held-out set, asked as the run asks it (the problem alone)
EVAL="--data synthetic --level 2 --count 100 --split test --prompt-style plain --max-tokens 96"
base=$($B eval runs/quickstart/base $EVAL --json 2>/dev/null)
trained=$($B eval runs/quickstart/theta --adapter runs/quickstart/lora $EVAL --out "$S/bridge.jsonl" --json 2>/dev/null)
shadow=$($B eval runs/quickstart/theta_hat --adapter runs/quickstart/lora $EVAL --json 2>/dev/null)
diff=$($B ckpt diff runs/quickstart/theta runs/quickstart/theta_hat | tail -1)
status=$($B status quickstart --json)
stats=$($B store stats --json)
python3 - "$base" "$trained" "$shadow" "$diff" "$status" "$stats" "$S/bridge.jsonl" "$BRIDGE_STORE/journal/quickstart.jsonl" <<'PY'
import json, sys
base, trained, shadow = (json.loads(a) for a in sys.argv[1:4])
diff, status, stats = sys.argv[4], json.loads(sys.argv[5]), json.loads(sys.argv[6])
state = status["state"]
m = state["metrics"]
rows = [("base model (arith-base)", base), ("BRIDGE: θ + w", trained), ("RL-only shadow: θ̂ + w", shadow)]
print(f"{'policy':28s} {'pass@1':>8s} {'correct':>9s}")
for name, r in rows:
    print(f"{name:28s} {r['accuracy']:8.3f} {r['correct']:4d}/{r['total']:<4d}")
own = m.get("eval/held-out/accuracy")
if own is not None:
    same = "the same as bridge eval above" if abs(own - trained["accuracy"]) < 1e-12 else f"DIFFERENT from bridge eval's {trained['accuracy']:.3f}"
    print(f"(the run's own eval stage at step {state['step']}: {own:.3f}, {same})")
# the cooperative gain per step, from the journal's lower-step lines (the last line of each step)
gain = {}
for line in open(sys.argv[8]):
    j = json.loads(line)
    if j.get("stage") == "lower-step" and "cooperative_gain" in j.get("metrics", {}):
        gain[j["step"]] = j["metrics"]["cooperative_gain"]
if gain:
    steps = sorted(gain)
    shown = [k for k in steps if k == 1 or k % 10 == 0 or k == steps[-1]]
    print("\ncooperative gain J_RL(θ,w) − J_RL(θ̂,w), first-order estimate on the shared rollouts, by step:")
    print("  " + "  ".join(f"{k}: {gain[k]:+.2e}" for k in shown))
    last = steps[-10:]
    print(f"  mean over steps {last[0]}–{last[-1]}: {sum(gain[k] for k in last) / len(last):+.2e}")
print(f"\nafter {state['step']} steps: reward {m.get('reward_mean', 0):.3f}, SFT loss {m.get('sft_loss', 0):.3f}, KL {m.get('rl_kl', 0):.3f}")
print("θ vs θ̂ (ckpt diff):", diff)
print(f"store: {stats.get('objects')} objects, {stats.get('logical_bytes', 0) / 2**20:.1f} MiB logical, {stats.get('disk_bytes', 0) / 2**20:.1f} MiB on disk")
r = json.loads(open(sys.argv[7]).readline())
print("an answer of θ + w:", json.dumps(r["response"]), "(reference", r["answer"] + ")")
PY
$B ckpt verify | tail -1
$B report quickstart --out "$S/report" >/dev/null && echo "report: $S/report/index.html (bridge report quickstart --out DIR; add runs of pipelines/*.yaml to compare)"
