#!/usr/bin/env bash
# Builds the VM harness's Debian 12 root file system once and caches it, keyed by this file (which
# holds every package list): systemd as PID 1, the stand-in servers' Python, and a local apt
# repository holding the Debian packages the boot scripts install, so a container with only its
# own loopback still installs them with real apt at its first boot. Prints the cache directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${GEO_VM_CACHE:-/var/cache/geo-api-layer-vm}
mirror=${GEO_VM_MIRROR:-http://deb.debian.org/debian}

# What a fresh GCE debian-12 image has that matters here, plus what the stand-ins run on: Python
# (YAML for Kong's declarative config, the PostgreSQL driver for Kong's database) and Debian's nginx
# with its Lua module and the Lua libraries Kong's own checks run on (../shared/kong-check, bound in
# at /opt/kong-check). In the image, not installed at first boot: Kong's real package bundles its
# OpenResty, so a real first boot does not install them either.
standin_packages=nginx-core,libnginx-mod-http-lua,lua-resty-core,lua-resty-lrucache,lua-penlight,lua-socket,lua-lpeg,lua-yaml,lua-filesystem,luajit2,python3-psycopg2
base_packages=systemd,systemd-sysv,dbus,python3,python3-yaml,ca-certificates,iproute2,procps,$standin_packages
# What the rendered boot scripts install with apt-get (boot-library aptPackages, the test service's
# python3).
repo_packages="curl jq gnupg git postgresql python3"

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

# Debian's nginx serves only as Kong's stand-in OpenResty: its own service does not run.
rm -f "$rootfs/etc/systemd/system/multi-user.target.wants/nginx.service"

# The VM's identity: a hostname and no root password prompt at the console.
echo gateway-vm >"$rootfs/etc/hostname"
chroot "$rootfs" passwd -d root >/dev/null
cp "$here/build-rootfs.sh" "$dir/built-by.sh"
touch "$dir/ready"
echo "$dir"
