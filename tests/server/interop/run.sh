#!/usr/bin/env bash
# Interoperability of `mandate serve` with oauth4webapi and jose (interop.test.mjs).
#   tests/server/interop/run.sh MANDATE_BINARY
# Needs Node.js >= 20 and, the first time, npm: the locked dependencies (package-lock.json) are
# installed only when node_modules is missing, so later runs work offline.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 MANDATE_BINARY" >&2
  exit 2
fi
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ -x "$binary" ]] || { echo "interop tests: $1 is not an executable" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1; then
  echo "interop tests: node (Node.js >= 20) is required but not on PATH" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 20 )); then
  echo "interop tests: Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
fi

if [[ ! -f node_modules/oauth4webapi/package.json || ! -f node_modules/jose/package.json ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "interop tests: npm is required to install the test dependencies" >&2
    exit 1
  fi
  npm ci --no-audit --no-fund --loglevel=error
fi

MANDATE_BINARY="$binary" exec node --test --test-reporter=spec ./*.test.mjs
