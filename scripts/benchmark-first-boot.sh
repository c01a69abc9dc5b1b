#!/usr/bin/env bash
# First boot of a fleet VM, building (as every VM did before the builder) against downloading the
# builder's artifact, measured in the VM harness with the test service; then the parts of a
# messenger VM's first boot on e2-standard-2 that can be measured here (a JRE's download and
# install from Debian's mirror), and an estimate from them with its assumptions. A benchmark, not a
# test: it prints numbers. Needs root (the harness). Usage: scripts/benchmark-first-boot.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The harness's "build once" boots: the builder into an empty bucket (clone, build, store), a second
# builder VM that finds the build stored (its boot and installs alone), and a gateway from the artifact.
for run in $(seq "$runs"); do
  npx jest --runInBand test/vm/vm.test.ts -t "build once" >"$out/run-$run.log" 2>&1 || { tail -n 40 "$out/run-$run.log" >&2; exit 1; }
done
boot_stats() { # boot_stats LABEL: min, median and max seconds of the boots printed as "LABEL: N s"
  grep -h "^  $1: " "$out"/run-*.log | sed -E 's/.*: ([0-9.]+) s$/\1/' | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
read -r b_min b_med b_max <<<"$(boot_stats "builder (builderFirst)")"
read -r a_min a_med a_max <<<"$(boot_stats "builder (builderAgain)")"
read -r g_min g_med g_max <<<"$(boot_stats "gateway from the artifact, first boot")"
# A fleet VM that built did the builder's build on top of its own boot: the builder's first boot
# less its boot without a build (the same VM start, apt and git installs).
build=$(awk -v b="$b_med" -v a="$a_med" 'BEGIN { printf "%.1f", b - a }')
building=$(awk -v g="$g_med" -v x="$build" 'BEGIN { printf "%.1f", g + x }')
echo "VM harness, test service, $runs runs (container start to power-off; min / median / max s):"
echo "  builder, building and storing:        $b_min / $b_med / $b_max"
echo "  builder, build already stored:        $a_min / $a_med / $a_max"
echo "  fleet VM, downloading the artifact:   $g_min / $g_med / $g_max"
echo "  fleet VM, building as before (median gateway + median build $build s): $building"

# A JRE as a messenger VM installs it: Debian 12's openjdk-17-jre-headless and what it pulls in,
# downloaded from the mirror and installed by real apt in a copy of the harness's root file system.
base=$(bash test/vm/build-rootfs.sh | tail -n 1)/rootfs
root=$out/jre-root
cp -a --reflink=auto "$base" "$root"
echo "deb ${GEO_VM_MIRROR:-http://deb.debian.org/debian} bookworm main" >"$root/etc/apt/sources.list"
cp /etc/apt/apt.conf.d/99artifact-registry "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
mount --bind /proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$out"' EXIT
chroot "$root" apt-get -q update >/dev/null
t0=$(date +%s.%N)
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --download-only openjdk-17-jre-headless >/dev/null
t1=$(date +%s.%N)
bytes=$(du -cb "$root"/var/cache/apt/archives/*.deb | tail -n 1 | cut -f1)
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y install openjdk-17-jre-headless >/dev/null
t2=$(date +%s.%N)
chroot "$root" java -version 2>&1 | head -n 1
jre_mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
jre_download=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
jre_install=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
echo "JRE (openjdk-17-jre-headless and dependencies), measured on this machine ($(nproc) cores):"
echo "  download: ${jre_mb} MB in ${jre_download} s; install: ${jre_install} s"

# The estimate. Measured: the JRE's install. Assumed, each stated: Google's ~40 s from create to a
# running guest for a 2 vCPU Debian VM (build-and-cost-facts.md); downloads at 50 MB/s through Cloud
# NAT and 100 MB/s from Cloud Storage; Kong's package about 60 MB installed in 15 s; the two
# messenger jars about 75 and 45 MB (Vaadin 23 and Spring Boot 2.7 fat jars; no Maven Central here
# to build them); the two JVMs start side by side in 30 s on e2-standard-2; this machine's install
# time doubled for e2-standard-2's two shared vCPUs.
awk -v mb="$jre_mb" -v install="$jre_install" 'BEGIN {
  guest = 40; apt_update = 5; kong = 60 / 50 + 15; jre = mb / 50 + 2 * install; jars = 120 / 100; jvm = 30; kong_start = 5
  total = guest + apt_update + kong + jre + jars + jvm + kong_start
  printf "Estimated first boot of a messenger VM on e2-standard-2, create to serving:\n"
  printf "  guest start %d, apt update %d, Kong %.0f, JRE %.0f, artifacts %.0f, JVM start %d, Kong start %d: about %.0f s (goal: under 180 s)\n", guest, apt_update, kong, jre, jars, jvm, kong_start, total
}'
