// isJsonObject against nlohmann::json::accept (the parser that reads records back) on hand-picked
// cases and on many random mutations of real record data: they must agree on every input.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/json_check.h"

using mandate::audit::isJsonObject;

namespace {

// nlohmann's verdict, narrowed to what a record's data must be: an object, compact (no raw
// control characters anywhere, so tabs and newlines between tokens are refused too).
bool reference(const std::string& s) {
  if (!nlohmann::json::accept(s)) return false;
  for (unsigned char c : s)
    if (c < 0x20) return false;
  auto first = s.find_first_not_of(' ');
  return first != std::string::npos && s[first] == '{';
}

const std::vector<std::string> kSeeds = {
    R"({"grant_type":"client_credentials","request":{},"requested":{"read":[],"trade":["spot","margin"]},"decision":{"granted":{"read":[]},"authorization_details":[{"type":"trading","actions":["read"],"limits":{"max_leverage":2.5,"x":-1e-7,"y":0}}],"scope":"read","denied":[{"rule":"a.b","reason":"Trading bots \u00e9 \"quoted\" \\ /","cells":{}}],"obligations":{"ttl_cap_s":300},"errors":[]},"token":{"exp":1795692383,"refresh":false},"input":{"ok":true,"no":null,"f":false,"s":"\ud83d\ude00 caf\u00e9 ünï"}})",
    R"({})",
    R"( { "a" : [ 1 , 2.0 , -3e+2 , [ ] , { } ] } )",
};

}  // namespace

TEST_CASE("isJsonObject: hand-picked cases agree with nlohmann") {
  const std::vector<std::string> cases = {
      "{}", "[]", "{\"a\":1}", "{\"a\":1,}", "{\"a\"}", "{\"a\":}", "{,}", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}",
      "{\"a\":.5}", "{\"a\":1e}", "{\"a\":1E+}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800\\udc00\"}",
      "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
      "{\"a\":\"\xe2\x82\xac\"}", "{\"a\":[1,2]]", "{\"a\":[1,2}", "{\"a\":{\"b\":[{}]}}", "{} {}", "{}x", " {} ", "",
      "{\"a\":\"unterminated}", "{\"a\":[1,]}", "{\"a\":1 \"b\":2}", "{1:2}", "{\"a\"::1}", "{\"a\":-0}", "{\"a\":-01}",
      "{\"a\":1e5,\"b\":1.5E-3}", "\"x\"", "1", "null", "{\"a\":\t1}", "{\n}", "{\"a\":\"\t\"}",
      "{\"a\":1e400}", "{\"a\":1e-400}", "{\"a\":123456789012345678901234567890}",
  };
  for (const auto& c : cases) {
    CAPTURE(c);
    CHECK(isJsonObject(c) == reference(c));
  }
}

TEST_CASE("isJsonObject: deep nesting is bounded, not recursive") {
  std::string ok = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  CHECK(isJsonObject(ok));
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_FALSE(isJsonObject(deep));  // refused, without exhausting the stack
}

TEST_CASE("isJsonObject: random mutations of record data agree with nlohmann") {
  std::mt19937_64 rng(20261126);
  const std::string alphabet = "{}[]:,\"\\/-+.0123456789eEtrufalsn u\x01\t\n\x7f\xc3\xa9\xed\xa0\xf0\x9f";
  std::size_t accepted = 0, total = 0;
  for (const auto& seed : kSeeds) {
    REQUIRE(isJsonObject(seed));
    REQUIRE(reference(seed));
    for (int round = 0; round < 20000; ++round) {
      std::string s = seed;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !s.empty(); ++e) {
        std::size_t pos = rng() % s.size();
        switch (rng() % 3) {
          case 0: s[pos] = alphabet[rng() % alphabet.size()]; break;
          case 1: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
          default: s.erase(pos, 1 + rng() % 3); break;
        }
      }
      bool mine = isJsonObject(s);
      bool theirs = reference(s);
      if (mine != theirs) {
        CAPTURE(s);
        CHECK(mine == theirs);
      }
      accepted += mine;
      ++total;
    }
  }
  // Both outcomes occur often enough for the comparison to mean something.
  CHECK(accepted > total / 20);
  CHECK(accepted < total - total / 20);
}
