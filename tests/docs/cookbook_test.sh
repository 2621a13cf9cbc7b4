#!/usr/bin/env bash
# Checks every recipe of docs/cookbook.md with the real `mandate`.
#
#   cookbook_test.sh MANDATE
#
# 1. Follows the document with tutorial_test.sh (its conventions are described there): every
#    ```policy title="PATH" block is written to PATH in a fresh directory and every ```console
#    block is run and compared, in document order.
# 2. Then, on the files at the top level of that directory (the recipes; `mistakes/` holds the
#    deliberately wrong examples, whose output step 1 already compared):
#    - `mandate check --werror` and `mandate fmt --check` on all of them together;
#    - `mandate test --coverage` on each `*_test.policy` file: its tests pass and every rule of the
#      recipe it imports is exercised;
#    - every file that declares a policy is imported by some `*_test.policy` file.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 MANDATE" >&2; exit 2; }
mandate_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
doc="$here/../../docs/cookbook.md"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$here/tutorial_test.sh" "$mandate_bin" "$doc" --workdir "$work/cookbook" || exit 1
cd "$work/cookbook" || exit 1
export LC_ALL=C TZ=UTC

failed=0
problem() {
  echo "docs/cookbook.md: $1" >&2
  failed=1
}

shopt -s nullglob
policies=(*.policy)
tests=(*_test.policy)
[ "${#tests[@]}" -gt 0 ] || problem "no *_test.policy file blocks found"

if ! out=$("$mandate_bin" check --werror "${policies[@]}" 2>&1); then
  problem "mandate check --werror fails on the recipes:"
  echo "$out" >&2
fi
if ! out=$("$mandate_bin" fmt --check "${policies[@]}" 2>&1); then
  problem "the recipes are not in the layout of mandate fmt (show them formatted):"
  echo "$out" >&2
fi
for t in "${tests[@]}"; do
  if ! out=$("$mandate_bin" test --coverage "$t" 2>&1); then
    problem "mandate test --coverage $t fails:"
    echo "$out" >&2
  elif ! grep -q '^PASS ' <<< "$out"; then
    problem "$t has no tests"
  fi
done
for p in "${policies[@]}"; do
  case $p in *_test.policy) continue ;; esac
  grep -q '^policy ' "$p" || continue
  grep -lq "^import \"$p\"" "${tests[@]}" || problem "$p declares a policy but no *_test.policy file imports it"
done

[ "$failed" -eq 0 ] || exit 1
echo "docs/cookbook.md: ${#policies[@]} files check, are formatted, and pass ${#tests[@]} test files with full coverage"
