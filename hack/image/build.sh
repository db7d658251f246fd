#!/usr/bin/env bash
# Builds Sluice's image from the Dockerfile with whichever OCI builder works here: docker (with a
# daemon), podman or buildah (hack/image/builder.sh says how it picks and why).
#
#   bash hack/image/build.sh                  # FROM node:20.20-bookworm-slim, tag ghcr.io/sluice/sluice:<version>
#   bash hack/image/build.sh --stand-in-base  # FROM a local stand-in, tag localhost/sluice:<version>-stand-in
#   bash hack/image/build.sh --tag NAME       # another tag
#
# --stand-in-base is for machines that reach the package registries but not Docker Hub (like the
# development and CI machines): it builds localhost/sluice-base:node20.20-bookworm-slim with
# hack/image/stand-in-base.sh (once; needs root and mmdebstrap) and passes it as BASE_IMAGE. Such
# an image is for checking the Dockerfile and what runs in it, never for shipping, so it gets a
# localhost/ tag of its own. The build stage runs `npm ci`, so the build needs the npm registry;
# podman and buildah build with --network host for that (their default network needs CNI
# plugins that a bare Debian install lacks). Prints the tag it built on the last line.
#
# Where this machine's npm trusts its own CA bundle (`npm config get cafile`, as behind a
# TLS-inspecting egress proxy), podman and buildah mount that bundle and an npmrc naming it into
# the build's RUN steps, so `npm ci` in the build trusts what the host's npm trusts; mounts are
# not written into any layer. SLUICE_IMAGE_NPM_CAFILE names another bundle; empty turns it off.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=SCRIPTDIR/builder.sh
. "$HERE/builder.sh"

VERSION=$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")
STAND_IN=0
TAG=
while [ $# -gt 0 ]; do
  case "$1" in
    --stand-in-base) STAND_IN=1 ;;
    --tag) TAG=${2:?--tag needs a name}; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

BUILDER=$(pick_builder)
args=()
if [ "$STAND_IN" = 1 ]; then
  SLUICE_IMAGE_BUILDER=$BUILDER bash "$HERE/stand-in-base.sh"
  args+=(--build-arg BASE_IMAGE=localhost/sluice-base:node20.20-bookworm-slim)
  TAG=${TAG:-localhost/sluice:$VERSION-stand-in}
fi
TAG=${TAG:-ghcr.io/sluice/sluice:$VERSION}
if [ "$BUILDER" != docker ]; then
  args+=(--network host)
  cafile=${SLUICE_IMAGE_NPM_CAFILE-$(npm config get cafile 2>/dev/null || true)}
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ]; then
    mounts=$(mktemp -d)
    trap 'rm -rf "$mounts"' EXIT
    cp -L "$cafile" "$mounts/ca.crt"
    echo "cafile=/run/sluice-build/ca.crt" > "$mounts/npmrc"
    # The global npmrc of an npm installed under /usr/local, as in the node images.
    args+=(--volume "$mounts:/run/sluice-build:ro" --volume "$mounts/npmrc:/usr/local/etc/npmrc:ro")
    echo "the build's npm trusts $cafile (the host npm's cafile)"
  fi
fi

echo "$BUILDER build -> $TAG"
build "$BUILDER" "${args[@]}" -f "$ROOT/Dockerfile" -t "$TAG" "$ROOT"
echo "$TAG"
