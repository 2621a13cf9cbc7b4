#!/usr/bin/env bash
# The reference library's acceptance in CI: clean under --werror, canonically formatted, every
# test passing and every rule exercised. Usage: policies_test.sh PATH/TO/mandate
set -euo pipefail
mandate="$1"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
"$mandate" check --werror policies/
"$mandate" fmt --check policies/
"$mandate" test --coverage policies/ | tail -n 4
