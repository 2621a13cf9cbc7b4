#!/usr/bin/env bash
# Builds Mandate (release) and runs its main job on the embedded defaults. Run as root on
# Debian 12, from any directory:
#
#   ./tools/scripts/run.sh
#
# For now the main job is checking the policies shipped in policies/ (`mandate check policies/`);
# the authorization server replaces it in a later issue.
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
exec "$BUILD_DIR/tools/mandate" check policies/
