#!/usr/bin/env bash
# Builds Mandate (release) and runs its main job on the embedded defaults. Run as root on
# Debian 12, from any directory:
#
#   ./tools/scripts/run.sh
#
# It checks the policies shipped in policies/, then runs the authorization server on its embedded
# defaults: `mandate serve` with data dir ./mandate-data (SQLite; an ES256 signing key generated
# on first start), the policies in policies/ compiled at start, listening on 127.0.0.1:8080 with
# issuer http://127.0.0.1:8080. Ctrl-C (or SIGTERM) stops it gracefully. Extra arguments go to
# `mandate serve` (e.g. --listen 0.0.0.0:8080 --issuer https://auth.example).
#
# Environment knobs (optional): JOBS=N parallel build jobs (default nproc); SKIP_DEPS=1 to skip
# installing packages; BUILD_DIR=DIR build directory (default build/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

JOBS="${JOBS:-$(nproc)}"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

echo "==== dependencies (tools/scripts/install-deps.sh)"
if [ "${SKIP_DEPS:-0}" = 1 ]; then
  echo "SKIP_DEPS=1: not installing packages"
else
  "$ROOT/tools/scripts/install-deps.sh"
fi

echo "==== release build in ${BUILD_DIR#"$ROOT"/}/"
# Ninja for a new build directory; an existing one keeps the generator it was made with.
GEN=(-G Ninja)
[ -f "$BUILD_DIR/CMakeCache.txt" ] && GEN=()
cmake -S "$ROOT" -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DMANDATE_TESTS=OFF -DMANDATE_SANITIZE=OFF -DMANDATE_FUZZ=OFF
cmake --build "$BUILD_DIR" -j "$JOBS" --target mandate

echo "==== mandate check policies/"
"$BUILD_DIR/tools/mandate" check policies/

echo "==== mandate serve (Ctrl-C stops it; docs/server.md explains what to do next)"
exec "$BUILD_DIR/tools/mandate" serve "$@"

