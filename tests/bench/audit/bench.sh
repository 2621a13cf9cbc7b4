#!/usr/bin/env bash
# `tests/bench/run audit`: what the audit trail costs the token endpoint.
#  1. Durable records per second of the audit library alone (tests/server/audit/bench.cpp, target
#     audit_bench) with 1, 8 and 64 concurrent appenders, each waiting for its record to be
#     durable as a request does; run on the filesystem of the server's data directory.
#  2. Tokens per second of `mandate serve` (client_credentials, client_secret_basic, ES256 JWT,
#     tests/bench/token/token.lua) under wrk at 256 connections with the audit trail on (the
#     default) and with `--audit off`, same data, client, policies and load, interleaved
#     (off, on, off, on, ...) so that noise from other work on the machine falls on both; each run
#     on a freshly started server. The best run of each mode is reported (a shared machine only
#     ever makes a run slower). Per run also: the server's CPU per token, the machine's idle
#     share, the server threads' runqueue wait, and (on) records per audit transaction.
#  3. After each on-run, the token.issued records the run added to DATA/audit.db (sqlite3) must be
#     at least the 200s wrk counted (warm-up included): a response is sent only once its record
#     is durable. After each off-run, none may have been added. At the end, `mandate audit verify`
#     checks the whole chain written under load.
# Last line (best run of each mode; ratio = on / off):
#   bench: audit_records_per_s=N tokens_per_s_audit_on=N tokens_per_s_audit_off=N ratio=N
#
# Environment: BENCH_QUICK=1 (short runs), BENCH_BUILD_DIR (default build-benchaudit),
# BENCH_SECONDS / BENCH_WARMUP_SECONDS (length of each measured run and of its warm-up),
# BENCH_ROUNDS (off+on pairs, default 2), BENCH_CONNECTIONS (wrk's, default 256: group commit
# shares one fsync among the requests waiting for it, so its throughput is concurrency / commit
# time; at 64 connections the audit-on runs leave the cores partly idle, waiting on commits),
# BENCH_PERF=1 (one more off-run and on-run, not counted, under `perf record` on the server;
# prints its threads' and hottest functions' shares of samples).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
TOKEN="$ROOT/tests/bench/token"

build="${BENCH_BUILD_DIR:-build-benchaudit}"
[[ "$build" = /* ]] || build="$ROOT/$build"
if [[ -n "${BENCH_QUICK:-}" ]]; then
  seconds="${BENCH_SECONDS:-3}"; warmup="${BENCH_WARMUP_SECONDS:-1}"; lib_seconds=1
else
  seconds="${BENCH_SECONDS:-10}"; warmup="${BENCH_WARMUP_SECONDS:-2}"; lib_seconds=3
fi
rounds="${BENCH_ROUNDS:-2}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "tests/bench/run audit: BENCH_ROUNDS must be a positive integer" >&2; exit 2; }
conns="${BENCH_CONNECTIONS:-256}"
[[ "$conns" =~ ^[1-9][0-9]*$ ]] || { echo "tests/bench/run audit: BENCH_CONNECTIONS must be a positive integer" >&2; exit 2; }
wrk_threads=2
# Non-200 answers (and socket errors) allowed, per million requests: 0.1%, as in the token suite.
max_bad_ppm=1000

die() { echo "tests/bench/run audit: $*" >&2; exit 1; }

for tool in cmake c++ node wrk curl sqlite3; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

field() {  # field LINE KEY: the value of KEY=value in LINE
  local kv
  for kv in $1; do
    if [[ "$kv" == "$2="* ]]; then printf '%s\n' "${kv#*=}"; return 0; fi
  done
  die "no $2 in: $1"
}

# One Release build holds both: audit_bench lives with the audit tests (MANDATE_TESTS=ON), which
# changes no compile flag of the server; only the two targets are built.
echo "== build mandate and audit_bench (Release) in $build"
gen=()
if [[ ! -f "$build/CMakeCache.txt" ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
cmake -S "$ROOT" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DMANDATE_TESTS=ON \
  -DMANDATE_SANITIZE=OFF -DMANDATE_FUZZ=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target mandate audit_bench -j "$(nproc)" >"$build.build.log" 2>&1 ||
  { tail -50 "$build.build.log" >&2; exit 1; }
rm -f "$build.configure.log" "$build.build.log"
mandate="$build/tools/mandate"
audit_bench="$build/tests/server/audit/audit_bench"
[[ -x "$mandate" && -x "$audit_bench" ]] || die "no $mandate or $audit_bench after the build"
serve_help="$("$mandate" serve --help 2>&1 || true)"
[[ "$serve_help" == *--audit* ]] ||
  die "this mandate serve has no --audit option: the server does not write audit records yet"

work="$(mktemp -d)"
m_pid=""
perf_pid=""
cleanup() {
  local pid
  for pid in $m_pid $perf_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $m_pid $perf_pid; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

machine() {
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
started=$SECONDS
machine
echo "data dir: $work ($(df -hT "$work" | awk 'NR == 2 { print $2 " on " $1 ", " $6 " used" }'))"

# ---------------------------------------------------------------------------- the library alone
echo "== audit library alone: durable records/s with 1, 8, 64 appenders, ${lib_seconds} s each, in $work"
"$audit_bench" "$work" "$lib_seconds" 1,8,64 | tee "$work/audit_bench.out"
lib_line="$(grep '^appenders=64 ' "$work/audit_bench.out")" || die "audit_bench printed no 64-appender figure"
lib_rps="$(field "$lib_line" durable_records_per_s)"
(( $(field "$lib_line" failed) == 0 )) || die "audit_bench: records failed: $lib_line"

# ---------------------------------------------------------------------------- the server
data="$work/mandate-data"
db="$data/audit.db"
subject='{"kyc_tier":3,"residence":"SG","category":"professional","us_person":false,"ecp":true,"appropriateness":[],"net_worth_usd":"5000000","onboarded":"2024-01-01T00:00:00Z"}'
# The same subject and client as the token suite: a trading bot allowed from 127.0.0.1, granted
# read and trade (the admin commands check against ./policies, hence the repository root).
(cd "$ROOT" && "$mandate" subject set acct-bench --data-dir "$data" --attrs "$subject" >/dev/null)
(cd "$ROOT" && "$mandate" client create --data-dir "$data" --id bench --subject acct-bench --grant client_credentials \
  --auth client_secret_basic --scope "read trade" --kind trading_bot --ip-allowlist 127.0.0.1/32 \
  --json >"$work/client.json")
secret="$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(c.client_secret)' "$work/client.json")"
[[ -n "$secret" ]] || die "mandate client create --json gave no client_secret"
basic="$(printf '%s:%s' bench "$secret" | base64 -w0)"
form='grant_type=client_credentials&scope=read%20trade'

start_mandate() {  # start_mandate [serve options]: sets m_pid, m_port
  rm -f "$work/mandate.port"
  (cd "$ROOT" && exec "$mandate" serve --data-dir "$data" --listen 127.0.0.1:0 --port-file "$work/mandate.port" \
    --policies "$ROOT/policies" "$@" 2>"$work/mandate.log") &
  m_pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -s "$work/mandate.port" && "$(cat "$work/mandate.port")" =~ ^[0-9]+$ ]] && break
    kill -0 "$m_pid" 2>/dev/null || die "mandate serve $* exited before listening: $(tail -5 "$work/mandate.log")"
    sleep 0.1
  done
  m_port="$(cat "$work/mandate.port" 2>/dev/null)"
  [[ "$m_port" =~ ^[0-9]+$ ]] || die "mandate serve did not write its port within 30 s"
  for ((i = 0; i < 300; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$m_port/readyz" || true)" == 200 ]] && return 0
    sleep 0.1
  done
  die "mandate serve is not ready: /readyz did not answer 200 within 30 s"
}
stop_mandate() {
  kill -TERM "$m_pid" 2>/dev/null || true
  wait "$m_pid" 2>/dev/null || true
  m_pid=""
}

# The audit trail as /readyz reports it: ok, failing or off.
readyz_audit() {
  curl -s "http://127.0.0.1:$m_port/readyz" |
    node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => process.stdout.write(String(JSON.parse(s).audit)))'
}

# The audit database appears with the first record (the admin commands or an audited server).
# audit_counters: "records transactions" the server has made durable (its /metrics).
audit_counters() {
  curl -s "http://127.0.0.1:$m_port/metrics" |
    awk '$1 == "mandate_audit_records_total" { r = $2 } $1 == "mandate_audit_batches_total" { b = $2 } END { print r + 0, b + 0 }'
}

max_seq() {
  if [[ -f "$db" ]]; then sqlite3 -readonly "$db" 'SELECT coalesce(max(seq), 0) FROM records'; else echo 0; fi
}
issued_since() {
  if [[ -f "$db" ]]; then sqlite3 -readonly "$db" "SELECT count(*) FROM records WHERE seq > $1 AND type = 'token.issued'"; else echo 0; fi
}

# wrk_run SECONDS [--latency]: one wrk run at $conns connections; sets line, ok (200s with a token).
wrk_run() {
  local secs="$1"; shift
  BENCH_BASIC="$basic" BENCH_BODY="$form" wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" "$@" \
    -s "$TOKEN/token.lua" "http://127.0.0.1:$m_port/token" >"$work/wrk.out"
  line="$(grep '^wrk: requests=' "$work/wrk.out")" || { cat "$work/wrk.out" >&2; die "no result from wrk"; }
  ok=$(( $(field "$line" requests) - $(field "$line" non200) ))
}

# CPU accounting over the measured run: the server's CPU time (its threads, user + system) and
# the machine's idle share (iowait included), which tells a CPU-bound run from one that waits.
hz="$(getconf CLK_TCK)"
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Nanoseconds the server's threads spent runnable but waiting for a CPU (schedstat): high when
# other work on the machine starves the server, and a serial stage (the audit writer) feels it most.
runq_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f", s }'; }
machine_ticks() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

results=()  # "mode tokens_per_s p50 p99 bad tokens records server_cpu_pct us_per_token idle_pct"
# measure MODE: a fresh server (audit on or off), a warm-up, the measured run, the record check.
measure() {
  local mode="$1" flags=() expect=ok seq0 tokens records audit requests bad t0 t1 idle0 all0 idle1 all1 r0 b0 r1 b1 q0 q1
  [[ "$mode" == off ]] && flags=(--audit off) expect=off
  start_mandate "${flags[@]}"
  audit="$(readyz_audit)"
  [[ "$audit" == "$expect" ]] || die "audit $mode: /readyz says audit is \"$audit\", expected \"$expect\""
  seq0="$(max_seq)"
  wrk_run "$warmup"
  tokens=$ok
  read -r r0 b0 < <(audit_counters)
  t0="$(proc_ticks "$m_pid")"; q0="$(runq_ns "$m_pid")"; read -r idle0 all0 < <(machine_ticks)
  wrk_run "$seconds" --latency
  t1="$(proc_ticks "$m_pid")"; q1="$(runq_ns "$m_pid")"; read -r idle1 all1 < <(machine_ticks)
  read -r r1 b1 < <(audit_counters)
  local cpu_pct us_per_token idle_pct runq_pct
  runq_pct="$(awk -v q=$((q1 - q0)) -v s="$(field "$line" seconds)" 'BEGIN { printf "%.0f", q / 1e7 / s }')"
  cpu_pct="$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$(field "$line" seconds)" 'BEGIN { printf "%.0f", 100 * t / hz / s }')"
  us_per_token="$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$ok" 'BEGIN { printf "%.1f", n ? 1e6 * t / hz / n : 0 }')"
  idle_pct="$(awk -v i=$((idle1 - idle0)) -v a=$((all1 - all0)) 'BEGIN { printf "%.0f", a ? 100 * i / a : 0 }')"
  tokens=$(( tokens + ok ))
  # Counted while the server still runs: every 200 wrk saw was durable before it was sent.
  records="$(issued_since "$seq0")"
  stop_mandate
  requests="$(field "$line" requests)"
  bad=$(( $(field "$line" non200) + $(field "$line" socket_errors) ))
  echo "audit $mode: ${line#wrk: }"
  grep '^wrk: first non-200' "$work/wrk.out" || true
  (( requests > 0 )) || die "audit $mode: no request completed"
  if (( bad * 1000000 > requests * max_bad_ppm )); then
    die "audit $mode: $bad of $requests requests were not a 200 with a token (over 0.1%); the figures would measure errors"
  fi
  if [[ "$mode" == on ]]; then
    echo "  token.issued records added: $records; tokens wrk received (warm-up included): $tokens"
    # Group commit at work: how many records shared each transaction (and its fsync).
    echo "  measured run: $((r1 - r0)) records in $((b1 - b0)) transactions ($(awk -v r=$((r1 - r0)) -v b=$((b1 - b0)) -v s="$(field "$line" seconds)" \
      'BEGIN { printf "%.1f records per transaction, %.0f transactions/s", b ? r / b : 0, b / s }'))"
    (( records >= tokens )) || die "audit on: $tokens tokens were issued but only $records token.issued records are in $db"
  else
    (( records == 0 )) || die "audit off: $records token.issued records were written with --audit off"
  fi
  results+=("$mode $(field "$line" tokens_per_s) $(field "$line" p50_ms) $(field "$line" p99_ms) $bad $tokens $records $cpu_pct $us_per_token $idle_pct $runq_pct")
}

echo "== token endpoint, audit on and --audit off interleaved: $rounds x (off, on); wrk -t$wrk_threads -c$conns, ${warmup} s warm-up then ${seconds} s, fresh server each run (wrk shares the cores with it)"
# The server reads its group-commit delay from the environment too: say when it is not the default.
[[ -n "${MANDATE_AUDIT_COMMIT_DELAY_US:-}" ]] && echo "audit commit delay from the environment: MANDATE_AUDIT_COMMIT_DELAY_US=$MANDATE_AUDIT_COMMIT_DELAY_US"
for ((r = 1; r <= rounds; r++)); do
  measure off
  measure on
done
machine

# ---------------------------------------------------------------------------- the chain
echo "== mandate audit verify over the $(max_seq) records written"
verify_start=$SECONDS
"$mandate" audit verify --data-dir "$data" || die "mandate audit verify failed on the records written under load"
echo "  (verified in $(( SECONDS - verify_start )) s)"

# ---------------------------------------------------------------------------- where the time goes
if [[ -n "${BENCH_PERF:-}" ]]; then
  command -v perf >/dev/null || die "BENCH_PERF=1 needs perf"
  # Template arguments dropped and each line cut, so that a function fits on one line.
  perf_top() {  # perf_top SORT LINES
    perf report -i "$work/perf.data" --stdio --no-children --sort "$1" 2>/dev/null | grep -v '^#' | grep -v '^$' |
      sed -e 's/nlohmann::json_abi_v[0-9_]*::/nlohmann::/g' -e ':a' -e 's/<[^<>]*>//g' -e 'ta' -e 's/  */ /g' -e 's/ - - *$//' | cut -c1-140 | head -"$2" || true
  }
  for mode in off on; do
    flags=()
    [[ "$mode" == off ]] && flags=(--audit off)
    echo "== one more audit-$mode run under perf record (not counted in the figures)"
    start_mandate "${flags[@]}"
    perf record -o "$work/perf.data" -p "$m_pid" -- sleep "$(( warmup + seconds ))" >/dev/null 2>"$work/perf.log" &
    perf_pid=$!
    wrk_run "$warmup"
    wrk_run "$seconds"
    echo "audit $mode, profiled: ${line#wrk: }"
    wait "$perf_pid" || { cat "$work/perf.log" >&2; die "perf record failed"; }
    perf_pid=""
    stop_mandate
    echo "-- by thread (thread id:name), % of the server's CPU samples"
    perf_top pid 8
    echo "-- hottest functions (self)"
    perf_top dso,symbol 30
  done
fi

# ---------------------------------------------------------------------------- figures
echo
echo "== figures (client_credentials + client_secret_basic, ES256 JWT, wrk -c$conns; best run of each mode)"
# server_cpu: % of one core (200 = both); cpu_us/token: server CPU per token; idle: the machine's;
# runq: the server's threads' time runnable but not running, % of one core (other load on the cores).
printf '%-5s %4s %10s %9s %9s %7s %9s %9s %11s %13s %5s %5s\n' audit run tokens/s p50_ms p99_ms non200 tokens records \
  server_cpu% cpu_us/token idle% runq%
best_on=0 best_off=0 on_p50="" on_p99="" off_p50="" off_p99=""
declare -A nth=()
for res in "${results[@]}"; do
  read -r mode tps p50 p99 bad tokens records cpu us idle runq <<<"$res"
  nth[$mode]=$(( ${nth[$mode]:-0} + 1 ))
  [[ "$mode" == off ]] && records="-"
  printf '%-5s %4s %10s %9s %9s %7s %9s %9s %11s %13s %5s %5s\n' "$mode" "${nth[$mode]}" "$tps" "$p50" "$p99" "$bad" \
    "$tokens" "$records" "$cpu" "$us" "$idle" "$runq"
  if [[ "$mode" == on ]] && (( tps > best_on )); then best_on=$tps on_p50=$p50 on_p99=$p99; fi
  if [[ "$mode" == off ]] && (( tps > best_off )); then best_off=$tps off_p50=$p50 off_p99=$p99; fi
done
ratio="$(awk -v a="$best_on" -v b="$best_off" 'BEGIN { printf "%.2f", a / b }')"
echo
echo "audit library alone, 64 appenders: $lib_rps durable records/s"
echo "best audit on:  $best_on tokens/s (p50 $on_p50 ms, p99 $on_p99 ms)"
echo "best audit off: $best_off tokens/s (p50 $off_p50 ms, p99 $off_p99 ms)"
echo "ratio on/off: $ratio"
met() {  # met VALUE TARGET: whether VALUE >= TARGET
  if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v + 0 >= t + 0) }'; then echo met; else echo "NOT met"; fi
}
echo "acceptance (issue 5): audit on >= 25,000 tokens/s: $(met "$best_on" 25000); on >= 80% of off: $(met "$ratio" 0.80)"
echo "whole suite: $(( SECONDS - started )) s after the build"
echo "bench: audit_records_per_s=${lib_rps} tokens_per_s_audit_on=${best_on} tokens_per_s_audit_off=${best_off} ratio=${ratio}"
