#!/usr/bin/env bash
# End-to-end security tests of `mandate serve` (the attack cases of
# /work/shared/reference/security.md that apply to the token, introspection and revocation
# endpoints), run from the attacker's side over HTTP with Node's test runner.
# Usage: run.sh MANDATE_BINARY [node --test options...]
# Installs the locked dependencies (package-lock.json) only when node_modules is missing, so
# later runs work offline. Each test file starts its own server on a free port with a temporary
# data directory; MANDATE_KEEP_TMP=1 keeps those directories (server stderr included).
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 MANDATE_BINARY [node --test options...]" >&2
  exit 2
fi
MANDATE_BINARY=$(realpath "$1")
shift
export MANDATE_BINARY
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1; then
  echo "server integration tests: node (Node.js >= 20) is required but not on PATH" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 20 )); then
  echo "server integration tests: Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
fi
if [[ ! -x "$MANDATE_BINARY" ]]; then
  echo "server integration tests: $MANDATE_BINARY is not an executable" >&2
  exit 1
fi

if [[ ! -d node_modules/jose ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "server integration tests: npm is required to install the test dependencies" >&2
    exit 1
  fi
  npm ci --no-audit --no-fund --loglevel=error
fi

exec node --test --test-reporter=spec "$@" ./*.test.mjs
