#pragma once
// An in-process authorization server for endpoint tests: a real SQLite store in a temporary
// directory, the reference policies, a clock the test moves by hand and a deterministic random
// source. Requests go straight to AuthServer::route, so every test is deterministic and fast.
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "http/server.h"
#include "jose/jose.h"
#include "oauth/auth_server.h"

namespace oauthtest {

// The reference policies (policies/), compiled once per test binary, as the token endpoint holds them.
const mandate::oauth::LoadedPolicy& referencePolicy();

struct FakeClock final : mandate::oauth::Clock {
  std::atomic<std::int64_t> ms{1'800'000'000'000};  // 2027-01-15
  std::int64_t nowMs() const override { return ms.load(); }
  void advanceSeconds(std::int64_t s) { ms += s * 1000; }
};

struct Reply {
  int status = 0;
  nlohmann::json body;  // null when not JSON
  std::string raw;
  std::map<std::string, std::string> headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Harness {
 public:
  Harness();
  ~Harness();

  // Subjects and clients straight into the store (the CLI's checks are tested elsewhere).
  void subject(const std::string& id, const nlohmann::json& attrs);
  // Returns the secret (empty for private_key_jwt).
  std::string client(const std::string& id, const std::string& subject, const std::string& auth,
                     const std::string& scope, const std::vector<std::string>& grants = {"client_credentials"},
                     const std::string& jwksJson = "", const std::vector<std::string>& allowlist = {},
                     std::int64_t ttlS = 300);

  Reply get(const std::string& path);
  Reply post(const std::string& path, const std::map<std::string, std::string>& form,
             const std::string& basicUser = "", const std::string& basicSecret = "",
             const std::string& remoteIp = "127.0.0.1");
  Reply raw(mandate::http::Request req);

  // Verifies a JWT against the server's /jwks, independently of the server's own code paths
  // except the JOSE library. Returns the claims or null.
  nlohmann::json verifyWithJwks(const std::string& jwt);

  // Opens an audit trail at dir/audit.db and wires it into the server; while `failCommits` is
  // set, every audit transaction fails (an injected disk fault).
  void enableAudit();
  std::string auditPath() const { return (dir / "audit.db").string(); }
  std::atomic<bool> failCommits{false};

  static nlohmann::json professionalSubject();  // permitted everything by the reference policies
  std::string issuer() const { return server->issuer(); }

  FakeClock clock;
  std::filesystem::path dir;
  std::unique_ptr<mandate::store::Store> store;
  std::unique_ptr<mandate::oauth::PolicyHolder> policy;
  std::unique_ptr<mandate::oauth::AuthServer> server;
  std::unique_ptr<mandate::audit::AuditLog> audit;
  std::atomic<std::uint64_t> randomCounter{0};
};

std::string formEncode(const std::map<std::string, std::string>& form);
std::string base64(const std::string& s);

}  // namespace oauthtest
