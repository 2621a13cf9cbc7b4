#!/usr/bin/env bash
# The one test command. Run as root on Debian 12, from any directory:
#
#   ./tools/scripts/test.sh
#
#  1. installs the Debian packages the build needs (tools/scripts/install-deps.sh);
#  2. builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (GCC) in build-ci/;
#  3. runs the whole test suite with ctest;
#  4. builds the libFuzzer targets tests/fuzz/fuzz_policy and fuzz_bundle with clang-14 in build-fuzz/;
#  5. fuzzes the policy front end for FUZZ_SECONDS (default 60) over a scratch copy of
#     tests/fuzz/corpus/policy;
#  6. fuzzes the bundle loader (and the VM on every bundle it accepts) for FUZZ_BUNDLE_SECONDS
#     (default 30) over a scratch copy of tests/fuzz/corpus/bundle.
#
# Exits non-zero if any step fails: a build error, a failing test, or any crash, leak, timeout,
# out-of-memory, sanitizer report or formatter property violation found by the fuzzer.
#
# Environment knobs (all optional):
#   JOBS=N            parallel build/test jobs (default: nproc)
#   FUZZ_SECONDS=N    length of the policy fuzzing run (default 60; 0 skips both fuzz builds and runs)
#   FUZZ_BUNDLE_SECONDS=N  length of the bundle fuzzing run (default 30; 0 skips it)
#   SKIP_DEPS=1       do not run install-deps.sh (packages already installed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

JOBS="${JOBS:-$(nproc)}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_BUNDLE_SECONDS="${FUZZ_BUNDLE_SECONDS:-30}"
CI_DIR="$ROOT/build-ci"
FUZZ_DIR="$ROOT/build-fuzz"
CORPUS="$ROOT/tests/fuzz/corpus/policy"
DICT="$ROOT/tests/fuzz/policy.dict"
BUNDLE_CORPUS="$ROOT/tests/fuzz/corpus/bundle"

# Optimisation for the sanitizer builds: -O1 with line tables only (what sanitizer reports need)
# compiles about twice as fast as RelWithDebInfo's -O2 -g and is the level ASan recommends.
CI_OPT_FLAGS="-O1 -g1 -DNDEBUG"
FUZZ_OPT_FLAGS="-O1 -gline-tables-only -DNDEBUG"

START=$SECONDS
header() {
  local t=$((SECONDS - START))
  printf '\n==== [%02d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*"
}
fail() {
  printf '\n==== FAILED: %s\n' "$*" >&2
  exit 1
}

# Sanitizer settings for everything below: stop at the first report, with a stack trace.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# ---------------------------------------------------------------------------------------------
header "1/6 dependencies (tools/scripts/install-deps.sh)"
if [ "${SKIP_DEPS:-0}" = 1 ]; then
  echo "SKIP_DEPS=1: not installing packages"
else
  "$ROOT/tools/scripts/install-deps.sh"
fi

# ---------------------------------------------------------------------------------------------
header "2/6 build with ASan+UBSan (GCC) in build-ci/"
GEN=(-G Ninja)
[ -f "$CI_DIR/CMakeCache.txt" ] && GEN=()   # an existing build directory keeps its generator
cmake -S "$ROOT" -B "$CI_DIR" "${GEN[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$CI_OPT_FLAGS" \
  -DMANDATE_SANITIZE=ON -DMANDATE_TESTS=ON -DMANDATE_FUZZ=OFF ||
  fail "configuring build-ci"
cmake --build "$CI_DIR" -j "$JOBS" || fail "building build-ci"

# ---------------------------------------------------------------------------------------------
header "3/6 tests (ctest in build-ci/)"
# --no-tests=error: an empty test list is a failure, not a pass.
(cd "$CI_DIR" && ctest --output-on-failure --no-tests=error -j "$JOBS") || fail "ctest"

if [ "$FUZZ_SECONDS" = 0 ]; then
  header "done in $((SECONDS - START)) s (FUZZ_SECONDS=0: fuzzing skipped)"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
header "4/6 build the libFuzzer targets with clang-14 in build-fuzz/"
# Only the fuzz targets: the engine, the grammar and the harnesses, all with
# -fsanitize=fuzzer-no-link,address,undefined. (The ANTLR runtime is Debian's uninstrumented
# shared library.)
GEN=(-G Ninja)
[ -f "$FUZZ_DIR/CMakeCache.txt" ] && GEN=()   # an existing build directory keeps its generator
cmake -S "$ROOT" -B "$FUZZ_DIR" "${GEN[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$FUZZ_OPT_FLAGS" \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DMANDATE_FUZZ=ON -DMANDATE_TESTS=OFF -DMANDATE_SANITIZE=OFF ||
  fail "configuring build-fuzz"
cmake --build "$FUZZ_DIR" -j "$JOBS" --target fuzz_policy fuzz_bundle || fail "building the fuzz targets"

# Symbolized stack traces in clang's sanitizer reports (llvm-14 is in install-deps.sh).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
WORK="$(mktemp -d /tmp/mandate-fuzz.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# fuzz TARGET SEED_CORPUS SECONDS [libFuzzer flags...]: runs build-fuzz/tests/fuzz/TARGET over a
# scratch copy of SEED_CORPUS and fails on any crash, leak, timeout, out-of-memory, sanitizer
# report or property violation. Reproducers go to build-fuzz/artifacts/TARGET/.
fuzz() {
  local target="$1" seeds="$2" seconds="$3"
  shift 3
  [ -d "$seeds" ] || fail "no seed corpus at $seeds"
  local corpus="$WORK/$target"
  mkdir -p "$corpus"
  cp -R "$seeds/." "$corpus/"   # libFuzzer adds to its first corpus directory: never the committed one
  local artifacts="$FUZZ_DIR/artifacts/$target"
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  local log="$FUZZ_DIR/$target.log"

  set +e
  (
    cd "$WORK"   # crash-*/leak-* files go to the artifacts directory; anything else lands here
    "$FUZZ_DIR/tests/fuzz/$target" \
      -max_total_time="$seconds" \
      -timeout=25 \
      -rss_limit_mb=3072 \
      -detect_leaks=1 \
      -print_final_stats=1 \
      -artifact_prefix="$artifacts/" \
      "$@" \
      "$corpus"
  ) >"$log" 2>&1
  local status=$?
  set -e

  # libFuzzer exits non-zero on a crash, leak, timeout or OOM. Also fail on any sanitizer or
  # property report that somehow did not stop it (e.g. from a child thread).
  local reported=0
  # (Anchored patterns: libFuzzer echoes fragments of inputs in its NEW/REDUCE lines.)
  local report_re="^==[0-9]+==ERROR: |^[^ ]+:[0-9]+:[0-9]+: runtime error: |^==$target== PROPERTY VIOLATED|^SUMMARY: |^==[0-9]+== ERROR: libFuzzer"
  if grep -qaE "$report_re" "$log"; then
    reported=1
  fi
  # The run's own summary: the last status lines and the final stats.
  grep -aE '^#[0-9]+[[:space:]]+(INITED|DONE|pulse)|^stat::|^Done [0-9]+ runs' "$log" | tail -n 14 || true
  if [ "$status" -ne 0 ] || [ "$reported" -ne 0 ]; then
    echo
    echo "---- fuzzer report (from $log) ----"
    grep -naE "$report_re|Test unit written to" "$log" | head -n 20 || true
    local first
    first=$(grep -naE "$report_re" "$log" | head -n 1 | cut -d: -f1)
    if [ -n "$first" ]; then
      sed -n "${first},$((first + 120))p" "$log"
    else
      tail -n 60 "$log"
    fi
    echo "---- reproducer(s) in $artifacts: ----"
    ls -la "$artifacts" || true
    echo "replay one with: $FUZZ_DIR/tests/fuzz/$target $artifacts/<file>"
    fail "$target (exit status $status)"
  fi
  local runs
  runs=$(grep -aoE '^Done [0-9]+ runs' "$log" | tail -n 1 || true)
  echo "fuzzing clean: ${runs:-see $log}"
}

# ---------------------------------------------------------------------------------------------
header "5/6 fuzz_policy for ${FUZZ_SECONDS} s over a copy of tests/fuzz/corpus/policy"
fuzz fuzz_policy "$CORPUS" "$FUZZ_SECONDS" -max_len=4096 -dict="$DICT"

# ---------------------------------------------------------------------------------------------
if [ "$FUZZ_BUNDLE_SECONDS" = 0 ]; then
  header "6/6 fuzz_bundle skipped (FUZZ_BUNDLE_SECONDS=0)"
else
  header "6/6 fuzz_bundle for ${FUZZ_BUNDLE_SECONDS} s over a copy of tests/fuzz/corpus/bundle"
  # -max_len: the largest seed (the reference library, signed) is about 28 KB.
  fuzz fuzz_bundle "$BUNDLE_CORPUS" "$FUZZ_BUNDLE_SECONDS" -max_len=32768
fi

header "all passed in $((SECONDS - START)) s"
