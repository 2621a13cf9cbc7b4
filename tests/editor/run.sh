#!/usr/bin/env bash
# Tests of the TextMate grammar for .policy files (tools/editor). Needs Node.js >= 18 and npm;
# installs the locked dependencies (package-lock.json) only when node_modules is missing, so
# later runs work offline. Registered with CTest as `editor_textmate`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1; then
  echo "editor tests: node (Node.js >= 18) is required but not on PATH" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 18 )); then
  echo "editor tests: Node.js >= 18 is required (found $(node --version))" >&2
  exit 1
fi

if [[ ! -d node_modules/vscode-textmate || ! -d node_modules/vscode-oniguruma ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "editor tests: npm is required to install the test dependencies" >&2
    exit 1
  fi
  npm ci --no-audit --no-fund --loglevel=error
fi

exec node --test --test-reporter=spec ./*.test.mjs
