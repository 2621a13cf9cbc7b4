#include "harness.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <doctest/doctest.h>

#include "server_setup.h"

namespace oauthtest {

namespace fs = std::filesystem;
using namespace mandate;

std::string formEncode(const std::map<std::string, std::string>& form) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (const auto& [k, v] : form) {
    if (!out.empty()) out.push_back('&');
    for (const std::string* s : {&k, &v}) {
      for (unsigned char c : *s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          out.push_back(static_cast<char>(c));
        } else {
          out.push_back('%');
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        }
      }
      if (s == &k) out.push_back('=');
    }
  }
  return out;
}

std::string base64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(s[i]) << 16) | (std::uint8_t(s[i + 1]) << 8) | std::uint8_t(s[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(t[(n >> k) & 63]);
  }
  if (i + 1 == s.size()) {
    std::uint32_t n = std::uint8_t(s[i]) << 16;
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    std::uint32_t n = (std::uint8_t(s[i]) << 16) | (std::uint8_t(s[i + 1]) << 8);
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], t[(n >> 6) & 63], '='};
  }
  return out;
}

const oauth::LoadedPolicy& referencePolicy() {
  static oauth::LoadedPolicy p = [] {
    oauth::LoadedPolicy lp;
    std::string error;
    lp.bundle = cli::loadPolicy(std::string(MANDATE_SOURCE_DIR) + "/policies", "", "", error);
    REQUIRE_MESSAGE(lp.bundle, error);
    lp.hash = lp.bundle->contentHash;
    lp.generation = 1;
    return lp;
  }();
  return p;
}

nlohmann::json Harness::professionalSubject() {
  return {{"kyc_tier", 3},          {"residence", "SG"}, {"category", "professional"},
          {"us_person", false},      {"ecp", true},       {"appropriateness", nlohmann::json::array()},
          {"net_worth_usd", "5000000"}, {"onboarded", "2024-01-01T00:00:00Z"}};
}

Harness::Harness() {
  char tmpl[] = "/tmp/mandate-oauth-test.XXXXXX";
  dir = ::mkdtemp(tmpl);
  store = store::openSqliteStore((dir / "mandate.db").string());
  policy = std::make_unique<oauth::PolicyHolder>([](std::string& error) {
    return cli::loadPolicy(std::string(MANDATE_SOURCE_DIR) + "/policies", "", "", error);
  });
  oauth::Config config;
  config.issuer = "https://as.example";
  server = std::make_unique<oauth::AuthServer>(config, *store, *policy, clock, [this](std::size_t n) {
    // Deterministic and unique: SHA-256 of a counter, repeated to length.
    std::string out;
    while (out.size() < n) out += jose::sha256("random-" + std::to_string(randomCounter++));
    return out.substr(0, n);
  });
  std::string error;
  REQUIRE_MESSAGE(server->reloadPolicy(error), error);
  server->start();
}

void Harness::enableAudit() {
  audit::Options o;
  o.beforeCommit = [this] { return failCommits.load() ? std::string("injected fault: disk full") : std::string(); };
  audit = audit::AuditLog::open(auditPath(), o);
  server->setAudit(audit.get(), "policies");
}

Harness::~Harness() {
  audit.reset();  // its completions call into the server
  server.reset();
  store.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

void Harness::subject(const std::string& id, const nlohmann::json& attrs) {
  store::Subject s;
  s.id = id;
  s.attrsJson = attrs.dump();
  s.createdMs = s.updatedMs = clock.nowMs();
  store->putSubject(s);
  server->pollStore();
}

std::string Harness::client(const std::string& id, const std::string& subject, const std::string& auth,
                            const std::string& scope, const std::vector<std::string>& grants,
                            const std::string& jwksJson, const std::vector<std::string>& allowlist, std::int64_t ttlS) {
  store::Client c;
  c.id = id;
  c.subject = subject;
  c.grants = grants;
  c.authMethod = auth;
  c.scope = scope;
  c.ipAllowlist = allowlist;
  c.tokenTtlS = ttlS;
  c.jwksJson = jwksJson;
  std::string secret;
  if (auth != "private_key_jwt") {
    secret = "secret-of-" + id;
    static const char* d = "0123456789abcdef";
    for (unsigned char ch : jose::sha256(secret)) {
      c.secretHash.push_back(d[ch >> 4]);
      c.secretHash.push_back(d[ch & 15]);
    }
  }
  c.createdMs = c.updatedMs = clock.nowMs();
  if (!store->insertClient(c)) store->updateClient(c);
  server->pollStore();
  return secret;
}

Reply Harness::raw(http::Request req) {
  // An audited request is answered from the audit log's completion thread: wait for it.
  struct Answer {
    std::mutex m;
    std::condition_variable cv;
    bool called = false;
    http::Response resp;
  };
  auto answer = std::make_shared<Answer>();
  server->handle(std::move(req), [answer](http::Response&& resp) {
    std::lock_guard lock(answer->m);
    answer->resp = std::move(resp);
    answer->called = true;
    answer->cv.notify_all();
  });
  std::unique_lock lock(answer->m);
  bool called = answer->cv.wait_for(lock, std::chrono::seconds(30), [&] { return answer->called; });
  REQUIRE(called);
  const http::Response& resp = answer->resp;
  Reply r;
  r.status = resp.status;
  r.raw = resp.body;
  r.headers["content-type"] = resp.contentType;
  for (auto& [k, v] : resp.headers) {
    std::string lower = k;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r.headers[lower] = v;
  }
  r.body = nlohmann::json::parse(r.raw, nullptr, false);
  if (r.body.is_discarded()) r.body = nullptr;
  return r;
}

Reply Harness::get(const std::string& path) {
  http::Request req;
  req.method = "GET";
  req.target = req.path = path;
  req.remoteIp = "127.0.0.1";
  return raw(std::move(req));
}

Reply Harness::post(const std::string& path, const std::map<std::string, std::string>& form,
                    const std::string& basicUser, const std::string& basicSecret, const std::string& remoteIp) {
  http::Request req;
  req.method = "POST";
  req.target = req.path = path;
  req.remoteIp = remoteIp;
  req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  if (!basicUser.empty()) req.headers.emplace_back("authorization", "Basic " + base64(basicUser + ":" + basicSecret));
  req.body = formEncode(form);
  return raw(std::move(req));
}

nlohmann::json Harness::verifyWithJwks(const std::string& jwt) {
  auto jwks = get("/jwks");
  std::string error;
  auto keys = jose::parseJwks(jwks.body, error);
  REQUIRE_MESSAGE(keys, error);
  auto jws = jose::parse(jwt, error);
  if (!jws) return nullptr;
  std::string kid = jws->header.value("kid", "");
  const jose::Alg allowed[] = {jose::Alg::ES256, jose::Alg::EdDSA, jose::Alg::PS256};
  for (const auto& k : *keys)
    if (k.kid == kid && jose::verify(*jws, k.key, allowed, error)) return nlohmann::json::parse(jws->payload);
  return nullptr;
}

}  // namespace oauthtest
