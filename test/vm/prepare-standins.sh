#!/usr/bin/env bash
# Builds what the harness's stand-ins serve, into OUT (first argument; the second is a Kong version
# after 3.9.1 to package as well):
#   OUT/kong-packages/public/gateway-39/  an apt repository in Kong's layout, signed by a fresh test
#                                         key, holding the stand-in kong package (kong-package/) as
#                                         3.9.1 and as the later version, whose migrations differ
#   OUT/kong-key-fingerprint              that key's fingerprint, for the renderer's input
#   OUT/tls/                              a test CA and a certificate for the stand-in hosts
#   OUT/git/echo.git, OUT/echo-ref        the test service's repository (served the way git's dumb
#                                         HTTP protocol reads it) and the commit to check out
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
laterKongVersion=$2
rm -rf "$out" && mkdir -p "$out"
export GNUPGHOME=$out/gnupg
mkdir -m 700 "$GNUPGHOME"

# Kong's repository: https://packages.konghq.com/public/gateway-39/ with gpg.<KEYID>.key at its root
# and deb/debian/{dists,pool} below.
gpg --batch --quiet --passphrase '' --quick-gen-key "geo-api-layer harness <harness@localhost>" rsa2048 sign never 2>/dev/null
fingerprint=$(gpg --batch --with-colons --list-keys | awk -F: '$1 == "fpr" { print $10; exit }')
repo=$out/kong-packages/public/gateway-39
mkdir -p "$repo/deb/debian/pool/main" "$repo/deb/debian/dists/bookworm/main/binary-amd64"
gpg --batch --armor --export "$fingerprint" >"$repo/gpg.${fingerprint: -16}.key"
# 3.9.1, and a later version whose stand-in knows one migration more (standin.py, LATER_MIGRATION),
# to play an upgrade whose migrations differ.
for version in 3.9.1 "$laterKongVersion"; do
  package=$out/kong-package-$version
  cp -a "$here/kong-package" "$package"
  echo "$version" >"$package/usr/local/lib/kong-standin/VERSION"
  sed -i "s/^Version: .*/Version: $version/" "$package/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$package" "$repo/deb/debian/pool/main/kong_${version}_amd64.deb" >/dev/null
done
(
  cd "$repo/deb/debian"
  apt-ftparchive packages pool >dists/bookworm/main/binary-amd64/Packages
  apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm -o APT::FTPArchive::Release::Codename=bookworm \
    -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=amd64 \
    release dists/bookworm >dists/bookworm/Release
  gpg --batch --quiet --yes --clearsign -o dists/bookworm/InRelease dists/bookworm/Release
)
echo "$fingerprint" >"$out/kong-key-fingerprint"

mkdir "$out/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=geo-api-layer harness CA" \
  -keyout "$out/tls/ca.key" -out "$out/tls/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=geo-api-layer harness stand-ins" \
  -keyout "$out/tls/tls.key" -out "$out/tls/tls.csr" 2>/dev/null
openssl x509 -req -in "$out/tls/tls.csr" -CA "$out/tls/ca.crt" -CAkey "$out/tls/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=DNS:secretmanager.googleapis.com,DNS:kong-packages.test,DNS:git.test,DNS:storage.googleapis.com') -out "$out/tls/tls.crt" 2>/dev/null

work=$out/echo-work
git init --quiet "$work"
cp "$here/echo-service/server.py" "$work/"
git -C "$work" add server.py
git -C "$work" -c user.name=harness -c user.email=harness@localhost commit --quiet -m "echo service"
git clone --quiet --bare "$work" "$out/git/echo.git"
git -C "$out/git/echo.git" update-server-info
git -C "$work" rev-parse HEAD >"$out/echo-ref"
