#!/usr/bin/env bash
# The project's whole test run: installs what the tests need on a fresh machine, type-checks, runs
# the unit suites, then the VM harness (test/vm: every boot script on a real Debian 12 under
# systemd), each timed, and ends with one line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests call: shellcheck and jq for the rendered files; as root, also what
# Kong's own checks run on (../shared/kong-check: Debian's nginx with its Lua module) and what the
# VM harness needs (systemd-nspawn, debootstrap, what signs its apt repository, PostgreSQL servers
# for Kong's database, nftables to cut their network). Not as root, the harness and Kong's checks
# say they were skipped and why, and everything else runs.
tools=(shellcheck:shellcheck jq:jq /usr/bin/python3:python3)
packages=()
if [[ $(id -u) -eq 0 ]]; then
  tools+=(systemd-nspawn:systemd-container debootstrap:debootstrap apt-ftparchive:apt-utils dpkg-deb:dpkg-dev
    gpg:gnupg openssl:openssl git:git nft:nftables ip:iproute2 /usr/lib/postgresql/15/bin/postgres:postgresql-15)
  packages+=(nginx-core libnginx-mod-http-lua lua-resty-core lua-resty-lrucache lua-penlight lua-socket lua-lpeg lua-yaml
    lua-filesystem luajit2 python3-yaml)
fi
missing=()
for tool in "${tools[@]}"; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
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
# One file at a time: the game days time outages against the load balancer's checks, which a boot
# on the other core would slow.
npx jest --json --outputFile="$results/vm.json" --passWithNoTests --runInBand --testPathPatterns /test/vm/ "$@" 2> >(quiet) || status=$?
echo "vm harness: $((SECONDS - started)) s"
node -e 'let passed = 0, failed = 0;
  for (const file of process.argv.slice(1)) {
    const r = require(file);
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  }
  console.log("tests: " + passed + " passed, " + failed + " failed");' "$results/unit.json" "$results/vm.json"
exit "$status"
