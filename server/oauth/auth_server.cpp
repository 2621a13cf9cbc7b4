#include "oauth/auth_server.h"

#include <chrono>

#include "oauth/endpoints.h"
#include "oauth/log.h"
#include "oauth/oauth_error.h"

namespace mandate::oauth {

AuthServer::AuthServer(Config config, store::Store& store, PolicyHolder& policy, const Clock& clock,
                       RandomSource random)
    : directory_(store),
      keys_(store, clock),
      ctx_{std::move(config), {}, {}, {}, {}, {}, store, directory_, keys_, policy, metrics_, clock, std::move(random)} {
  ctx_.setIssuer(ctx_.config.issuer);
}

AuthServer::~AuthServer() { stop(); }

void AuthServer::start() {
  KeyRing::ensureKey(ctx_.store, ctx_.clock, ctx_.config.signingAlg);
  lastVersion_ = ctx_.store.configVersion();
  keys_.refresh();
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
}

bool AuthServer::reloadPolicy(std::string& error) {
  bool ok = ctx_.policy.reload(ctx_.clock.nowMs(), error);
  metrics_.policyReload(ok);
  if (ok) {
    logEvent(Level::Info, "policy loaded", {{"policy", ctx_.policy.current()->hash}});
  } else {
    auto live = ctx_.policy.current();
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

http::Response AuthServer::route(const http::Request& req) {
  switch (endpointOf(req.path)) {
    case Endpoint::Token: return tokenEndpoint(ctx_, req);
    case Endpoint::Introspect: return introspectionEndpoint(ctx_, req);
    case Endpoint::Revoke: return revocationEndpoint(ctx_, req);
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
      bool ready = policy && keys && keys->signing && storeOk_.load();
      nlohmann::json j{{"status", ready ? "ready" : "not ready"},
                       {"policy", policy ? policy->hash : ""},
                       {"signing_key", keys && keys->signing ? keys->signingKid : ""},
                       {"store", storeOk_.load() ? "ok" : "unreachable"}};
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
  http::Response r;
  try {
    r = route(req);
  } catch (const std::exception& e) {
    logEvent(Level::Error, "request failed", {{"path", req.path}, {"error", e.what()}});
    r = errorResponse({500, "server_error", "internal error", {}});
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.request(endpointOf(req.path), r.status, secs);
  respond(std::move(r));
}

}  // namespace mandate::oauth
