#!/usr/bin/env bash
# The project's whole test run: installs what the tests need on a fresh machine, type-checks,
# runs every test, and ends with one line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests call: shellcheck, Kong's deck, jq (the boot scripts use it), PostgreSQL.
missing=()
for tool in shellcheck:shellcheck deck:deck jq:jq pg_ctlcluster:postgresql; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
if [[ ! -d node_modules ]]; then npm ci --no-audit --no-fund; fi

npx tsc --noEmit
echo "type check: clean"

results=$(mktemp --suffix=.json)
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
node -p 'const r = require(process.argv[1]);
  "tests: " + r.numPassedTests + " passed, " + (r.numFailedTests + r.numRuntimeErrorTestSuites) + " failed"' "$results"
rm -f "$results"
exit "$status"
