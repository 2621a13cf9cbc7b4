#!/usr/bin/env bash
# Installs the Debian 12 packages Mandate builds and tests with. Idempotent; run as root.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  antlr4 libantlr4-runtime-dev default-jre-headless
  nlohmann-json3-dev libcli11-dev libfmt-dev doctest-dev libbenchmark-dev libssl-dev
  clang-14 libclang-rt-14-dev llvm-14
  libboost-dev libtomlplusplus-dev libsqlite3-dev libjemalloc-dev sqlite3 wrk curl
)
# antlr4 (the grammar generator, run at build time) needs a JRE: default-jre-headless.
# clang-14 + libclang-rt-14-dev: the libFuzzer build; llvm-14: llvm-symbolizer for its reports.
# libboost-dev (Asio + Beast, header-only), libtomlplusplus-dev (config files), libsqlite3-dev:
# the server (server/); libjemalloc-dev: its allocator in builds without sanitizers
# (MANDATE_JEMALLOC); sqlite3, wrk, curl: its tests and benchmarks.
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js >= 18 and npm for the editor grammar tests (tests/editor/run.sh, which runs `npm ci`).
# Checked by command, not package: a NodeSource `nodejs` bundles npm and conflicts with Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
