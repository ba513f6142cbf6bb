#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer (with LeakSanitizer) and/or ThreadSanitizer.
#
#   tools/sanitize.sh address      ASan + LSan     (build ~5 min, tests ~8 min on 2 cores)
#   tools/sanitize.sh thread       TSan            (build ~5 min, tests ~10 min)
#   tools/sanitize.sh all          both, one after the other
#
# Options: --no-build (reuse the last build), --filter REGEX (a part of the suite). Each sanitizer
# builds in its own scratch directory (.build/sanitize-address, .build/sanitize-thread), so the
# normal build is untouched; the `bridge` executable the CLI tests spawn is built the same way, so
# child processes are checked too. Logs: .build/sanitize-<name>.log.
#
# Exit 1 if any test fails or any sanitizer report appears (ASan error, leak, TSan race); every
# report is printed. Suppressions, each with its reason: tools/lsan.supp, tools/tsan.supp.
# Under TSan one test is skipped, and named in the summary: FaultTests'
# aFileSizeLimitDuringAnImportFailsCleanly runs `bridge` under `ulimit -f`, and the TSan runtime's
# own shadow-memory file hits that limit (SIGXFSZ) before `main` — the limit, not bridge, fails.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}

build=1
filter=()
which=()
while [ $# -gt 0 ]; do
  case "$1" in
    address|thread) which+=("$1"); shift ;;
    all) which+=(address thread); shift ;;
    --no-build) build=0; shift ;;
    --filter) filter=(--filter "$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sanitize.sh: unknown argument $1 (address, thread or all)" >&2; exit 2 ;;
  esac
done
[ ${#which[@]} -gt 0 ] || { echo "usage: tools/sanitize.sh address|thread|all [--no-build] [--filter REGEX]" >&2; exit 2; }

root=$(pwd)
status=0
for san in "${which[@]}"; do
  scratch=.build/sanitize-$san
  log=.build/sanitize-$san.log
  mkdir -p .build
  skip=()
  case $san in
    address)
      export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
      export LSAN_OPTIONS="suppressions=$root/tools/lsan.supp:print_suppressions=1"
      ;;
    thread)
      export TSAN_OPTIONS="suppressions=$root/tools/tsan.supp:halt_on_error=0:second_deadlock_stack=1:report_signal_unsafe=0"
      skip=(--skip 'aFileSizeLimitDuringAnImportFailsCleanly')
      ;;
  esac
  if [ "$build" = 1 ]; then
    echo "sanitize.sh: building the suite with -sanitize=$san ($scratch)…"
    start=$SECONDS
    if ! "$SWIFT" build --build-tests --sanitize="$san" --scratch-path "$scratch" > "$log.build" 2>&1; then
      grep -E "error:" "$log.build" | head -20 >&2 || tail -20 "$log.build" >&2
      echo "sanitize.sh: $san build failed (log: $log.build)" >&2
      exit 2
    fi
    echo "sanitize.sh: $san built in $((SECONDS - start)) s"
  fi
  echo "sanitize.sh: running the suite under $san…"
  start=$SECONDS
  # The CLI tests spawn the sanitized build's own `bridge`.
  export BRIDGE_BIN=$root/$scratch/debug/bridge
  "$SWIFT" test --skip-build --sanitize="$san" --scratch-path "$scratch" "${filter[@]}" "${skip[@]}" > "$log" 2>&1
  rc=$?
  seconds=$((SECONDS - start))
  reports=$(grep -cE '^(==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer)' "$log")
  summary=$(grep -E 'Test run with [0-9]+ tests?.*(passed|failed)' "$log" | tail -1)
  xsummary=$(grep -E 'Executed [0-9]+ tests?' "$log" | tail -1)
  echo "sanitize.sh: $san: ${summary:-no Swift Testing summary}${xsummary:+; XCTest: $xsummary}; $reports sanitizer reports; $seconds s; exit $rc"
  [ ${#skip[@]} -eq 0 ] || echo "sanitize.sh: $san: skipped ${skip[1]} (see the header of this script)"
  if [ "$reports" -gt 0 ]; then
    grep -E -A 30 '^(==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer)' "$log" | head -200
    status=1
  fi
  if [ "$rc" -ne 0 ]; then
    grep -E '✘|error:|Fatal|fatal' "$log" | grep -v ' started' | head -40
    status=1
  fi
  echo "sanitize.sh: $san log: $log"
done
exit $status
