#!/usr/bin/env bash
# Fuzzes bridge's parsers of outside bytes with libFuzzer (Sources/FuzzTargets, Sources/BridgeFuzz).
#
#   tools/fuzz.sh --quick                  every target for a few seconds (make test runs this)
#   tools/fuzz.sh --seconds 600 [TARGET…]  longer passes, the named targets or all
#   tools/fuzz.sh --list                   the targets
#
# Options: --no-build (use the last build), --jobs N (targets run N at a time; default 1),
# --keep-going (do not stop at the first target that crashes). Extra libFuzzer flags after `--`.
#
# BridgeFuzz is built with -sanitize=fuzzer,address in its own scratch directory (.build/fuzz,
# so the normal build is untouched); the first build takes a few minutes. Each target starts from
# its committed inputs, Tests/Fuzz/<target>/seeds and regressions, plus what earlier runs found in
# .build/fuzz/corpus/<target>. A crash, a sanitizer report, a timeout (10 s), an allocation above
# 1 GiB or a violation (an error that is not an input error naming the file) stops the target;
# libFuzzer writes the input to Tests/Fuzz/<target>/regressions/ (crash-…, timeout-…, oom-…) for
# triage: fix the parser, keep the file (FuzzCorpusTests replays it in `swift test`), commit both.
# Replay one input without instrumentation: swift build --product BridgeFuzz && .build/debug/BridgeFuzz TARGET FILE.
#
# Prints per target: executions, executions per second, coverage (libFuzzer's cov: edges and ft:
# features), the working corpus (inputs, bytes), new crash files. Exit 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
seconds=600
build=1
jobs=1
keep_going=0
targets=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) seconds=${FUZZ_QUICK_SECONDS:-5}; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --keep-going) keep_going=1; shift ;;
    --list) list=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

scratch=.build/fuzz
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -DBRIDGE_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld)
if [ "$build" = 1 ]; then
  echo "fuzz.sh: building BridgeFuzz with libFuzzer and AddressSanitizer ($scratch)…"
  start=$(date +%s)
  if ! "$SWIFT" build --scratch-path "$scratch" --product BridgeFuzz "${flags[@]}" > "$scratch.build.log" 2>&1; then
    grep -E "error:" "$scratch.build.log" | head -20 >&2 || tail -20 "$scratch.build.log" >&2
    echo "fuzz.sh: build failed (log: $scratch.build.log)" >&2
    exit 2
  fi
  echo "fuzz.sh: built in $(( $(date +%s) - start )) s"
fi
bin=$("$SWIFT" build --scratch-path "$scratch" --product BridgeFuzz "${flags[@]}" --show-bin-path)/BridgeFuzz
[ -x "$bin" ] || { echo "fuzz.sh: $bin is missing; run without --no-build" >&2; exit 2; }

all=$(ls Tests/Fuzz | while read -r t; do [ -d "Tests/Fuzz/$t/seeds" ] && echo "$t"; done)
if [ "${list:-0}" = 1 ]; then echo "$all"; exit 0; fi
[ ${#targets[@]} -gt 0 ] || mapfile -t targets <<< "$all"
for t in "${targets[@]}"; do
  echo "$all" | grep -qx "$t" || { echo "fuzz.sh: unknown target '$t' (tools/fuzz.sh --list)" >&2; exit 2; }
done

logs=$scratch/logs
mkdir -p "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}

# Runs one target; writes its log and a summary line (tab-separated) to $logs/<target>.summary.
run_target() {
  local t=$1 corpus=$scratch/corpus/$1 out=Tests/Fuzz/$1/regressions
  mkdir -p "$corpus" "$out"
  local before; before=$(ls "$out" | grep -cE '^(crash|timeout|oom|leak|slow-unit)-' || true)
  local status=0
  # Leaks are off: Foundation's FileManager.contents(atPath:) leaks a buffer per call (not ours).
  "$bin" "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -malloc_limit_mb=1024 -detect_leaks=0 \
    -print_final_stats=1 -artifact_prefix="$out/" ${extra[@]+"${extra[@]}"} \
    "$corpus" "Tests/Fuzz/$t/seeds" "$out" > "$logs/$t.log" 2>&1 || status=$?
  local after; after=$(ls "$out" | grep -cE '^(crash|timeout|oom|leak|slow-unit)-' || true)
  local execs rate line cov ft files bytes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
  line=$(grep -E '^#[0-9]+.*cov: ' "$logs/$t.log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$line")
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-0}" "${rate:-0}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" \
    "$(( after - before ))" "$status" > "$logs/$t.summary"
}

echo "fuzz.sh: ${#targets[@]} targets × ${seconds} s (logs: $logs/)"
failed=0
running=0
for t in "${targets[@]}"; do
  rm -f "$logs/$t.summary"
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  if [ "$keep_going" = 0 ]; then
    for s in "$logs"/*.summary; do
      [ -f "$s" ] && awk -F'\t' '$8 > 0 || $9 != 0 { exit 1 }' "$s" || { wait; failed=1; break 2; }
    done
  fi
done
wait

printf '%-18s %10s %8s %7s %8s %16s %8s\n' target execs exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
  s=$logs/$t.summary
  [ -f "$s" ] || continue
  IFS=$'\t' read -r name execs rate cov ft files bytes new status < "$s"
  printf '%-18s %10s %8s %7s %8s %16s %8s\n' "$name" "$execs" "$rate" "$cov" "$ft" "$files/$((bytes / 1024))KiB" "$new"
  if [ "$new" -gt 0 ] || [ "$status" != 0 ]; then
    failed=1
    echo "  $name: libFuzzer exit $status; new inputs in Tests/Fuzz/$name/regressions/:" >&2
    grep -E 'VIOLATION|ERROR: |Fatal error|SUMMARY|Test unit written|deadly signal|out-of-memory|timeout' "$logs/$name.log" | head -8 | sed 's/^/    /' >&2
  fi
done
if [ "$failed" != 0 ]; then
  echo "fuzz.sh: crashes found (replay: $bin TARGET FILE; without instrumentation: .build/debug/BridgeFuzz TARGET FILE)" >&2
  exit 1
fi
echo "fuzz.sh: no crashes"
