// The authorization server's endpoints, in process: flows, policy in the token, and the attack
// cases of security.md that concern the token, introspection and revocation endpoints.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"
#include "oauth/json_text.h"
#include "oauth/form.h"
#include "oauth/policy_holder.h"
#include "server_setup.h"

using namespace oauthtest;
using nlohmann::json;
namespace jose = mandate::jose;

namespace {

const std::string kTradeScope = "read trade withdraw";

// A client_credentials bot on an allowlist that includes the test's address.
struct Bot {
  Harness h;
  std::string secret;
  explicit Bot(std::vector<std::string> grants = {"client_credentials"}) {
    h.subject("acct-1", Harness::professionalSubject());
    secret = h.client("bot", "acct-1", "client_secret_basic", kTradeScope, grants, "", {"127.0.0.0/8"});
  }
  Reply token(std::map<std::string, std::string> form) {
    form.emplace("grant_type", "client_credentials");
    return h.post("/token", form, "bot", secret);
  }
};

std::vector<std::string> productsOf(const json& details, const std::string& action) {
  std::vector<std::string> out;
  for (const auto& e : details)
    if (std::find(e["actions"].begin(), e["actions"].end(), action) != e["actions"].end() && e.contains("product_classes"))
      for (const auto& p : e["product_classes"]) out.push_back(p);
  return out;
}

json headerOf(const std::string& jwt) {
  std::string h;
  REQUIRE(jose::b64urlDecode(jwt.substr(0, jwt.find('.')), h));
  return json::parse(h);
}

// A client assertion (RFC 7523) signed by `key`, with claims overridable.
std::string assertion(const jose::Key& key, const std::string& clientId, const std::string& aud, std::int64_t now,
                      json overrides = json::object(), json header = json::object()) {
  json claims{{"iss", clientId}, {"sub", clientId}, {"aud", aud}, {"exp", now + 60}, {"iat", now},
              {"jti", "jti-" + std::to_string(now) + "-" + overrides.dump()}};
  for (auto& [k, v] : overrides.items()) {
    if (v.is_null())
      claims.erase(k);
    else
      claims[k] = v;
  }
  std::string error;
  auto jwt = jose::sign(header, claims.dump(), key, error);
  REQUIRE_MESSAGE(jwt, error);
  return *jwt;
}

}  // namespace

TEST_CASE("form: strict decoding") {
  mandate::oauth::Form f;
  std::string error;
  CHECK(mandate::oauth::parseForm("a=1&b=x+y%2Bz&&c=", f, error));
  CHECK(*f.get("b") == "x y+z");
  CHECK(f.get("c") == nullptr);  // RFC 6749 §3.1: no value = omitted
  CHECK_FALSE(mandate::oauth::parseForm("a=1&a=2", f, error));
  CHECK(error.find("repeated") != std::string::npos);
  CHECK_FALSE(mandate::oauth::parseForm("a=%zz", f, error));
  CHECK_FALSE(mandate::oauth::parseForm("a=%4", f, error));
  CHECK_FALSE(mandate::oauth::parseForm("=1", f, error));
  std::string many;
  for (int i = 0; i < 40; ++i) many += "p" + std::to_string(i) + "=1&";
  CHECK_FALSE(mandate::oauth::parseForm(many, f, error));
}

TEST_CASE("discovery: RFC 8414 metadata at both well-known paths, and a JWKS without private members") {
  Harness h;
  auto a = h.get("/.well-known/oauth-authorization-server");
  auto b = h.get("/.well-known/openid-configuration");
  REQUIRE(a.status == 200);
  CHECK(a.body == b.body);
  CHECK(a.body["issuer"] == "https://as.example");
  CHECK(a.body["token_endpoint"] == "https://as.example/token");
  CHECK(a.body["jwks_uri"] == "https://as.example/jwks");
  CHECK(a.body["introspection_endpoint"] == "https://as.example/introspect");
  CHECK(a.body["revocation_endpoint"] == "https://as.example/revoke");
  CHECK(a.body["token_endpoint_auth_signing_alg_values_supported"] == json({"ES256", "EdDSA", "PS256"}));
  auto jwks = h.get("/jwks");
  REQUIRE(jwks.body["keys"].size() == 1);
  const auto& k = jwks.body["keys"][0];
  CHECK(k["kty"] == "EC");
  CHECK(k["alg"] == "ES256");
  CHECK_FALSE(k.contains("d"));
  CHECK(h.get("/nope").status == 404);
  CHECK(h.post("/jwks", {}).status == 405);
}

TEST_CASE("client_credentials: an RFC 9068 token whose authorization_details the policy computed") {
  Bot bot;
  auto r = bot.token({{"scope", "read trade"}});
  REQUIRE_MESSAGE(r.status == 200, r.raw);
  CHECK(r.header("cache-control") == "no-store");
  CHECK(r.body["token_type"] == "Bearer");
  CHECK(r.body["scope"] == "read trade");
  CHECK_FALSE(r.body.contains("refresh_token"));
  std::string jwt = r.body["access_token"];
  auto header = headerOf(jwt);
  CHECK(header["typ"] == "at+jwt");
  CHECK(header["alg"] == "ES256");
  auto claims = bot.h.verifyWithJwks(jwt);
  REQUIRE(claims.is_object());
  CHECK(claims["iss"] == "https://as.example");
  CHECK(claims["sub"] == "acct-1");
  CHECK(claims["aud"] == "https://as.example");
  CHECK(claims["client_id"] == "bot");
  CHECK(claims["scope"] == "read trade");
  CHECK(claims["policy"].get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>() == r.body["expires_in"].get<std::int64_t>());
  CHECK(claims["iat"] == bot.h.clock.nowMs() / 1000);
  CHECK(claims["authorization_details"] == r.body["authorization_details"]);
  // Per-class limits from the reference policies: spot 1x, margin 10x, perpetuals 100x.
  bool spot1 = false, perp100 = false;
  for (const auto& e : claims["authorization_details"]) {
    CHECK(e["type"] == "trading");
    if (!e.contains("product_classes")) continue;
    auto pcs = e["product_classes"];
    if (std::find(pcs.begin(), pcs.end(), "spot") != pcs.end()) spot1 = e["limits"]["max_leverage"] == 1;
    if (std::find(pcs.begin(), pcs.end(), "perpetual") != pcs.end()) perp100 = e["limits"]["max_leverage"] == 100;
  }
  CHECK(spot1);
  CHECK(perp100);
  CHECK(productsOf(claims["authorization_details"], "trade").size() == 17);
}

TEST_CASE("policy: a denied request names the denying rule and its reason") {
  Harness h;
  h.subject("acct-1", Harness::professionalSubject());
  // No allowlist: the venue's API-key rule denies trading to bots.
  std::string secret = h.client("bot", "acct-1", "client_secret_basic", kTradeScope);
  auto r = h.post("/token", {{"grant_type", "client_credentials"}, {"scope", "trade"}}, "bot", secret);
  CHECK(r.status == 400);
  CHECK(r.body["error"] == "invalid_scope");
  std::string d = r.body["error_description"];
  CHECK(d.find("venue_bot_allowlist.bot_ip_allowlist") != std::string::npos);
  CHECK(d.find("allowlist") != std::string::npos);
  // What remains permitted is still granted when asked together.
  auto partial = h.post("/token", {{"grant_type", "client_credentials"}, {"scope", "read trade"}}, "bot", secret);
  REQUIRE(partial.status == 200);
  CHECK(partial.body["scope"] == "read");
  auto metrics = h.get("/metrics").raw;
  CHECK(metrics.find("mandate_tokens_denied_total{rule=\"venue_bot_allowlist.bot_ip_allowlist\"} 1") != std::string::npos);
  CHECK(metrics.find("mandate_tokens_issued_total 1") != std::string::npos);

  // A sanctioned residence: everything denied, the sanctions rule named.
  auto sanctioned = Harness::professionalSubject();
  sanctioned["residence"] = "KP";
  h.subject("acct-kp", sanctioned);
  std::string s2 = h.client("kp-bot", "acct-kp", "client_secret_basic", "read");
  auto kp = h.post("/token", {{"grant_type", "client_credentials"}}, "kp-bot", s2);
  CHECK(kp.status == 400);
  CHECK(kp.body["error_description"].get<std::string>().find("sanctions") != std::string::npos);
}

TEST_CASE("scope and authorization_details: the grant is the intersection of what was asked and what is permitted") {
  Bot bot;
  auto r = bot.token({{"scope", "read"}});
  REQUIRE(r.status == 200);
  CHECK(r.body["scope"] == "read");
  CHECK(r.body["authorization_details"] == json::parse(R"([{"type":"trading","actions":["read"]}])"));

  auto d = bot.token({{"authorization_details", R"([{"type":"trading","actions":["trade"],"product_classes":["spot","future"]}])"}});
  REQUIRE_MESSAGE(d.status == 200, d.raw);
  CHECK(d.body["scope"] == "trade");
  auto pcs = productsOf(d.body["authorization_details"], "trade");
  std::sort(pcs.begin(), pcs.end());
  CHECK(pcs == std::vector<std::string>{"future", "spot"});

  CHECK(bot.token({{"scope", "block_trade"}}).body["error"] == "invalid_scope");  // outside the client's scope
  CHECK(bot.token({{"scope", "fly"}}).body["error"] == "invalid_scope");
  CHECK(bot.token({{"authorization_details", "[{"}}).body["error"] == "invalid_authorization_details");
  CHECK(bot.token({{"authorization_details", R"([{"type":"payment","actions":["read"]}])"}}).body["error"] ==
        "invalid_authorization_details");
  CHECK(bot.token({{"authorization_details", R"([{"type":"trading","actions":["trade"],"product_classes":["tulips"]}])"}})
            .body["error"] == "invalid_authorization_details");
  CHECK(bot.token({{"authorization_details", R"([{"type":"trading","actions":["read"],"product_classes":["spot"]}])"}})
            .body["error"] == "invalid_authorization_details");

  auto res = bot.token({{"scope", "read"}, {"resource", "https://api.venue.example"}});
  REQUIRE(res.status == 200);
  CHECK(bot.h.verifyWithJwks(res.body["access_token"])["aud"] == "https://api.venue.example");
  CHECK(bot.token({{"resource", "not a uri"}}).body["error"] == "invalid_target");
  CHECK(bot.token({{"resource", "https://api.example/#frag"}}).body["error"] == "invalid_target");
}

TEST_CASE("obligations: a cell needing AAL2 is withheld from a secret-authenticated client") {
  Bot bot;
  auto r = bot.token({{"scope", "withdraw"}});
  CHECK(r.status == 400);
  CHECK(r.body["error"] == "invalid_scope");
  CHECK(r.body["error_description"].get<std::string>().find("assurance level 2") != std::string::npos);
}

TEST_CASE("client authentication failures are invalid_client with a challenge, and say nothing specific") {
  Bot bot;
  auto wrong = bot.h.post("/token", {{"grant_type", "client_credentials"}}, "bot", "not-the-secret");
  CHECK(wrong.status == 401);
  CHECK(wrong.body["error"] == "invalid_client");
  CHECK(wrong.header("www-authenticate").rfind("Basic", 0) == 0);
  CHECK(wrong.header("cache-control") == "no-store");
  auto unknown = bot.h.post("/token", {{"grant_type", "client_credentials"}}, "ghost", "x");
  CHECK(unknown.status == 401);
  CHECK(unknown.body == wrong.body);  // unknown id and wrong secret are indistinguishable

  auto both = bot.h.post("/token", {{"grant_type", "client_credentials"}, {"client_id", "bot"}, {"client_secret", bot.secret}},
                         "bot", bot.secret);
  CHECK(both.status == 400);
  CHECK(both.body["error"] == "invalid_request");

  // Registered for basic: the same secret in the body is refused.
  auto post = bot.h.post("/token", {{"grant_type", "client_credentials"}, {"client_id", "bot"}, {"client_secret", bot.secret}});
  CHECK(post.status == 401);

  mandate::http::Request req;
  req.method = "POST";
  req.path = "/token";
  req.headers = {{"content-type", "application/x-www-form-urlencoded"}, {"authorization", "Basic !!!notbase64"}};
  req.body = "grant_type=client_credentials";
  CHECK(bot.h.raw(req).status == 401);
  req.headers[1].second = "Basic " + base64("no-colon-here");
  CHECK(bot.h.raw(req).status == 401);
  req.headers[1].second = "Bearer abc";
  CHECK(bot.h.raw(req).status == 401);

  auto c = *bot.h.store->getClient("bot");
  c.disabled = true;
  bot.h.store->updateClient(c);
  bot.h.server->pollStore();
  CHECK(bot.token({}).status == 401);
}

TEST_CASE("protocol errors: method, content type, duplicates, grants") {
  Bot bot;
  CHECK(bot.h.get("/token").status == 405);
  mandate::http::Request req;
  req.method = "POST";
  req.path = "/token";
  req.headers = {{"content-type", "application/json"}, {"authorization", "Basic " + base64("bot:" + bot.secret)}};
  req.body = R"({"grant_type":"client_credentials"})";
  auto json = bot.h.raw(req);
  CHECK(json.status == 400);
  CHECK(json.body["error"] == "invalid_request");
  req.headers[0].second = "application/x-www-form-urlencoded";
  req.body = "grant_type=client_credentials&scope=read&scope=trade";
  CHECK(bot.h.raw(req).body["error"] == "invalid_request");
  CHECK(bot.h.post("/token", {}, "bot", bot.secret).body["error"] == "invalid_request");
  CHECK(bot.h.post("/token", {{"grant_type", "password"}}, "bot", bot.secret).body["error"] == "unsupported_grant_type");
  CHECK(bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", "x"}}, "bot", bot.secret).body["error"] ==
        "unauthorized_client");
}

TEST_CASE("private_key_jwt: a valid assertion, then every attack of security.md refused") {
  Harness h;
  h.subject("acct-1", Harness::professionalSubject());
  std::string error;
  auto key = jose::Key::generate(jose::Alg::ES256, error);
  auto other = jose::Key::generate(jose::Alg::ES256, error);
  REQUIRE(key);
  REQUIRE(other);
  auto jwk = key->publicJwk();
  jwk["kid"] = "k1";
  h.client("kbot", "acct-1", "private_key_jwt", kTradeScope, {"client_credentials"}, json{{"keys", {jwk}}}.dump(),
           {"127.0.0.0/8"});
  std::int64_t now = h.clock.nowMs() / 1000;
  const std::string aud = "https://as.example/token";
  auto call = [&](const std::string& a) {
    return h.post("/token", {{"grant_type", "client_credentials"},
                             {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                             {"client_assertion", a}});
  };
  std::string good = assertion(*key, "kbot", aud, now, json::object(), {{"kid", "k1"}});
  auto ok = call(good);
  REQUIRE_MESSAGE(ok.status == 200, ok.raw);
  // Proof of a private key is AAL2: withdrawals are granted here, not to the secret bot.
  CHECK(ok.body["scope"].get<std::string>().find("withdraw") != std::string::npos);

  SUBCASE("replay of the same assertion") { CHECK(call(good).status == 401); }
  SUBCASE("issuer URL as audience is accepted") {
    CHECK(call(assertion(*key, "kbot", "https://as.example", now, {{"jti", "x1"}})).status == 200);
  }
  SUBCASE("an audience array naming someone else too") {
    CHECK(call(assertion(*key, "kbot", aud, now, {{"aud", {aud, "https://rp.example"}}})).status == 401);
    CHECK(call(assertion(*key, "kbot", aud, now, {{"aud", {aud, "https://as.example"}}, {"jti", "arr"}})).status == 200);
  }
  SUBCASE("typed as an access token (RFC 8725 explicit typing)") {
    CHECK(call(assertion(*key, "kbot", aud, now, {{"jti", "typ1"}}, {{"typ", "at+jwt"}})).status == 401);
    CHECK(call(assertion(*key, "kbot", aud, now, {{"jti", "typ2"}}, {{"typ", "JWT"}})).status == 200);
  }
  SUBCASE("wrong audience") { CHECK(call(assertion(*key, "kbot", "https://evil.example", now)).status == 401); }
  SUBCASE("expired") { CHECK(call(assertion(*key, "kbot", aud, now, {{"exp", now - 120}})).status == 401); }
  SUBCASE("exp far in the future") { CHECK(call(assertion(*key, "kbot", aud, now, {{"exp", now + 86400}})).status == 401); }
  SUBCASE("nbf in the future") { CHECK(call(assertion(*key, "kbot", aud, now, {{"nbf", now + 600}})).status == 401); }
  SUBCASE("no exp") { CHECK(call(assertion(*key, "kbot", aud, now, {{"exp", nullptr}})).status == 401); }
  SUBCASE("no jti") { CHECK(call(assertion(*key, "kbot", aud, now, {{"jti", nullptr}})).status == 401); }
  SUBCASE("iss and sub differ") { CHECK(call(assertion(*key, "kbot", aud, now, {{"sub", "other"}})).status == 401); }
  SUBCASE("signed by another key") { CHECK(call(assertion(*other, "kbot", aud, now)).status == 401); }
  SUBCASE("attacker's key in a jwk header") {
    auto hdr = json{{"jwk", other->publicJwk()}};
    CHECK(call(assertion(*other, "kbot", aud, now, json::object(), hdr)).status == 401);
  }
  SUBCASE("alg none") {
    json claims{{"iss", "kbot"}, {"sub", "kbot"}, {"aud", aud}, {"exp", now + 60}, {"jti", "n1"}};
    std::string none = jose::b64urlEncode(R"({"alg":"none"})") + "." + jose::b64urlEncode(claims.dump()) + ".";
    CHECK(call(none).status == 401);
  }
  SUBCASE("HS256 keyed with the public key") {
    // An HMAC over the signing input with the public key's PEM as the secret (the classic
    // algorithm-confusion attack); computed with OpenSSL's HMAC through a tiny helper.
    json claims{{"iss", "kbot"}, {"sub", "kbot"}, {"aud", aud}, {"exp", now + 60}, {"jti", "h1"}};
    std::string input = jose::b64urlEncode(R"({"alg":"HS256"})") + "." + jose::b64urlEncode(claims.dump());
    std::string fakeSig = jose::sha256(key->publicPem() + input);  // any 32 bytes: refused before any MAC check
    CHECK(call(input + "." + jose::b64urlEncode(fakeSig)).status == 401);
  }
  SUBCASE("empty signature") {
    std::string a = good.substr(0, good.rfind('.') + 1);
    CHECK(call(a).status == 401);
  }
  SUBCASE("garbage and wrong assertion type") {
    CHECK(call("garbage").status == 401);
    auto r = h.post("/token", {{"grant_type", "client_credentials"}, {"client_assertion_type", "urn:other"},
                               {"client_assertion", assertion(*key, "kbot", aud, now, {{"jti", "t2"}})}});
    CHECK(r.status == 401);
  }
  SUBCASE("a secret for a private_key_jwt client") {
    CHECK(h.post("/token", {{"grant_type", "client_credentials"}}, "kbot", "anything").status == 401);
  }
}

TEST_CASE("refresh tokens rotate; reuse revokes the whole family, access tokens included") {
  Bot bot({"client_credentials", "refresh_token"});
  auto first = bot.token({{"scope", "read trade"}});
  REQUIRE(first.status == 200);
  std::string r1 = first.body["refresh_token"];
  auto second = bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r1}}, "bot", bot.secret);
  REQUIRE_MESSAGE(second.status == 200, second.raw);
  std::string r2 = second.body["refresh_token"];
  CHECK(r2 != r1);
  CHECK(second.body["scope"] == "read trade");
  std::string at2 = second.body["access_token"];
  auto introspect = [&](const std::string& t) {
    return bot.h.post("/introspect", {{"token", t}}, "bot", bot.secret).body["active"];
  };
  CHECK(introspect(at2) == true);
  CHECK(introspect(r2) == true);

  // Another client cannot use it, and trying does not consume it.
  std::string s2 = bot.h.client("other", "acct-1", "client_secret_basic", "read", {"client_credentials", "refresh_token"});
  CHECK(bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r2}}, "other", s2).body["error"] ==
        "invalid_grant");
  CHECK(introspect(r2) == true);

  // Reuse of r1: refused, and the family (r2 and its access token) is revoked.
  auto reuse = bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r1}}, "bot", bot.secret);
  CHECK(reuse.status == 400);
  CHECK(reuse.body["error"] == "invalid_grant");
  CHECK(introspect(r2) == false);
  CHECK(introspect(at2) == false);
  CHECK(bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r2}}, "bot", bot.secret).body["error"] ==
        "invalid_grant");

  // A wider scope on refresh is refused; a narrower one is granted.
  auto fresh = bot.token({{"scope", "read trade"}});
  std::string r3 = fresh.body["refresh_token"];
  CHECK(bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r3}, {"scope", "withdraw"}}, "bot",
                   bot.secret)
            .body["error"] == "invalid_scope");
  auto narrow = bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r3}, {"scope", "read"}}, "bot",
                           bot.secret);
  // The wider attempt did not consume r3.
  REQUIRE_MESSAGE(narrow.status == 200, narrow.raw);
  CHECK(narrow.body["scope"] == "read");

  // Absolute lifetime: past it, refresh fails.
  auto late = bot.token({{"scope", "read"}});
  std::string r4 = late.body["refresh_token"];
  bot.h.clock.advanceSeconds(25 * 3600);  // past one refresh token's 24 h
  CHECK(bot.h.post("/token", {{"grant_type", "refresh_token"}, {"refresh_token", r4}}, "bot", bot.secret).body["error"] ==
        "invalid_grant");
}

TEST_CASE("introspection and revocation") {
  Bot bot;
  std::string secret2 = bot.h.client("rs", "acct-1", "client_secret_post", "read");
  auto t = bot.token({{"scope", "read"}});
  std::string at = t.body["access_token"];
  auto intro = bot.h.post("/introspect", {{"token", at}, {"client_id", "rs"}, {"client_secret", secret2}});
  REQUIRE(intro.status == 200);
  CHECK(intro.header("cache-control") == "no-store");
  CHECK(intro.body["active"] == true);
  CHECK(intro.body["client_id"] == "bot");
  CHECK(intro.body["sub"] == "acct-1");
  CHECK(intro.body["policy"].get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(intro.body.contains("authorization_details"));

  CHECK(bot.h.post("/introspect", {{"token", at}}).status == 401);  // unauthenticated
  CHECK(bot.h.post("/introspect", {{"token", "garbage"}}, "bot", bot.secret).body == json{{"active", false}});
  CHECK(bot.h.post("/introspect", {}, "bot", bot.secret).body["error"] == "invalid_request");

  // Signed by a key the server does not publish: inactive.
  std::string error;
  auto forger = jose::Key::generate(jose::Alg::ES256, error);
  std::string forged = at.substr(0, at.rfind('.'));
  auto sig = jose::sign({{"typ", "at+jwt"}}, "x", *forger, error);
  CHECK(bot.h.post("/introspect", {{"token", forged + "." + sig->substr(sig->rfind('.') + 1)}}, "bot", bot.secret)
            .body["active"] == false);

  // Revocation by another client: no effect; by the owner: inactive.
  CHECK(bot.h.post("/revoke", {{"token", at}, {"client_id", "rs"}, {"client_secret", secret2}}).status == 200);
  CHECK(bot.h.post("/introspect", {{"token", at}}, "bot", bot.secret).body["active"] == true);
  auto rev = bot.h.post("/revoke", {{"token", at}}, "bot", bot.secret);
  CHECK(rev.status == 200);
  CHECK(bot.h.post("/introspect", {{"token", at}}, "bot", bot.secret).body["active"] == false);
  CHECK(bot.h.post("/revoke", {{"token", "unknown"}}, "bot", bot.secret).status == 200);
  CHECK(bot.h.post("/revoke", {{"token", at}}).status == 401);

  // Expiry, with the injected clock.
  auto t2 = bot.token({{"scope", "read"}});
  std::string at2 = t2.body["access_token"];
  bot.h.clock.advanceSeconds(t2.body["expires_in"].get<std::int64_t>());
  CHECK(bot.h.post("/introspect", {{"token", at2}}, "bot", bot.secret).body["active"] == false);
}

TEST_CASE("key rotation: the new key is published before it signs; old tokens stay verifiable") {
  Bot bot;
  auto before = bot.token({{"scope", "read"}});
  std::string oldKid = headerOf(before.body["access_token"])["kid"];
  mandate::oauth::RotationOptions o;
  o.activateAfterMs = 60'000;
  std::string newKid = mandate::oauth::KeyRing::rotate(*bot.h.store, bot.h.clock, o);
  bot.h.server->pollStore();
  CHECK(bot.h.get("/jwks").body["keys"].size() == 2);
  CHECK(headerOf(bot.token({{"scope", "read"}}).body["access_token"])["kid"] == oldKid);  // not yet
  bot.h.clock.advanceSeconds(61);
  bot.h.server->pollStore();
  auto after = bot.token({{"scope", "read"}});
  CHECK(headerOf(after.body["access_token"])["kid"] == newKid);
  CHECK(bot.h.verifyWithJwks(after.body["access_token"]).is_object());
  CHECK(bot.h.get("/jwks").body["keys"].size() == 2);  // the old one until its tokens expired
  bot.h.clock.advanceSeconds(o.keepOldMs / 1000);
  bot.h.server->pollStore();
  CHECK(bot.h.get("/jwks").body["keys"].size() == 1);
}

TEST_CASE("signature precomputation runs on a SCHED_IDLE thread named sign-ahead, and stops with the server") {
  Bot bot;
  // The thread's scheduling policy, from /proc (field 41 of stat): 5 is SCHED_IDLE.
  auto policyOf = [](const std::string& name) -> int {
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(t.path() / "comm");
      std::string n;
      std::getline(comm, n);
      if (n != name) continue;
      std::ifstream statFile(t.path() / "stat");
      std::string stat;
      std::getline(statFile, stat);
      const auto close = stat.rfind(')');
      if (close == std::string::npos || close + 2 > stat.size()) continue;  // the thread went meanwhile
      std::istringstream rest(stat.substr(close + 2));  // fields from 3 on
      std::string field;
      int i = 3;
      for (; i <= 41 && rest >> field; ++i) {
      }
      if (i <= 41) continue;
      return std::stoi(field);
    }
    return -1;  // no such thread
  };
  int policy = -1;
  for (int i = 0; i < 200 && policy != 5; ++i) {  // the thread names and schedules itself first thing
    policy = policyOf("sign-ahead");
    if (policy != 5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(policy == 5);
  // Tokens signed meanwhile (from the stock or not) verify against /jwks.
  for (int i = 0; i < 20; ++i) {
    auto r = bot.token({{"scope", "read"}});
    REQUIRE(r.status == 200);
    CHECK(bot.h.verifyWithJwks(r.body["access_token"]).is_object());
  }
  bot.h.server->stop();
  // Joined; the kernel may list an exiting thread a moment longer.
  int after = policyOf("sign-ahead");
  for (int i = 0; i < 200 && after != -1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = policyOf("sign-ahead");
  }
  CHECK(after == -1);
}

TEST_CASE("store WAL: the server truncates it once [store] wal_truncate_interval_s passed on its clock") {
  Bot bot;  // its subject and client are writes: the WAL has frames
  const auto wal = bot.h.dir / "mandate.db-wal";
  auto walBytes = [&] {
    std::error_code ec;
    auto n = std::filesystem::file_size(wal, ec);
    return ec ? std::uintmax_t{0} : n;
  };
  // The poller thread calls pollStore too; whichever call finds it due does it.
  auto waitTruncations = [&](std::uint64_t n) {
    for (int i = 0; i < 500 && bot.h.server->walTruncations() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return bot.h.server->walTruncations();
  };
  CHECK(walBytes() > 0);
  bot.h.clock.advanceSeconds(299);  // the default interval is 300 s
  bot.h.server->pollStore();
  CHECK(bot.h.server->walTruncations() == 0);
  CHECK(walBytes() > 0);
  bot.h.clock.advanceSeconds(2);
  bot.h.server->pollStore();
  CHECK(waitTruncations(1) == 1);
  CHECK(walBytes() == 0);
  // Tokens are still issued; the next truncation is an interval later.
  bot.h.subject("acct-2", Harness::professionalSubject());
  CHECK(bot.token({{"scope", "read"}}).status == 200);
  CHECK(walBytes() > 0);
  bot.h.clock.advanceSeconds(299);
  bot.h.server->pollStore();
  CHECK(bot.h.server->walTruncations() == 1);
  bot.h.clock.advanceSeconds(2);
  bot.h.server->pollStore();
  CHECK(waitTruncations(2) == 2);
  CHECK(walBytes() == 0);
}

TEST_CASE("policy reload: a bundle that fails is refused and the old one stays live") {
  bool fail = false;
  mandate::oauth::PolicyHolder holder([&](std::string& error) -> std::unique_ptr<mandate::bundle::Bundle> {
    if (fail) {
      error = "E0201 somewhere";
      return nullptr;
    }
    return mandate::cli::loadPolicy(std::string(MANDATE_SOURCE_DIR) + "/policies", "", "", error);
  });
  std::string error;
  REQUIRE(holder.reload(1, error));
  auto live = holder.current();
  fail = true;
  CHECK_FALSE(holder.reload(2, error));
  CHECK(error == "E0201 somewhere");
  CHECK(holder.current() == live);
  CHECK(holder.current()->loadedMs == 1);
}

TEST_CASE("health, readiness and metrics") {
  Bot bot;
  CHECK(bot.h.get("/healthz").status == 200);
  auto ready = bot.h.get("/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body["status"] == "ready");
  bot.token({{"scope", "read"}});
  auto m = bot.h.get("/metrics");
  CHECK(m.status == 200);
  CHECK(m.raw.find("mandate_http_requests_total{endpoint=\"token\",code=\"200\"} 1") != std::string::npos);
  CHECK(m.raw.find("mandate_policy_info{hash=\"sha256:") != std::string::npos);
  CHECK(m.raw.find("mandate_http_request_duration_seconds_bucket{endpoint=\"token\",le=\"+Inf\"} 1") != std::string::npos);
}

TEST_CASE("authorization_details: an action or product class listed twice is refused (requests and their records stay bounded)") {
  Bot bot;
  auto twiceAction = bot.token({{"authorization_details", R"([{"type":"trading","actions":["trade","trade"]}])"}});
  CHECK(twiceAction.status == 400);
  CHECK(twiceAction.body["error"] == "invalid_authorization_details");
  CHECK(twiceAction.body["error_description"].get<std::string>().find("listed twice") != std::string::npos);
  auto twiceClass = bot.token(
      {{"authorization_details", R"([{"type":"trading","actions":["trade"],"product_classes":["spot","spot"]}])"}});
  CHECK(twiceClass.status == 400);
  CHECK(twiceClass.body["error"] == "invalid_authorization_details");
  // Deep nesting is named by its kind, not echoed back.
  std::string deep = R"([{"type":"trading","actions":[)" + std::string(5000, '[') + std::string(5000, ']') + "]}]";
  auto nested = bot.token({{"authorization_details", deep}});
  CHECK(nested.status == 400);
  CHECK(nested.raw.size() < 1000);
}

TEST_CASE("json_text: bytes that are not UTF-8 become U+FFFD, so the output is always valid JSON") {
  for (std::string bad : {std::string("\xF8\x80\x80"), std::string("\xFF"), std::string("\xF5\x80\x80\x80"),
                          std::string("\xC0\x80"), std::string("\xED\xA0\x80"), std::string("a\xE2\x82")}) {
    std::string out;
    mandate::oauth::appendJsonString(out, bad);
    CAPTURE(out);
    CHECK(json::accept(out));
    CHECK(out.find("\xEF\xBF\xBD") != std::string::npos);
  }
  std::string euro;
  mandate::oauth::appendJsonString(euro, "\xE2\x82\xAC");
  CHECK(euro == "\"\xE2\x82\xAC\"");
}
