#!/usr/bin/env bash
# Every crash state of the store's actions and of a whole pipeline step (issue [reliability]
# item 1), and faults injected at every operation (item 5), with the counts per action.
#
#   tools/crash-states.sh            # every crash point; the step run again in every 20th state
#   tools/crash-states.sh --quick    # what `swift test` checks (sampled inside object writes)
#   tools/crash-states.sh --all      # the step run again in every state (hours)
#
# The harness is TestSupport/CrashStates.swift; the actions are in
# Tests/ShardStoreTests/CrashStateTests.swift and Tests/PipelineTests/CrashStatePipelineTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLE=1 RESUME=20
case "${1:-}" in
    --quick) SAMPLE=150 RESUME=25 ;;
    --all) SAMPLE=1 RESUME=1 ;;
    "") ;;
    *) echo "usage: tools/crash-states.sh [--quick|--all]" >&2; exit 2 ;;
esac
SWIFT=${SWIFT:-swift}
# The states are materialised in memory when /dev/shm is there (each is a whole store).
if [ -z "${CRASH_STATES_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then CRASH_STATES_TMPDIR=/dev/shm; fi
export TMPDIR=${CRASH_STATES_TMPDIR:-${TMPDIR:-/tmp}}
$SWIFT build --build-tests >/dev/null
LOG=$(mktemp /tmp/bridge-crash-states.XXXXXX)
START=$(date +%s)
status=0
BRIDGE_CRASH_STATES_SAMPLE=$SAMPLE BRIDGE_CRASH_STATES_RESUME_EVERY=$RESUME \
    $SWIFT test --skip-build --filter "CrashStateTests|CrashStateHarnessTests|CrashStatePipelineTests|InjectedFaultTests" >"$LOG" 2>&1 || status=$?
grep -E "^(crash states|injected faults):" "$LOG" | sort
grep -E "✘" "$LOG" | head -20 || true
total=$(grep -E "^crash states:" "$LOG" | sed -E 's/.* ([0-9]+) states checked.*/\1/' | paste -sd+ | bc)
echo "crash states checked in all: ${total:-0}; $(( $(date +%s) - START )) s; log: $LOG"
[ "$status" -eq 0 ] && echo "ok: no crash state lost or damaged a committed state" || { echo "FAILED"; exit 1; }
