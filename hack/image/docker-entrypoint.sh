#!/bin/sh
# The stand-in base's entrypoint, behaving as the official node image's: when the first argument
# is an option (`-e ...`), not a command on the PATH, or a file that is not executable, run it with
# node; otherwise run it as it is (`sluice-dataplane --help`, `node dist/dataplane/main.js`).
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
