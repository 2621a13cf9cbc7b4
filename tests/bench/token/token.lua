-- wrk script for tests/bench/run token: POSTs a client_credentials token request with HTTP
-- Basic client authentication and counts every response that is not a 200 carrying an
-- access_token, so a run that measures error responses is reported (and failed) as such.
--
-- Environment: BENCH_BASIC (base64 of "client_id:client_secret"), BENCH_BODY (the form body).
-- done() prints one line: wrk: requests=N seconds=N tokens_per_s=N non200=N socket_errors=N
--                          p50_ms=N p90_ms=N p99_ms=N max_ms=N

local basic = os.getenv("BENCH_BASIC")
local body = os.getenv("BENCH_BODY")
if not basic or not body then
  io.stderr:write("token.lua: BENCH_BASIC and BENCH_BODY must be set\n")
  os.exit(2)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. basic
wrk.headers["Accept"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  if status == 200 and body:find('"access_token"', 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. body:sub(1, 200)
    end
  end
end

function done(summary, latency, requests)
  local good, nonok, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    nonok = nonok + t:get("bad")
    local s = t:get("first_bad")
    if sample == "" and s and s ~= "" then sample = s end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "wrk: requests=%d seconds=%.2f tokens_per_s=%.0f non200=%d socket_errors=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, seconds, good / seconds, nonok, socket_errors,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  if sample ~= "" then
    io.write("wrk: first non-200 response: " .. sample:gsub("[\r\n]", " ") .. "\n")
  end
end
