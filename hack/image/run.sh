#!/usr/bin/env bash
# Runs a command in a container of an image, with no network, using the builder
# hack/image/builder.sh picks (docker or podman; buildah cannot run an image's entrypoint).
#
#   bash hack/image/run.sh ghcr.io/sluice/sluice:0.1.0 sluice-operator --watch-dir /x
#   bash hack/image/run.sh ghcr.io/sluice/sluice:0.1.0 node -e "require('zeromq')"
#   bash hack/image/run.sh --detach NAME IMAGE [ARGS...]   # in the background, kept after it exits
#
# Without --detach the container is removed when the command ends. SLUICE_IMAGE_RUN_FLAGS adds
# flags to `run` (e.g. `-v /host/dir:/dir:ro`). `--print-builder` prints the builder and exits.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/builder.sh
. "$HERE/builder.sh"
BUILDER=$(pick_builder)
case "$BUILDER" in
  docker|podman) ;;
  *) echo "run.sh: $BUILDER cannot run an image as a container (needs docker or podman)" >&2; exit 1 ;;
esac
mode=(--rm)
case "${1:-}" in
  --print-builder) echo "$BUILDER"; exit 0 ;;
  --detach) mode=(--detach --name "${2:?--detach needs a container name}"); shift 2 ;;
  ''|-h|--help) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
image=${1:?run.sh needs an image}
shift
# shellcheck disable=SC2046,SC2086 # lists of flags
exec "$BUILDER" run "${mode[@]}" --network none $(runtime_flags "$BUILDER") $(run_flags "$BUILDER") ${SLUICE_IMAGE_RUN_FLAGS:-} "$image" "$@"
