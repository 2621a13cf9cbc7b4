// The audit trail in the request path, in process with an injected disk fault: a response waits
// for its record; when the record cannot be written, no token leaves (503) and the server recovers
// by itself once the trail writes again.
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "audit/export.h"
#include "audit/verify.h"
#include "harness.h"

using namespace oauthtest;
using json = nlohmann::json;

namespace {

std::vector<json> records(const std::string& path, const std::string& type) {
  std::ostringstream out;
  mandate::audit::ExportFilter f;
  f.type = type;
  mandate::audit::exportRecords(path, f, mandate::audit::Format::Jsonl, out);
  std::vector<json> all;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) all.push_back(json::parse(line));
  return all;
}

std::string jtiOf(const std::string& jwt) {
  auto dot1 = jwt.find('.'), dot2 = jwt.find('.', dot1 + 1);
  std::string payload;
  REQUIRE(mandate::jose::b64urlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1), payload));
  return json::parse(payload)["jti"];
}

// Polls /readyz every 50 ms for up to 5 s.
bool readyWithin5s(Harness& h) {
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (h.get("/readyz").status == 200) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("audit wiring: every token has its record; a failing trail refuses tokens with 503 and recovers") {
  Harness h;
  h.enableAudit();
  h.subject("acct-1", Harness::professionalSubject());
  std::string secret = h.client("bot", "acct-1", "client_secret_basic", "read trade", {"client_credentials"}, "",
                                {"127.0.0.0/8"});
  auto token = [&] { return h.post("/token", {{"grant_type", "client_credentials"}}, "bot", secret); };

  auto ok = token();
  REQUIRE_MESSAGE(ok.status == 200, ok.raw);
  CHECK_FALSE(ok.header("x-request-id").empty());
  auto issued = records(h.auditPath(), "token.issued");
  REQUIRE(issued.size() == 1);
  CHECK(issued[0]["jti"] == jtiOf(ok.body["access_token"]));
  CHECK(issued[0]["request_id"] == ok.header("x-request-id"));
  CHECK(issued[0]["actor"] == json{{"client", "bot"}, {"subject", "acct-1"}});
  CHECK(issued[0]["data"]["decision"]["authorization_details"] == ok.body["authorization_details"]);
  CHECK(issued[0]["data"]["input"]["subject"]["residence"] == "SG");
  CHECK(h.get("/readyz").body["audit"] == "ok");

  h.failCommits = true;
  auto refused = token();
  CHECK(refused.status == 503);
  CHECK(refused.body["error"] == "temporarily_unavailable");
  CHECK_FALSE(refused.body.contains("access_token"));
  CHECK(refused.raw.find("eyJ") == std::string::npos);  // no JWT anywhere in the answer
  auto readyz = h.get("/readyz");
  CHECK(readyz.status == 503);
  CHECK(readyz.body["audit"] == "failing");
  // Every audited endpoint refuses while the trail fails; unaudited ones still answer.
  CHECK(h.post("/token", {{"grant_type", "client_credentials"}}, "bot", "wrong-secret").status == 503);
  CHECK(h.post("/introspect", {{"token", "x"}}, "bot", secret).status == 503);
  CHECK(h.get("/jwks").status == 200);
  CHECK(h.get("/metrics").raw.find("mandate_audit_healthy 0") != std::string::npos);

  // Recovery needs no request: while failing and idle the trail probes every second.
  h.failCommits = false;
  CHECK(readyWithin5s(h));
  auto again = token();
  REQUIRE_MESSAGE(again.status == 200, again.raw);
  CHECK(h.get("/readyz").status == 200);
  issued = records(h.auditPath(), "token.issued");
  REQUIRE(issued.size() == 2);  // nothing was recorded for the refused request
  CHECK(issued[1]["jti"] == jtiOf(again.body["access_token"]));
  CHECK(records(h.auditPath(), "client.auth_failed").empty());  // it failed with the fault
  CHECK(mandate::audit::verify(h.auditPath()).ok());
}

TEST_CASE("audit wiring: a policy denial is recorded with the denying rules and the error answered") {
  Harness h;
  h.enableAudit();
  auto sanctioned = Harness::professionalSubject();
  sanctioned["residence"] = "KP";
  h.subject("acct-kp", sanctioned);
  std::string secret = h.client("bot", "acct-kp", "client_secret_basic", "read trade");
  auto r = h.post("/token", {{"grant_type", "client_credentials"}, {"scope", "trade"}}, "bot", secret);
  REQUIRE(r.status == 400);
  auto denied = records(h.auditPath(), "token.denied");
  REQUIRE(denied.size() == 1);
  const auto& d = denied[0]["data"];
  CHECK(d["error"]["error"] == r.body["error"]);
  CHECK(d["error"]["error_description"] == r.body["error_description"]);
  REQUIRE(d["decision"]["denied"].is_array());
  REQUIRE_FALSE(d["decision"]["denied"].empty());
  for (const auto& den : d["decision"]["denied"])
    CHECK(r.body["error_description"].get<std::string>().find(den["rule"].get<std::string>()) != std::string::npos);
  CHECK(d["decision"]["granted"] == json::object());
  CHECK(denied[0]["jti"] == "");
}

TEST_CASE("audit wiring: a refresh while the trail fails does not consume the token, so the family survives") {
  Harness h;
  h.enableAudit();
  h.subject("acct-1", Harness::professionalSubject());
  std::string secret = h.client("bot", "acct-1", "client_secret_basic", "read trade",
                                {"client_credentials", "refresh_token"}, "", {"127.0.0.0/8"});
  auto first = h.post("/token", {{"grant_type", "client_credentials"}}, "bot", secret);
  REQUIRE(first.status == 200);
  std::string refresh = first.body["refresh_token"];

  h.failCommits = true;
  CHECK(h.post("/token", {{"grant_type", "client_credentials"}}, "bot", secret).status == 503);  // now known failing
  auto during = h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", refresh}}, "bot", secret);
  CHECK(during.status == 503);
  CHECK_FALSE(during.body.contains("refresh_token"));

  h.failCommits = false;
  for (int i = 0; i < 100 && h.get("/readyz").status != 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto after = h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", refresh}}, "bot", secret);
  REQUIRE_MESSAGE(after.status == 200, after.raw);  // not "already used; its family is revoked"
  CHECK(records(h.auditPath(), "refresh.reuse_detected").empty());
}

TEST_CASE("audit wiring: a bundle goes live only once its policy.loaded record is durable") {
  Harness h;
  h.enableAudit();
  h.subject("acct-1", Harness::professionalSubject());
  std::string secret = h.client("bot", "acct-1", "client_secret_basic", "read trade", {"client_credentials"}, "",
                                {"127.0.0.0/8"});
  const auto before = h.policy->current();

  // The trail failing: the reload is refused and the old bundle stays live (a bundle live without
  // its record would decide tokens the chain cannot attribute to a load).
  h.failCommits = true;
  std::string error;
  CHECK_FALSE(h.server->reloadPolicy(error));
  CHECK_MESSAGE(error.find("policy.loaded audit record could not be written") != std::string::npos, error);
  CHECK(h.policy->current()->generation == before->generation);
  h.failCommits = false;
  REQUIRE(readyWithin5s(h));
  CHECK(records(h.auditPath(), "policy.loaded").empty());
  CHECK(records(h.auditPath(), "policy.refused").empty());  // it failed with the fault

  // Writing again: the record first, then the bundle, then the tokens it decides.
  REQUIRE_MESSAGE(h.server->reloadPolicy(error), error);
  const auto live = h.policy->current();
  CHECK(live->generation != before->generation);
  auto ok = h.post("/token", {{"grant_type", "client_credentials"}}, "bot", secret);
  REQUIRE_MESSAGE(ok.status == 200, ok.raw);
  auto loaded = records(h.auditPath(), "policy.loaded");
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0]["policy_hash"] == live->hash);
  CHECK(loaded[0]["data"]["source"] == "policies");
  auto issued = records(h.auditPath(), "token.issued");
  REQUIRE(issued.size() == 1);
  CHECK(issued[0]["policy_hash"] == live->hash);
  CHECK(issued[0]["seq"].get<std::uint64_t>() > loaded[0]["seq"].get<std::uint64_t>());
  CHECK(mandate::audit::verify(h.auditPath()).ok());
}
