# shellcheck shell=bash
# Sourced by hack/image/build.sh and hack/image/stand-in-base.sh: which OCI builder to use and how
# to call it. Docker needs a running daemon; podman and buildah are daemonless (as root they need
# nothing else; Debian: `apt-get install podman`).
#
# SLUICE_IMAGE_BUILDER=docker|podman|buildah forces one; SLUICE_IMAGE_BUILD_FLAGS adds flags to
# every build (e.g. `--isolation chroot` where the builder cannot make namespaces).

# Prints the builder to use, or fails with why none is usable.
pick_builder() {
  if [ -n "${SLUICE_IMAGE_BUILDER:-}" ]; then
    command -v "$SLUICE_IMAGE_BUILDER" >/dev/null 2>&1 || { echo "SLUICE_IMAGE_BUILDER=$SLUICE_IMAGE_BUILDER is not on PATH" >&2; return 1; }
    echo "$SLUICE_IMAGE_BUILDER"
    return
  fi
  # `docker info` fails fast when the CLI is there but no daemon answers.
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; return; fi
  if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then echo podman; return; fi
  if command -v buildah >/dev/null 2>&1 && buildah info >/dev/null 2>&1; then echo buildah; return; fi
  echo "no usable OCI builder: docker has no daemon or is missing, podman and buildah are missing or fail \`info\`; apt-get install podman" >&2
  return 1
}

# Flags that podman and buildah need on some hosts, found by looking at the host:
#  - a hybrid cgroup layout (cgroup v1 controllers, plus cgroup2 at /sys/fs/cgroup/unified):
#    crun, their default runtime, refuses it ("cgroups in hybrid mode not supported, drop all
#    controllers from cgroupv2"); runc accepts it.
runtime_flags() {
  local builder=$1
  [ "$builder" = docker ] && return
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] \
    && command -v runc >/dev/null 2>&1; then
    echo "--runtime runc"
  fi
}

# build BUILDER ARGS...: `docker build`, `podman build` or `buildah build` with the same arguments,
# under nice (the machines are small and shared).
build() {
  local builder=$1
  shift
  # shellcheck disable=SC2046,SC2086 # both are lists of flags
  nice -n 10 "$builder" build $(runtime_flags "$builder") ${SLUICE_IMAGE_BUILD_FLAGS:-} "$@"
}

# run_flags BUILDER: the flags `BUILDER run` needs here, besides those runtime_flags prints.
#  - podman gives a container nofile=1048576 by default; where the hard limit is lower and root
#    lacks CAP_SYS_RESOURCE, the runtime fails ("setrlimit `RLIMIT_NOFILE`: Operation not
#    permitted"), so ask for the hard limit we have. A --ulimit replaces podman's default list,
#    so its nproc=32768:32768 is given again.
run_flags() {
  local builder=$1 nofile
  [ "$builder" = podman ] || return 0
  nofile=$(ulimit -Hn)
  if [ "$nofile" != unlimited ] && [ "$nofile" -lt 1048576 ]; then
    echo "--ulimit nofile=$nofile:$nofile --ulimit nproc=32768:32768"
  fi
}

# image_label BUILDER IMAGE KEY: the image's label KEY, empty when the image or the label is missing.
image_label() {
  local builder=$1 image=$2 key=$3
  if [ "$builder" = buildah ]; then
    buildah inspect --type image --format "{{ index .OCIv1.Config.Labels \"$key\" }}" "$image" 2>/dev/null || true
  else
    "$builder" image inspect --format "{{ index .Config.Labels \"$key\" }}" "$image" 2>/dev/null || true
  fi
}
