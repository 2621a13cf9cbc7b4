#!/usr/bin/env bash
# `tests/bench/run token`: tokens per second of Mandate's token endpoint (client_credentials,
# client_secret_basic, ES256 JWT access tokens) under wrk at 8 and 64 connections, next to
# node-oidc-provider doing the same work (tests/bench/token/peer); one token from each server
# verified against its /jwks; resident memory of `mandate serve` holding 1,000 idle keep-alive
# connections (fresh, and again after the runs, with the RSS growth per token issued, which
# flags memory retained per request). Last line:
#   bench: tokens_per_s=N p50_ms=N p99_ms=N peer_tokens_per_s=N ratio=N
# (Mandate at 64 connections; the peer's best run; ratio = Mandate / peer).
#
# Environment: BENCH_QUICK=1 (short runs), BENCH_BUILD_DIR (default build-benchtoken),
# BENCH_SECONDS / BENCH_WARMUP_SECONDS (override the run lengths).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/tests/bench/token"
PEER="$HERE/peer"

build="${BENCH_BUILD_DIR:-build-benchtoken}"
[[ "$build" = /* ]] || build="$ROOT/$build"
if [[ -n "${BENCH_QUICK:-}" ]]; then
  seconds="${BENCH_SECONDS:-3}"; warmup="${BENCH_WARMUP_SECONDS:-1}"
else
  seconds="${BENCH_SECONDS:-10}"; warmup="${BENCH_WARMUP_SECONDS:-2}"
fi
# Non-200 answers (and socket errors) allowed, per million requests: 0.1%.
max_bad_ppm=1000
wrk_threads=2

die() { echo "tests/bench/run token: $*" >&2; exit 1; }

for tool in cmake c++ node npm wrk curl; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

field() {  # field LINE KEY: the value of KEY=value in LINE
  local kv
  for kv in $1; do
    if [[ "$kv" == "$2="* ]]; then printf '%s\n' "${kv#*=}"; return 0; fi
  done
  die "no $2 in: $1"
}

echo "== build mandate (Release) in $build"
gen=()
if [[ ! -f "$build/CMakeCache.txt" ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
cmake -S "$ROOT" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DMANDATE_TESTS=OFF \
  -DMANDATE_SANITIZE=OFF -DMANDATE_FUZZ=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target mandate -j "$(nproc)" >"$build.build.log" 2>&1 ||
  { tail -50 "$build.build.log" >&2; exit 1; }
rm -f "$build.configure.log" "$build.build.log"
mandate="$build/tools/mandate"
[[ -x "$mandate" ]] || die "no $mandate after the build"

if [[ ! -f "$PEER/node_modules/oidc-provider/package.json" || ! -f "$PEER/node_modules/jose/package.json" ]]; then
  echo "== npm ci in tests/bench/token/peer"
  (cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port PID FILE NAME: the port a server wrote to FILE once listening.
wait_port() {
  local i
  for ((i = 0; i < 300; i++)); do
    if [[ -s "$2" ]] && [[ "$(cat "$2")" =~ ^[0-9]+$ ]]; then cat "$2"; return 0; fi
    kill -0 "$1" 2>/dev/null || die "$3 exited before listening (log: $(tail -5 "$work/$3.log" 2>/dev/null))"
    sleep 0.1
  done
  die "$3 did not write its port within 30 s"
}

# wait_ready URL NAME: until URL answers 200.
wait_ready() {
  local i
  for ((i = 0; i < 300; i++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" == 200 ]]; then return 0; fi
    sleep 0.1
  done
  die "$2 is not ready: $1 did not answer 200 within 30 s"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

form='grant_type=client_credentials&scope=read%20trade'
results=()  # "name conns tokens_per_s p50 p99 bad" lines
declare -A issued=()  # requests sent to each server, warm-ups included

# run_wrk NAME CONNS PORT CLIENT_ID SECRET: a warm-up, then the measured run.
run_wrk() {
  local name="$1" conns="$2" port="$3" basic line
  basic="$(printf '%s:%s' "$4" "$5" | base64 -w0)"
  local url="http://127.0.0.1:$port/token"
  BENCH_BASIC="$basic" BENCH_BODY="$form" wrk -t"$wrk_threads" -c"$conns" -d"${warmup}s" \
    -s "$HERE/token.lua" "$url" >"$work/wrk.out"
  line="$(grep '^wrk: requests=' "$work/wrk.out")" || { cat "$work/wrk.out" >&2; die "no result from wrk"; }
  issued[$name]=$(( ${issued[$name]:-0} + $(field "$line" requests) ))
  BENCH_BASIC="$basic" BENCH_BODY="$form" wrk -t"$wrk_threads" -c"$conns" -d"${seconds}s" --latency \
    -s "$HERE/token.lua" "$url" >"$work/wrk.out"
  line="$(grep '^wrk: requests=' "$work/wrk.out")" || { cat "$work/wrk.out" >&2; die "no result from wrk"; }
  echo "$name c=$conns: ${line#wrk: }"
  grep '^wrk: first non-200' "$work/wrk.out" || true
  local requests bad
  requests="$(field "$line" requests)"
  bad=$(( $(field "$line" non200) + $(field "$line" socket_errors) ))
  (( requests > 0 )) || die "$name at $conns connections: no request completed"
  if (( bad * 1000000 > requests * max_bad_ppm )); then
    die "$name at $conns connections: $bad of $requests requests were not a 200 with a token (over 0.1%); the figures would measure errors"
  fi
  issued[$name]=$(( ${issued[$name]} + requests ))
  results+=("$name $conns $(field "$line" tokens_per_s) $(field "$line" p50_ms) $(field "$line" p99_ms) $bad")
}

# ---------------------------------------------------------------------------- Mandate
echo "== mandate serve (data dir in $work)"
data="$work/mandate-data"
subject='{"kyc_tier":3,"residence":"SG","category":"professional","us_person":false,"ecp":true,"appropriateness":[],"net_worth_usd":"5000000","onboarded":"2024-01-01T00:00:00Z"}'
# From the repository root: the admin commands check against the schema of ./policies. The
# client is a trading bot allowed from 127.0.0.1, so the policies grant trade (a bot without an
# allowlist would get read only): the benchmark measures full trading tokens.
(cd "$ROOT" && "$mandate" subject set acct-bench --data-dir "$data" --attrs "$subject" >/dev/null)
(cd "$ROOT" && "$mandate" client create --data-dir "$data" --id bench --subject acct-bench --grant client_credentials \
  --auth client_secret_basic --scope "read trade" --kind trading_bot --ip-allowlist 127.0.0.1/32 \
  --json >"$work/client.json")
m_secret="$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(c.client_secret)' "$work/client.json")"
[[ -n "$m_secret" ]] || die "mandate client create --json gave no client_secret"

start_mandate() {  # start_mandate [serve options]: sets m_pid, m_port
  rm -f "$work/mandate.port"
  (cd "$ROOT" && exec "$mandate" serve --data-dir "$data" --listen 127.0.0.1:0 --port-file "$work/mandate.port" \
    --policies "$ROOT/policies" "$@" 2>"$work/mandate.log") &
  m_pid=$!
  pids+=("$m_pid")
  m_port="$(wait_port "$m_pid" "$work/mandate.port" mandate)"
  wait_ready "http://127.0.0.1:$m_port/readyz" "mandate serve"
}
start_mandate
m_verify="$(node "$PEER/verify.mjs" "http://127.0.0.1:$m_port" bench "$m_secret" "$form")" ||
  die "Mandate's token did not verify"
echo "mandate: $m_verify"

# ---------------------------------------------------------------------------- the peer
peer_secret="$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))')"
start_peer() {  # start_peer WORKERS: sets p_pid, p_port
  rm -f "$work/peer.port"
  (cd "$PEER" && NODE_ENV=production exec node server.mjs --port-file "$work/peer.port" \
    --client-id bench --client-secret "$peer_secret" --workers "$1" 2>"$work/peer.log") &
  p_pid=$!
  pids+=("$p_pid")
  p_port="$(wait_port "$p_pid" "$work/peer.port" peer)"
  wait_ready "http://127.0.0.1:$p_port/jwks" "oidc-provider"
}
stop_peer() {
  kill -TERM "$p_pid" 2>/dev/null || true
  wait "$p_pid" 2>/dev/null || true
}

echo "== node-oidc-provider $(node -p 'require(process.argv[1]).version' "$PEER/node_modules/oidc-provider/package.json") (NODE_ENV=production, node $(node --version))"
start_peer 1
p_verify="$(node "$PEER/verify.mjs" "http://127.0.0.1:$p_port" bench "$peer_secret" "$form")" ||
  die "the peer's token did not verify"
echo "peer: $p_verify"

# ---------------------------------------------------------------------------- runs
# Resident memory with 1,000 idle keep-alive connections, each having had one answer.
idle_rss() {  # idle_rss PID PORT PATH: prints "before_kb during_kb sockets_held"
  local before during sockets fifo="$work/idle.stdin" i
  before="$(rss_kb "$1")"
  rm -f "$fifo"; mkfifo "$fifo"
  node "$PEER/idle.mjs" 127.0.0.1 "$2" 1000 "$3" <"$fifo" >"$work/idle.out" 2>&1 &
  local idle_pid=$!
  exec {hold}>"$fifo"
  for ((i = 0; i < 300; i++)); do
    grep -q '^idle: ready' "$work/idle.out" 2>/dev/null && break
    kill -0 "$idle_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^idle: ready open=1000 ok=1000 ' "$work/idle.out" ||
    { exec {hold}>&-; wait "$idle_pid" || true; die "1,000 idle connections: $(cat "$work/idle.out")"; }
  sleep 1
  during="$(rss_kb "$1")"
  # The server's open sockets: proof that the 1,000 connections are held while RSS is read.
  sockets="$(find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l)"
  exec {hold}>&-
  wait "$idle_pid" || true
  echo "$before $during $sockets"
}
echo "== mandate serve with 1,000 idle keep-alive connections (GET /healthz on each), before any load"
read -r m_rss_fresh m_rss_idle m_sockets < <(idle_rss "$m_pid" "$m_port" /healthz)

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== wrk -t$wrk_threads, ${warmup} s warm-up then ${seconds} s per run (wrk shares the cores with the server)"
run_wrk mandate 8 "$m_port" bench "$m_secret"
run_wrk mandate 64 "$m_port" bench "$m_secret"
run_wrk peer 8 "$p_port" bench "$peer_secret"
run_wrk peer 64 "$p_port" bench "$peer_secret"

# The peer for comparison (it has no /healthz).
read -r p_rss_before p_rss_idle p_sockets < <(idle_rss "$p_pid" "$p_port" /jwks)
stop_peer

# Cluster mode: as many workers as cores, one signing key, the primary sharing the socket.
cores="$(nproc)"
if (( cores > 1 )); then
  echo "== node-oidc-provider in cluster mode, $cores workers"
  start_peer "$cores"
  node "$PEER/verify.mjs" "http://127.0.0.1:$p_port" bench "$peer_secret" "$form" >/dev/null ||
    die "the clustered peer's token did not verify"
  run_wrk "peer-cluster$cores" 8 "$p_port" bench "$peer_secret"
  run_wrk "peer-cluster$cores" 64 "$p_port" bench "$peer_secret"
  stop_peer
fi

echo "== mandate serve with 1,000 idle keep-alive connections again, after ${issued[mandate]} tokens"
read -r m_rss_loaded m_rss_idle_loaded m_sockets_loaded < <(idle_rss "$m_pid" "$m_port" /healthz)
kill -TERM "$m_pid"
wait "$m_pid" 2>/dev/null || true

# Per core: Mandate on one worker thread, next to the peer's one process.
echo "== mandate serve --threads 1"
start_mandate --threads 1
run_wrk mandate-1thread 64 "$m_port" bench "$m_secret"

# ---------------------------------------------------------------------------- figures
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo
echo "== figures (client_credentials + client_secret_basic, ES256 JWT access tokens)"
printf '%-16s %6s %12s %9s %9s %8s\n' server conns tokens/s p50_ms p99_ms non200
m_tps="" m_p50="" m_p99="" m1_tps=0 best_peer=0 best_peer_name=""
for r in "${results[@]}"; do
  read -r name conns tps p50 p99 bad <<<"$r"
  printf '%-16s %6s %12s %9s %9s %8s\n' "$name" "$conns" "$tps" "$p50" "$p99" "$bad"
  if [[ "$name" == mandate && "$conns" == 64 ]]; then m_tps="$tps" m_p50="$p50" m_p99="$p99"; fi
  if [[ "$name" == mandate-1thread ]]; then m1_tps="$tps"; fi
  if [[ "$name" == peer* ]] && (( tps > best_peer )); then best_peer="$tps" best_peer_name="$name c=$conns"; fi
done
ratio="$(awk -v m="$m_tps" -v p="$best_peer" 'BEGIN { printf "%.2f", m / p }')"
echo
echo "rss_1000_idle_mb (mandate serve, fresh, 1,000 idle keep-alive connections): $(mb "$m_rss_idle") MB (without them: $(mb "$m_rss_fresh") MB; $m_sockets sockets open)"
echo "mandate serve after ${issued[mandate]} tokens: $(mb "$m_rss_loaded") MB, with 1,000 idle connections $(mb "$m_rss_idle_loaded") MB ($m_sockets_loaded sockets open)"
growth="$(awk -v a="$m_rss_loaded" -v b="$m_rss_fresh" -v n="${issued[mandate]}" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')"
echo "  growth under load: $growth bytes of RSS per token issued (0 when nothing is retained per request)"
# Caches and allocator pools level off within a few thousand requests; hundreds of thousands of
# tokens leave a per-request retention plainly visible.
if (( growth > 64 )); then
  echo "  WARNING: mandate serve keeps about $growth bytes per token issued: memory grows without bound under load"
fi
echo "peer rss with 1,000 idle connections (one node process, after its runs): $(mb "$p_rss_idle") MB (without them: $(mb "$p_rss_before") MB; $p_sockets sockets open)"
echo "token size: mandate $(field "$m_verify" bytes) bytes (claims $(field "$m_verify" claims)); peer $(field "$p_verify" bytes) bytes"
echo "peer best: $best_peer_name; ratio = mandate c=64 / peer best = $ratio"
peer1=0
for r in "${results[@]}"; do
  read -r name conns tps _ <<<"$r"
  if [[ "$name" == peer && "$conns" == 64 ]]; then peer1="$tps"; fi
done
echo "per core: mandate --threads 1 / peer one process, c=64: $(awk -v m="$m1_tps" -v p="$peer1" 'BEGIN { printf "%.2f", m / p }')"
echo "bench: tokens_per_s=${m_tps} p50_ms=${m_p50} p99_ms=${m_p99} peer_tokens_per_s=${best_peer} ratio=${ratio}"
