#!/usr/bin/env bash
# Follows a Markdown document literally: writes the files it shows and runs the commands it shows,
# in order, in a fresh temporary directory, and fails on any difference from the output it shows.
#
#   tutorial_test.sh MANDATE [DOC.md] [--workdir DIR]
#
# MANDATE is the built `mandate` binary; its directory is put first on PATH. DOC defaults to
# docs/tutorial.md. With --workdir the document runs in DIR (which must be empty) and DIR is kept
# (tests/docs/cookbook_test.sh uses this to check the files afterwards); otherwise a temporary
# directory is used and removed.
#
# Conventions (write docs/tutorial.md and docs/cookbook.md with these):
#
# 1. A file block is a fenced block whose info string has `title="PATH"`, e.g.
#        ```policy title="schema.policy"
#    Its content is written to PATH, relative to the current directory at that point of the
#    document (directories are created). A later block with the same title replaces the file: show
#    a corrected file in full.
#
# 2. A ```console block is a terminal session. Each line starting with `$ ` is a command, run with
#    bash in the current directory (a `cd` carries over to later commands, nothing else does); the
#    lines after it, up to the next `$ ` line or the end of the block, are the output the command
#    must print (stdout and stderr together, as a terminal shows them). The comparison is exact,
#    except:
#      - a line that is just `...` matches any number of lines, none included;
#      - `...` inside a line matches any text on that line (for hashes, keys and timings).
#    Every command must exit 0, unless the info string says `exit=N` (```console exit=1): then
#    every command of that block must exit N. Put a failing command in a block of its own.
#
# 3. Every other block (```sh, ```text, ```policy without a title, ...) is not run: it is an
#    illustration, or a step that happens elsewhere (installing Mandate in its source checkout).
#
# Fences are lines starting with ``` at column 0; indented (list-item) fences are not recognised,
# so runnable blocks must not be indented. The commands run with LC_ALL=C, TZ=UTC and HOME set to
# the work directory; `mandate check` sees no terminal, so its output has no colour.
set -uo pipefail

usage() { echo "usage: $0 MANDATE [DOC.md] [--workdir DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
mandate_bin=$1; shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
doc="$here/../../docs/tutorial.md"
workdir=""
while [ $# -gt 0 ]; do
  case $1 in
    --workdir) [ $# -ge 2 ] || usage; workdir=$2; shift 2 ;;
    -*) usage ;;
    *) doc=$1; shift ;;
  esac
done
[ -x "$mandate_bin" ] || { echo "not executable: $mandate_bin" >&2; exit 2; }
[ -f "$doc" ] || { echo "no such document: $doc" >&2; exit 2; }
mandate_dir=$(cd "$(dirname "$mandate_bin")" && pwd)
doc=$(cd "$(dirname "$doc")" && pwd)/$(basename "$doc")
root=$(cd "$here/../.." && pwd)
docname=${doc#"$root/"}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -z "$workdir" ]; then
  workdir="$scratch/work"
  mkdir "$workdir"
else
  mkdir -p "$workdir"
  [ -z "$(ls -A "$workdir")" ] || { echo "work directory is not empty: $workdir" >&2; exit 2; }
fi
workdir=$(cd "$workdir" && pwd)
cwd=$workdir
export PATH="$mandate_dir:$PATH" LC_ALL=C TZ=UTC HOME="$workdir"
unset NO_COLOR CLICOLOR_FORCE

commands=0
files=0

fail() {
  echo "$docname:$1: $2" >&2
  exit 1
}

# Does one actual line match one expected line (with `...` as "any text")?
line_matches() {
  local expected=$1 actual=$2
  if [[ $expected != *...* ]]; then
    [[ $actual == "$expected" ]]
    return
  fi
  local p=$expected
  p=${p//\\/\\\\}
  p=${p//\*/\\*}
  p=${p//\?/\\?}
  p=${p//\[/\\[}
  p=${p//.../*}
  # shellcheck disable=SC2053  # $p is a glob on purpose
  [[ $actual == $p ]]
}

# Do the lines in file $2 match the expected lines in file $1 (a `...` line = any lines)?
# The classic wildcard algorithm, with lines as characters and `...` lines as `*`.
output_matches() {
  local -a exp act
  mapfile -t exp < "$1"
  mapfile -t act < "$2"
  local i=0 j=0 star=-1 mark=0 ne=${#exp[@]} na=${#act[@]}
  while [ "$j" -lt "$na" ]; do
    if [ "$i" -lt "$ne" ] && [ "${exp[i]}" = "..." ]; then
      star=$i; mark=$j; i=$((i + 1))
    elif [ "$i" -lt "$ne" ] && line_matches "${exp[i]}" "${act[j]}"; then
      i=$((i + 1)); j=$((j + 1))
    elif [ "$star" -ge 0 ]; then
      i=$((star + 1)); mark=$((mark + 1)); j=$mark
    else
      return 1
    fi
  done
  while [ "$i" -lt "$ne" ] && [ "${exp[i]}" = "..." ]; do i=$((i + 1)); done
  [ "$i" -eq "$ne" ]
}

# Runs one command of a console block and compares its output and exit status.
run_command() {
  local line=$1 cmd=$2 expected_file=$3 want_status=$4
  local out="$scratch/out" state="$scratch/cwd"
  commands=$((commands + 1))
  (
    set +uo pipefail
    cd "$cwd" || exit 97
    eval "$cmd"
    rc=$?
    pwd > "$state"
    exit $rc
  ) > "$out" 2>&1 < /dev/null
  local status=$?
  [ -s "$state" ] && cwd=$(cat "$state")
  rm -f "$state"
  if ! output_matches "$expected_file" "$out"; then
    {
      echo "$docname:$line: output of \`$cmd\` differs from the document"
      echo "--- expected (document)"
      cat "$expected_file"
      echo "--- actual"
      cat "$out"
      echo "--- diff (document -> actual; \`...\` lines are wildcards)"
      diff "$expected_file" "$out"
    } >&2
    exit 1
  fi
  if [ "$status" -ne "$want_status" ]; then
    echo "$docname:$line: \`$cmd\` exited with status $status, the document expects $want_status" >&2
    cat "$out" >&2
    exit 1
  fi
}

# Runs the commands of one console block, whose lines are in $1 (first line at document line $2).
run_console_block() {
  local body=$1 first=$2 want_status=$3
  local -a lines
  mapfile -t lines < "$body"
  local n=${#lines[@]} k=0 cmd="" cmd_line=0
  local expected="$scratch/expected"
  : > "$expected"
  for ((k = 0; k < n; k++)); do
    local l=${lines[k]}
    if [[ $l == '$ '* ]]; then
      [ -n "$cmd" ] && run_command "$cmd_line" "$cmd" "$expected" "$want_status"
      cmd=${l:2}; cmd_line=$((first + k)); : > "$expected"
    elif [ -z "$cmd" ]; then
      fail $((first + k)) "console block: output before the first \`\$ \` command"
    else
      printf '%s\n' "$l" >> "$expected"
    fi
  done
  [ -n "$cmd" ] || fail "$first" "console block without a \`\$ \` command"
  run_command "$cmd_line" "$cmd" "$expected" "$want_status"
}

in_block=0
kind=""
title=""
status=0
block_start=0
lineno=0
body="$scratch/body"
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  if [ "$in_block" -eq 0 ]; then
    [[ $line == '```'* ]] || continue
    info=${line#'```'}
    in_block=1; block_start=$((lineno + 1)); kind=other; title=""; status=0
    : > "$body"
    if [[ $info =~ title=\"([^\"]+)\" ]]; then
      kind="file"; title=${BASH_REMATCH[1]}
    elif [[ $info =~ ^console([[:space:]]|$) ]]; then
      kind=console
      if [[ $info =~ exit=([0-9]+) ]]; then status=${BASH_REMATCH[1]}; fi
    fi
    continue
  fi
  if [[ $line != '```' ]]; then
    printf '%s\n' "$line" >> "$body"
    continue
  fi
  in_block=0
  case $kind in
    file)
      case $title in /*|*..*) fail "$block_start" "file block title must be a relative path: $title" ;; esac
      mkdir -p "$(dirname "$cwd/$title")"
      cp "$body" "$cwd/$title"
      files=$((files + 1))
      ;;
    console)
      run_console_block "$body" "$block_start" "$status"
      ;;
  esac
done < "$doc"
[ "$in_block" -eq 0 ] || fail "$block_start" "unterminated code block"
[ "$commands" -gt 0 ] || fail 1 "no console commands found: is the convention in tests/docs/tutorial_test.sh followed?"
echo "$docname: $files files written, $commands commands run, all as documented"
