#!/usr/bin/env bash
# The project's whole test run: installs what the tests need on a fresh machine, type-checks, runs
# the unit suites, then the VM harness (test/vm: every boot script on a real Debian 12 under
# systemd), each timed, and ends with one line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests call: shellcheck, Kong's deck and jq for the rendered files; as root,
# also what the VM harness needs (systemd-nspawn, debootstrap, what signs its apt repository).
# Not as root, the harness says it was skipped and why, and everything else runs.
tools=(shellcheck:shellcheck deck:deck jq:jq)
if [[ $(id -u) -eq 0 ]]; then
  tools+=(systemd-nspawn:systemd-container debootstrap:debootstrap apt-ftparchive:apt-utils dpkg-deb:dpkg-dev
    gpg:gnupg openssl:openssl git:git)
fi
missing=()
for tool in "${tools[@]}"; do
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

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
started=$SECONDS
# The type check runs beside the unit suites: neither needs the other, and together they use both cores.
npx tsc --noEmit >"$results/tsc.log" 2>&1 &
typecheck=$!
# Jest's "Test results written to <file>" names a temporary file; the summary line below replaces it.
quiet() { grep -v '^Test results written to' >&2 || true; }
npx jest --json --outputFile="$results/unit.json" --passWithNoTests --testPathIgnorePatterns /test/vm/ "$@" 2> >(quiet) || status=$?
if wait "$typecheck"; then echo "type check: clean"; else cat "$results/tsc.log"; echo "type check: failed"; status=1; fi
echo "type check and unit suites: $((SECONDS - started)) s"
started=$SECONDS
npx jest --json --outputFile="$results/vm.json" --passWithNoTests --testPathPatterns /test/vm/ "$@" 2> >(quiet) || status=$?
echo "vm harness: $((SECONDS - started)) s"
node -e 'let passed = 0, failed = 0;
  for (const file of process.argv.slice(1)) {
    const r = require(file);
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  }
  console.log("tests: " + passed + " passed, " + failed + " failed");' "$results/unit.json" "$results/vm.json"
exit "$status"
