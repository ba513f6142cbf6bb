#!/usr/bin/env bash
# Checks `bridge report` end to end: two short runs of the quickstart pipeline (BRIDGE, and
# RL-zero; 3 steps with small --set overrides) in a scratch store,
# an unknown run refused with exit 1 and nothing written, the report written, its page and SVG
# files checked (tools/check_report.py), then the page rendered by headless Chromium and the
# screenshot checked: not blank, and each run's line colour drawn. Installs Debian's
# chromium-headless-shell (via tools/install-deps.sh) when no Chromium is on PATH.
# Uses $BRIDGE_BIN, else the newest of .build/{release,debug}/bridge, else builds release.
# KEEP=1 keeps the scratch directory (the report and screenshot) and prints its path.
set -eu
cd "$(dirname "$0")/.."
start=$(date +%s)
say() { echo "check-report: $*"; }

B=${BRIDGE_BIN:-}
if [ -z "$B" ]; then
  for c in .build/release/bridge .build/debug/bridge; do
    [ -x "$c" ] && { [ -z "$B" ] || [ "$c" -nt "$B" ]; } && B=$c
  done
fi
if [ -z "$B" ] || ! "$B" report --help >/dev/null 2>&1; then
  say "building bridge (release)"
  swift build -c release --product bridge >/dev/null
  B=.build/release/bridge
fi

T=$(mktemp -d)
if [ "${KEEP:-}" = 1 ]; then say "scratch: $T"; else trap 'rm -rf "$T"' EXIT; fi
export BRIDGE_STORE=$T/store
"$B" init >/dev/null

small=(--steps 3
  --set 'data.sft={source: synthetic, level: 1, count: 16}' --set 'data.rl={source: synthetic, level: 1, count: 16}'
  --set 'data.eval=[{name: held-out, source: synthetic, level: 1, count: 4, split: test}]'
  --set rl.prompts_per_step=2 --set rl.num_generations=2 --set rl.max_completion_length=8
  --set train.sft_batch_size=2 --set evaluation.max_new_tokens=8 --set schedule.eval_every=2)
"$B" run pipelines/quickstart.yaml --run bridge "${small[@]}" >/dev/null 2>"$T/run.log" || { cat "$T/run.log"; exit 1; }
"$B" run pipelines/quickstart.yaml --run rl-zero --set method=rl-zero "${small[@]}" >/dev/null 2>"$T/run.log" || { cat "$T/run.log"; exit 1; }
say "two runs of 3 steps in $(( $(date +%s) - start )) s ($B)"

# an unknown run: exit 1, the run named, nothing written
set +e
"$B" report bridge nope --out "$T/none" 2>"$T/err"
code=$?
set -e
if [ $code -ne 1 ] || ! grep -q "no run 'nope'" "$T/err" || [ -e "$T/none" ]; then
  say "FAIL: 'bridge report bridge nope' exited $code: $(cat "$T/err")"; exit 1
fi

"$B" report bridge rl-zero --out "$T/report"
python3 tools/check_report.py "$T/report" bridge rl-zero

# the page in headless Chromium (Debian's chromium-headless-shell: no GTK, a fraction of chromium's dependencies)
C=""
for c in chromium-headless-shell chromium chromium-browser google-chrome; do command -v $c >/dev/null && { C=$c; break; }; done
if [ -z "$C" ]; then
  t0=$(date +%s)
  tools/install-deps.sh chromium-headless-shell
  C=chromium-headless-shell
  say "installed chromium-headless-shell in $(( $(date +%s) - t0 )) s"
fi
"$C" --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$T/shot.png" --window-size=1200,2000 \
  "file://$T/report/index.html" >"$T/chromium.log" 2>&1 || { cat "$T/chromium.log"; exit 1; }
[ -s "$T/shot.png" ] || { say "FAIL: no screenshot"; cat "$T/chromium.log"; exit 1; }
python3 tools/check_report.py --png "$T/shot.png" bridge rl-zero
say "done in $(( $(date +%s) - start )) s"
