#include "oauth/auth_server.h"

#include <chrono>
#include <limits>

#include "jose/jose.h"
#include "oauth/endpoints.h"
#include "oauth/json_text.h"
#include "oauth/log.h"
#include "oauth/oauth_error.h"

namespace mandate::oauth {

AuthServer::AuthServer(Config config, store::Store& store, PolicyHolder& policy, const Clock& clock,
                       RandomSource random)
    : directory_(store),
      keys_(store, clock),
      ctx_{std::move(config), {}, {}, {}, {}, {}, store, directory_, keys_, policy, metrics_, clock, std::move(random)} {
  ctx_.setIssuer(ctx_.config.issuer);
  // Request ids: unique across restarts without coordination (random per process, then a count).
  requestIdPrefix_ = jose::b64urlEncode(ctx_.random(6)) + "-";
  nextWalTruncateMs_ = clock.nowMs() + ctx_.config.store.walTruncateIntervalS * 1000;
  signAhead_ = std::make_unique<SignAhead>(keys_, static_cast<std::size_t>(ctx_.config.tokens.precomputeSignatures));
}

void AuthServer::setAudit(audit::AuditLog* log, std::string policySource) {
  audit_ = log;
  policySource_ = std::move(policySource);
}

void AuthServer::auditOutcome(bool durable, const std::string& error) {
  if (auditOk_.load(std::memory_order_relaxed) == durable) return;
  if (auditOk_.exchange(durable) == durable) return;
  // Transitions are logged at most once per 5 s: under overload, refusals (queue full) and
  // successes alternate at request rate.
  std::int64_t now = ctx_.clock.nowMs(), last = lastAuditLogMs_.load();
  if (now - last < 5000 || !lastAuditLogMs_.compare_exchange_strong(last, now)) return;
  if (durable)
    logEvent(Level::Info, "audit trail writable again; issuing tokens");
  else
    logEvent(Level::Error, "audit trail failing: audited requests are refused until it recovers", {{"error", error}});
}

AuthServer::~AuthServer() { stop(); }

void AuthServer::start() {
  KeyRing::ensureKey(ctx_.store, ctx_.clock, ctx_.config.signingAlg);
  lastVersion_ = ctx_.store.configVersion();
  keys_.refresh();
  signAhead_->start();
  poller_ = std::thread([this] {
    std::unique_lock lock(pollMutex_);
    while (!stopping_) {
      pollCv_.wait_for(lock, std::chrono::milliseconds(250));
      if (stopping_) break;
      lock.unlock();
      pollStore();
      lock.lock();
    }
  });
}

void AuthServer::stop() {
  {
    std::lock_guard lock(pollMutex_);
    stopping_ = true;
  }
  pollCv_.notify_all();
  if (poller_.joinable()) poller_.join();
  signAhead_->stop();
}

void AuthServer::pollStore() {
  try {
    std::int64_t v = ctx_.store.configVersion();
    if (v != lastVersion_.exchange(v)) {
      directory_.invalidate();
      keys_.refresh();
    } else if (keys_.needsRefresh(ctx_.clock.nowMs())) {
      keys_.refresh();
    }
    if (!storeOk_.exchange(true)) logEvent(Level::Info, "store reachable again");
  } catch (const std::exception& e) {
    if (storeOk_.exchange(false)) logEvent(Level::Error, "store unreachable", {{"error", e.what()}});
  }
  truncateStoreJournalIfDue();
}

void AuthServer::truncateStoreJournalIfDue() {
  const std::int64_t now = ctx_.clock.nowMs();
  std::int64_t due = nextWalTruncateMs_.load();
  // One caller at a time (the poller, or a test calling pollStore).
  if (now < due || !nextWalTruncateMs_.compare_exchange_strong(due, std::numeric_limits<std::int64_t>::max())) return;
  bool done = false;
  std::string error;
  try {
    done = ctx_.store.truncateJournal();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown error";
  }
  // Rescheduled before anything else can throw: left at its maximum, no truncation would come again.
  nextWalTruncateMs_ = now + (done ? ctx_.config.store.walTruncateIntervalS * 1000 : kWalTruncateRetryMs);
  if (done)
    walTruncations_.fetch_add(1);
  else if (error.empty())
    logEvent(Level::Info, "store WAL not truncated: other connections busy; retrying in 10 s");
  else
    logEvent(Level::Warn, "store WAL truncation failed; retrying in 10 s", {{"error", error}});
}

bool AuthServer::reloadPolicy(std::string& error) {
  auto record = [this](const char* type, const std::string& hash, const std::string* why) {
    audit::Record r;
    r.type = type;
    r.actor.admin = "server";
    r.policyHash = hash;
    r.dataJson = R"({"source":)";
    appendJsonString(r.dataJson, policySource_);
    if (why != nullptr) {
      r.dataJson += R"(,"error":)";
      // Diagnostics can be long; the record keeps their start.
      appendJsonString(r.dataJson, why->substr(0, 16384));
    }
    r.dataJson.push_back('}');
    audit_->appendSync(std::move(r));
  };
  // policy.loaded is durable before the bundle goes live, so that in the chain it precedes every
  // decision the bundle makes; a bundle whose record cannot be written is refused.
  auto recordLoaded = [&](const LoadedPolicy& next, std::string& why) {
    if (audit_ == nullptr) return true;
    try {
      record("policy.loaded", next.hash, nullptr);
      return true;
    } catch (const std::exception& e) {
      why = std::string("its policy.loaded audit record could not be written: ") + e.what();
      return false;
    }
  };
  bool ok = ctx_.policy.reload(ctx_.clock.nowMs(), error, recordLoaded);
  metrics_.policyReload(ok);
  auto live = ctx_.policy.current();
  if (!ok && audit_ != nullptr) {
    try {
      record("policy.refused", live ? live->hash : "", &error);
    } catch (const std::exception& e) {
      logEvent(Level::Error, "policy refusal not audited", {{"error", e.what()}});
    }
  }
  if (ok) {
    logEvent(Level::Info, "policy loaded", {{"policy", live->hash}});
  } else {
    logEvent(Level::Error, "policy refused; the previous bundle stays live",
             {{"error", error}, {"policy", live ? live->hash : std::string("none")}});
  }
  return ok;
}

namespace {
Endpoint endpointOf(const std::string& path) {
  if (path == "/token") return Endpoint::Token;
  if (path == "/introspect") return Endpoint::Introspect;
  if (path == "/revoke") return Endpoint::Revoke;
  if (path == "/jwks") return Endpoint::Jwks;
  if (path == "/.well-known/oauth-authorization-server" || path == "/.well-known/openid-configuration")
    return Endpoint::Discovery;
  if (path == "/healthz" || path == "/readyz") return Endpoint::Health;
  if (path == "/metrics") return Endpoint::Metrics;
  return Endpoint::Other;
}

bool isGetOrHead(const http::Request& req) { return req.method == "GET" || req.method == "HEAD"; }

http::Response methodNotAllowed(const char* allow) {
  auto r = errorResponse(invalidRequest(std::string("method not allowed; use ") + allow));
  r.status = 405;
  r.headers.emplace_back("Allow", allow);
  return r;
}
}  // namespace

http::Response AuthServer::route(const http::Request& req, AuditSlot& audit) {
  switch (endpointOf(req.path)) {
    case Endpoint::Token: return tokenEndpoint(ctx_, req, audit);
    case Endpoint::Introspect: return introspectionEndpoint(ctx_, req, audit);
    case Endpoint::Revoke: return revocationEndpoint(ctx_, req, audit);
    case Endpoint::Jwks: return isGetOrHead(req) ? jwksEndpoint(ctx_) : methodNotAllowed("GET");
    case Endpoint::Discovery: return isGetOrHead(req) ? metadataEndpoint(ctx_) : methodNotAllowed("GET");
    case Endpoint::Health: {
      if (!isGetOrHead(req)) return methodNotAllowed("GET");
      http::Response r;
      r.headers.emplace_back("Cache-Control", "no-store");
      if (req.path == "/healthz") {
        r.body = R"({"status":"ok"})";
        return r;
      }
      auto policy = ctx_.policy.current();
      auto keys = ctx_.keys.current();
      bool auditOk = audit_ == nullptr || audit_->healthy();
      bool ready = policy && keys && keys->signing && storeOk_.load() && auditOk;
      nlohmann::json j{{"status", ready ? "ready" : "not ready"},
                       {"policy", policy ? policy->hash : ""},
                       {"signing_key", keys && keys->signing ? keys->signingKid : ""},
                       {"store", storeOk_.load() ? "ok" : "unreachable"},
                       {"audit", audit_ == nullptr ? "off" : auditOk ? "ok" : "failing"}};
      r.status = ready ? 200 : 503;
      r.body = j.dump();
      return r;
    }
    case Endpoint::Metrics: {
      if (!isGetOrHead(req)) return methodNotAllowed("GET");
      http::Response r;
      r.contentType = "text/plain; version=0.0.4";
      auto policy = ctx_.policy.current();
      r.body = metrics_.render(policy ? policy->hash : "", connections_ ? connections_() : 0);
      if (audit_ != nullptr) {
        auto st = audit_->status();
        r.body += "# HELP mandate_audit_records_total Audit records made durable by this process.\n"
                  "# TYPE mandate_audit_records_total counter\nmandate_audit_records_total " +
                  std::to_string(st.appended) +
                  "\n# HELP mandate_audit_failed_total Audit records refused or lost to a failed batch.\n"
                  "# TYPE mandate_audit_failed_total counter\nmandate_audit_failed_total " +
                  std::to_string(st.failed) +
                  "\n# HELP mandate_audit_batches_total Audit transactions committed.\n"
                  "# TYPE mandate_audit_batches_total counter\nmandate_audit_batches_total " +
                  std::to_string(st.batches) +
                  "\n# HELP mandate_audit_healthy 1 while the audit trail accepts records.\n"
                  "# TYPE mandate_audit_healthy gauge\nmandate_audit_healthy " + (st.healthy ? "1" : "0") +
                  "\n# HELP mandate_audit_queue Audit records waiting for their transaction.\n"
                  "# TYPE mandate_audit_queue gauge\nmandate_audit_queue " + std::to_string(st.queued) + "\n";
      }
      return r;
    }
    case Endpoint::Other:
    case Endpoint::Count: break;
  }
  auto r = errorResponse({404, "not_found", "no such endpoint", {}});
  r.headers.clear();
  return r;
}

void AuthServer::handle(http::Request&& req, http::Respond respond) {
  auto start = std::chrono::steady_clock::now();
  Endpoint endpoint = endpointOf(req.path);
  AuditSlot slot;
  slot.enabled = audit_ != nullptr;
  slot.log = audit_;
  http::Response r;
  try {
    r = route(req, slot);
  } catch (const std::exception& e) {
    logEvent(Level::Error, "request failed", {{"path", req.path}, {"error", e.what()}});
    r = errorResponse({500, "server_error", "internal error", {}});
    slot.record.reset();
  }
  if (!slot.record) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.request(endpoint, r.status, secs);
    respond(std::move(r));
    return;
  }
  std::string requestId = requestIdPrefix_;
  appendJsonInt(requestId, static_cast<std::int64_t>(requestCounter_.fetch_add(1, std::memory_order_relaxed)));
  r.headers.emplace_back("X-Request-Id", requestId);
  slot.record->requestId = std::move(requestId);
  // No response leaves before its record is durable: a token the trail cannot account for is
  // never handed out.
  audit_->append(std::move(*slot.record), [this, r = std::move(r), respond = std::move(respond), start, endpoint](
                                              bool durable, std::string error) mutable {
    auditOutcome(durable, error);
    if (!durable) {
      auto id = std::move(r.headers.back());
      r = errorResponse(auditUnavailable());
      r.headers.push_back(std::move(id));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.request(endpoint, r.status, secs);
    respond(std::move(r));
  });
}

}  // namespace mandate::oauth
