// The token endpoint's decision records (decisionData) are appended with dataWellFormed, which
// skips the audit log's JSON syntax check: this holds the builder to that promise. Every string
// that can reach a record from outside the builder (the client's scope, authorization_details and
// resource, error descriptions, rule ids and reasons, evaluation errors, the refresh family) is
// replaced by hostile bytes: quotes, backslashes, control characters, invalid and overlong UTF-8,
// bytes 0x80-0xFF, valid multi-byte characters; the result must pass the check the flag skips,
// parse with nlohmann, and keep the values (as strings or, for authorization_details, as the
// JSON array the client sent when it is one).
#include <doctest/doctest.h>

#include <random>

#include "audit/audit_log.h"
#include "audit/json_check.h"
#include "oauth/audit_events.h"
#include "oauth/json_text.h"
#include "harness.h"
#include "server_setup.h"

using mandate::oauth::CellSet;
using nlohmann::json;
namespace oauth = mandate::oauth;

namespace {

std::string hostile(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {
      "\"", "\\", "\\u0000", "\x00", "\n", "\r", "\t", "\x1f", "\x7f", "/", "}", "]", ",", ":",
      "\xc3\xa9",          // é
      "\xe2\x82\xac",      // €
      "\xf0\x9f\x92\xb8",  // 💸
      "\xc0\xaf",          // overlong '/'
      "\xed\xa0\x80",      // a UTF-16 surrogate
      "\xf4\x90\x80\x80",  // beyond U+10FFFF
      "\xe2\x82",          // truncated
      "\x80", "\xbf", "\xf5", "\xff", "plain", " ", "[\"x\"]"};
  std::string out;
  const int n = std::uniform_int_distribution<int>(0, 12)(rng);
  for (int i = 0; i < n; ++i) {
    if (rng() % 4 == 0)
      out.push_back(static_cast<char>(rng() & 0xff));
    else
      out += pieces[rng() % pieces.size()];
  }
  return out;
}

}  // namespace

TEST_CASE("decision records are compact JSON objects whatever the strings in them") {
  const auto& p = oauthtest::referencePolicy();
  const auto& schema = p.bundle->schema;
  CellSet requested(schema.actions.size(), 0);
  for (std::size_t a = 0; a < schema.actions.size(); ++a)
    requested[a] = schema.actionHasProducts[a] ? (1ULL << schema.productCount()) - 1 : 1;
  json in = {{"subject",
              {{"kyc_tier", 2}, {"residence", "DE"}, {"category", "retail"}, {"us_person", false}, {"ecp", false},
               {"appropriateness", json::array()}, {"net_worth_usd", "50000"}, {"onboarded", "2024-01-01T00:00:00Z"}}},
             {"client", {{"kind", "web"}, {"ip_allowlist", json::array()}}},
             {"request", {{"ip", "127.0.0.1"}, {"country", "DE"}, {"scopes", {"read", "trade"}}, {"aal", 1}, {"auth_age", 0}}},
             {"risk", {{"score", 0}, {"new_device", false}, {"impossible_travel", false}}},
             {"now", 1800000000}};
  oauth::Evaluator ev;
  oauth::OAuthError decided;
  const oauth::Grant base = oauth::decideInput(p, in, requested, 1, 0, false, decided, ev);
  REQUIRE(base.any());
  REQUIRE_FALSE(base.denials.empty());  // German retail: some cells are denied by rules
  const std::string inputText = in.dump();

  std::mt19937 rng(20261126);
  int issued = 0, denied = 0, detailsAsArray = 0;
  for (int i = 0; i < 3000; ++i) {
    oauth::Grant g = base;
    for (auto& d : g.denials) {
      if (rng() % 2) d.rule = hostile(rng);
      d.reason = hostile(rng);
    }
    if (rng() % 3 == 0) g.evalErrors = {hostile(rng), hostile(rng)};
    oauth::PermissionRequest asked;
    if (rng() % 2) asked.scope = hostile(rng);
    std::string details;
    if (rng() % 2) {
      // Half the time a JSON array with hostile strings in it (nlohmann-valid only if the bytes
      // are valid UTF-8), else raw hostile text.
      details = rng() % 2 ? json::array({{{"type", "trading"}, {"actions", {hostile(rng)}}}}).dump(
                                -1, ' ', false, json::error_handler_t::replace)
                          : hostile(rng);
      asked.authorizationDetails = details;
    }
    const std::string resource = rng() % 2 ? hostile(rng) : "";
    oauth::OAuthError denial{400, "invalid_scope", hostile(rng)};
    oauth::DecisionRecord d;
    d.schema = &schema;
    d.grantType = rng() % 2 ? "client_credentials" : "refresh_token";
    d.asked = &asked;
    d.resource = &resource;
    d.requested = &requested;
    d.grant = &g;
    d.inputText = &inputText;
    const bool isDenial = rng() % 2;
    if (isDenial) {
      d.denial = &denial;
      ++denied;
    } else {
      d.exp = 1800000300;
      d.refresh = rng() % 2;
      if (d.refresh) d.family = hostile(rng);
      ++issued;
    }
    const std::string data = oauth::decisionData(d);
    INFO("case " << i << ": " << data);
    REQUIRE(mandate::audit::isJsonObject(data));
    json parsed = json::parse(data);  // throws (fails the test) if the check were wrong
    CHECK(parsed["input"] == in);
    if (asked.scope) CHECK(parsed["request"]["scope"].is_string());
    if (asked.authorizationDetails) {
      const auto& got = parsed["request"]["authorization_details"];
      CHECK((got.is_string() || got.is_array()));
      if (got.is_array()) ++detailsAsArray;
    }
    REQUIRE(parsed["decision"]["denied"].size() == g.denials.size());
    if (isDenial) {
      CHECK(parsed["error"]["error"] == "invalid_scope");
      CHECK(parsed["error"]["error_description"].is_string());
    } else {
      CHECK(parsed["token"]["exp"] == 1800000300);
    }

    // What the token endpoint appends: accepted without the syntax check, and the same data is
    // accepted with it.
    mandate::audit::Record r;
    r.type = isDenial ? "token.denied" : "token.issued";
    r.dataJson = data;
    CHECK(mandate::audit::validate(r).empty());
    r.dataWellFormed = true;
    CHECK(mandate::audit::validate(r).empty());
  }
  CHECK(issued > 1000);
  CHECK(denied > 1000);
  CHECK(detailsAsArray > 100);
}

TEST_CASE("dataWellFormed skips only the syntax check: size and scalar fields are still enforced") {
  mandate::audit::Record r;
  r.type = "token.issued";
  r.dataWellFormed = true;
  r.dataJson = "{\"not\": json";  // a broken producer's data would be stored: hence the test above
  CHECK(mandate::audit::validate(r).empty());
  r.dataWellFormed = false;
  CHECK_FALSE(mandate::audit::validate(r).empty());
  r.dataWellFormed = true;
  r.dataJson = "{\"x\":\"" + std::string((1 << 20) + 1, 'a') + "\"}";
  CHECK(mandate::audit::validate(r) == "invalid audit record: data over 1 MiB");
  r.dataJson = "{}";
  r.jti = "tab\there";
  CHECK_FALSE(mandate::audit::validate(r).empty());
}

namespace {

// appendJsonString as it was written first, one byte at a time: the oracle for the faster one.
void byteAtATime(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // The valid UTF-8 sequence at i (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
      auto at = [&](std::size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
      std::size_t n = 0;
      if (c >= 0xC2 && c <= 0xDF && (at(i + 1) & 0xC0) == 0x80) n = 2;
      else if (c == 0xE0 && at(i + 1) >= 0xA0 && at(i + 1) <= 0xBF && (at(i + 2) & 0xC0) == 0x80) n = 3;
      else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && (at(i + 1) & 0xC0) == 0x80 && (at(i + 2) & 0xC0) == 0x80) n = 3;
      else if (c == 0xED && at(i + 1) >= 0x80 && at(i + 1) <= 0x9F && (at(i + 2) & 0xC0) == 0x80) n = 3;
      else if (c == 0xF0 && at(i + 1) >= 0x90 && at(i + 1) <= 0xBF && (at(i + 2) & 0xC0) == 0x80 && (at(i + 3) & 0xC0) == 0x80) n = 4;
      else if (c >= 0xF1 && c <= 0xF3 && (at(i + 1) & 0xC0) == 0x80 && (at(i + 2) & 0xC0) == 0x80 && (at(i + 3) & 0xC0) == 0x80) n = 4;
      else if (c == 0xF4 && at(i + 1) >= 0x80 && at(i + 1) <= 0x8F && (at(i + 2) & 0xC0) == 0x80 && (at(i + 3) & 0xC0) == 0x80) n = 4;
      if (n) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out += "\xEF\xBF\xBD";
      }
    }
  }
  out.push_back('"');
}

}  // namespace

TEST_CASE("appendJsonString copies runs of plain ASCII at once and escapes exactly as byte by byte") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s = hostile(rng);
    if (i % 3 == 0) s = "plain prefix " + s + " plain suffix";
    std::string fast = "x", slow = "x";  // appends to what is there
    mandate::oauth::appendJsonString(fast, s);
    byteAtATime(slow, s);
    REQUIRE(fast == slow);
    REQUIRE(json::accept(fast.substr(1)));
  }
  std::string empty;
  mandate::oauth::appendJsonString(empty, "");
  CHECK(empty == "\"\"");
}
