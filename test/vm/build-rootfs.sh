#!/usr/bin/env bash
# Builds the VM harness's Debian 12 root file system once and caches it, keyed by this file (which
# holds every package list): systemd as PID 1, the stand-in servers' Python, and a local apt
# repository holding the Debian packages the boot scripts install, so a container with only its
# own loopback still installs them with real apt at its first boot. Prints the cache directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${GEO_VM_CACHE:-/var/cache/geo-api-layer-vm}
mirror=${GEO_VM_MIRROR:-http://deb.debian.org/debian}

# What a fresh GCE debian-12 image has that matters here, plus the stand-ins' Python (and YAML for
# Kong's declarative config).
base_packages=systemd,systemd-sysv,dbus,python3,python3-yaml,ca-certificates,iproute2,procps
# What the rendered boot scripts install with apt-get (boot-library aptPackages, the test service's
# python3) and what the stand-in kong package depends on (nginx-light).
repo_packages="curl jq gnupg git postgresql nginx-light python3"

key=$(sha256sum "$0" | cut -c1-16)
dir=$cache_root/$key
if [[ -f $dir/ready ]]; then echo "$dir"; exit 0; fi

rm -rf "$dir"
mkdir -p "$dir"
rootfs=$dir/rootfs
echo "vm harness: building a Debian 12 root file system in $dir (about 3 minutes, once)" >&2
debootstrap --variant=minbase --include="$base_packages" bookworm "$rootfs" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
  { tail -n 20 "$dir/debootstrap.log" >&2; exit 1; }

# Download (not install) the boot scripts' packages with the container's own apt, then serve them
# as a local repository: the first boot's apt-get resolves and installs them for real.
cp /etc/apt/apt.conf.d/99artifact-registry "$rootfs/etc/apt/apt.conf.d/" 2>/dev/null || true
echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"
chroot "$rootfs" apt-get -q update >"$dir/download.log" 2>&1
# shellcheck disable=SC2086 # a list of package names
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --download-only $repo_packages >>"$dir/download.log" 2>&1
mkdir -p "$rootfs/srv/debian-local"
mv "$rootfs"/var/cache/apt/archives/*.deb "$rootfs/srv/debian-local/"
(cd "$rootfs/srv/debian-local" && apt-ftparchive packages . >Packages 2>/dev/null)
echo "deb [trusted=yes] file:/srv/debian-local ./" >"$rootfs/etc/apt/sources.list"
rm -f "$rootfs/etc/apt/apt.conf.d/99artifact-registry"
rm -rf "$rootfs"/var/lib/apt/lists/*
chroot "$rootfs" apt-get clean

# The VM's identity: a hostname and no root password prompt at the console.
echo gateway-vm >"$rootfs/etc/hostname"
chroot "$rootfs" passwd -d root >/dev/null
cp "$here/build-rootfs.sh" "$dir/built-by.sh"
touch "$dir/ready"
echo "$dir"
