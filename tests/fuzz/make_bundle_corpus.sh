#!/usr/bin/env bash
# Rebuilds the seed bundles of tests/fuzz/corpus/bundle with `mandate build`:
#   tests/fuzz/make_bundle_corpus.sh path/to/mandate
# Seeds: the reference library (policies/), the peer-bench ten rules, the VM golden policies and
# tests/fuzz/seeds/*.policy; the first three kinds also signed, with a throwaway Ed25519 key
# (the fuzzer loads without trusted keys, so any valid signature is accepted). Reproducers the
# fuzzer found (crash-*, named for what they broke) are kept alongside and not rebuilt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MANDATE="${1:?usage: make_bundle_corpus.sh path/to/mandate}"
OUT="$ROOT/tests/fuzz/corpus/bundle"
KEY="$(mktemp)"
trap 'rm -f "$KEY"' EXIT
openssl genpkey -algorithm ed25519 -out "$KEY"
mkdir -p "$OUT"
build() {  # build NAME SIGNED PATHS...
  local name="$1" signed="$2"
  shift 2
  "$MANDATE" build "$@" -o "$OUT/$name.bundle" >/dev/null
  if [ "$signed" = 1 ]; then "$MANDATE" build "$@" --sign "$KEY" -o "$OUT/$name-signed.bundle" >/dev/null; fi
}
build reference 1 "$ROOT/policies"
build ten-rules 1 "$ROOT/tests/bench/peers/ten-rules.policy"
for p in "$ROOT"/tests/fuzz/seeds/*.policy; do build "$(basename "$p" .policy)" 1 "$p"; done
for g in decimals match sets shortcircuit; do build "$g" 0 "$ROOT/tests/vm/golden/$g.policy"; done
ls -l "$OUT"
