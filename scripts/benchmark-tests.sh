#!/usr/bin/env bash
# Wall time of the type check plus the unit suites (what `npm test` runs before the VM harness),
# RUNS times after one warm-up: minimum, median and maximum. Run: bash scripts/benchmark-tests.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
once() {
  local started=$EPOCHREALTIME
  # As scripts/test.sh runs them: the type check beside the unit suites.
  npx tsc --noEmit >/dev/null 2>&1 &
  local typecheck=$!
  npx jest --silent --testPathIgnorePatterns /test/vm/ >/dev/null 2>&1 || { echo "the unit suites failed" >&2; exit 1; }
  wait "$typecheck" || { echo "the type check failed" >&2; exit 1; }
  awk -v end="$EPOCHREALTIME" -v start="$started" 'BEGIN { print end - start }'
}
once >/dev/null
samples=()
for ((i = 0; i < runs; i++)); do samples+=("$(once)"); done
printf '%s\n' "${samples[@]}" | sort -n | awk -v n="$runs" '
  { v[NR] = $1 }
  END { printf "type check + unit suites, %d runs after a warm-up: min %.1f s, median %.1f s, max %.1f s\n", n, v[1], v[int((n + 1) / 2)], v[n] }'
