// The input frame filler: every problem with a request is reported, naming the attribute.
#include <doctest/doctest.h>

#include <algorithm>

#include "support.h"
#include "value/literals.h"

namespace {

using namespace vmtest;
using namespace mandate;
using nlohmann::json;

const char* kPolicy = R"(
schema {
  enum Category { retail, professional }
  enum PC { spot, future }
  actions { read, trade }
  products PC on trade
  subject { tier: int  category: Category  residence: country  nw: decimal  approp: set<PC>  optional lei: string  onboarded: time }
  client { allow: set<cidr> }
  request { ip: ip  auth_age: duration  scopes: set<string> }
  risk { score: int  optional region: region }
}
policy p "P" { permit read; }
)";

json good() {
  return json::parse(R"({
    "subject": {"tier": 1, "category": "retail", "residence": "GB", "nw": "12.50", "approp": ["spot"], "onboarded": 1700000000},
    "client": {"allow": ["10.0.0.0/8", "2001:db8::/32"]},
    "request": {"ip": "10.0.0.1", "auth_age": "15m", "scopes": ["read"]},
    "risk": {"score": 3},
    "now": "2025-01-01T00:00:00Z"
  })");
}

struct Filled {
  vm::Frame frame;
  std::vector<std::string> errors;
  bool ok = false;
};

Filled fill(const bundle::Bundle& b, const json& input, bool requireAll = true) {
  Filled f;
  vm::FrameOptions fo;
  fo.requireAll = requireAll;
  f.ok = vm::fillFrame(b.schema, input, f.frame, f.errors, fo);
  return f;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + "\n";
  return s;
}

const bundle::Value& slot(const bundle::Bundle& b, const Filled& f, const char* section, const char* name) {
  return f.frame.slots[b.schema.findAttr(section, name)->slot];
}

TEST_CASE("frame: a complete request fills every slot with the exact value") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  Filled f = fill(*c.bundle, good());
  INFO(joined(f.errors));
  REQUIRE(f.ok);
  CHECK(slot(*c.bundle, f, "subject", "tier").a == 1);
  CHECK(slot(*c.bundle, f, "subject", "category").a == 0);
  CHECK(bundle::decimalOf(slot(*c.bundle, f, "subject", "nw")) == lit::Decimal::fromInt(25).units / 2);
  CHECK(slot(*c.bundle, f, "subject", "onboarded").a == 1700000000LL * 1000);
  CHECK(slot(*c.bundle, f, "subject", "approp").a == 1);  // mask of {spot}
  CHECK(slot(*c.bundle, f, "request", "auth_age").a == 15 * 60 * 1000);
  CHECK(f.frame.hasNow);
  CHECK(f.frame.nowMs == 1735689600LL * 1000);
  CHECK_FALSE(f.frame.present[c.bundle->schema.findAttr("subject", "lei")->slot]);
}

struct BadCase {
  const char* what;
  const char* patch;     // merge patch over good()
  const char* message;   // the one error expected, exactly
};

const BadCase kBad[] = {
    {"missing required attribute", R"({"subject": {"tier": null}})", "missing required attribute `subject.tier`"},
    {"missing required set", R"({"client": {"allow": null}})", "missing required attribute `client.allow`"},
    {"missing now", R"({"now": null})", "missing `now`"},
    {"wrong type: string for int", R"({"subject": {"tier": "1"}})", "attribute `subject.tier`: expected an integer"},
    {"wrong type: fraction for int", R"({"risk": {"score": 1.5}})", "attribute `risk.score`: expected an integer"},
    {"int out of range", R"({"risk": {"score": 9223372036854775808}})", "attribute `risk.score`: integer out of range"},
    {"wrong type: bool for decimal", R"({"subject": {"nw": true}})", "attribute `subject.nw`: expected a decimal (string or number)"},
    {"exponent decimal", R"({"subject": {"nw": "1e3"}})", "attribute `subject.nw`: expected a plain decimal number"},
    {"unknown enum value", R"({"subject": {"category": "retial"}})", "attribute `subject.category`: `retial` is not a value of Category"},
    {"not a country", R"({"subject": {"residence": "XX"}})", "attribute `subject.residence`: expected an ISO 3166-1 alpha-2 country code"},
    {"not an ip", R"({"request": {"ip": "10.0.0.256"}})", "attribute `request.ip`: expected an IP address"},
    {"set element of the wrong type", R"({"subject": {"approp": ["spot", "swap"]}})", "attribute `subject.approp`: `swap` is not a value of PC"},
    {"set given as a scalar", R"({"request": {"scopes": "read"}})", "attribute `request.scopes`: expected an array"},
    {"bad cidr", R"({"client": {"allow": ["10.0.0.0/33"]}})", "attribute `client.allow`: expected a CIDR block: "},
    {"bad duration", R"({"request": {"auth_age": "15 minutes"}})", "attribute `request.auth_age`: "},
    {"negative duration", R"({"request": {"auth_age": -5}})", "attribute `request.auth_age`: duration out of range"},
    {"bad time", R"({"subject": {"onboarded": "yesterday"}})", "attribute `subject.onboarded`: "},
    {"bad region", R"({"risk": {"region": "Ukraine"}})", "attribute `risk.region`: "},
    {"unknown attribute", R"({"subject": {"kyc_tier": 3}})", "unknown attribute `subject.kyc_tier`"},
    {"unknown section", R"({"device": {"id": 1}})", "unknown input section `device`"},
    {"section not an object", R"({"risk": 5})", "risk: expected an object"},
    {"null for a required attribute", R"({"subject": {"tier": null}, "risk": {"score": null}})",
     "missing required attribute `subject.tier`"},
};

TEST_CASE("frame: each problem is one error naming the attribute") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  for (const auto& bc : kBad) {
    std::string what = bc.what;
    CAPTURE(what);
    json in = good();
    in.merge_patch(json::parse(bc.patch));
    Filled f = fill(*c.bundle, in);
    INFO(joined(f.errors));
    CHECK_FALSE(f.ok);
    REQUIRE(!f.errors.empty());
    // The expected message is the error, or (for reasons from the literal parsers) its prefix.
    CHECK(f.errors[0].rfind(bc.message, 0) == 0);
    if (what != "null for a required attribute" && what != "section not an object") {
      CHECK(f.errors.size() == 1);
    }
  }
}

TEST_CASE("frame: every problem in one request is reported, not only the first") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  json in = good();
  in.merge_patch(json::parse(R"({"subject": {"tier": "x", "category": null, "bogus": 1}, "request": {"ip": 7}, "now": null})"));
  Filled f = fill(*c.bundle, in);
  INFO(joined(f.errors));
  CHECK_FALSE(f.ok);
  auto has = [&](const std::string& m) { return std::find(f.errors.begin(), f.errors.end(), m) != f.errors.end(); };
  CHECK(has("attribute `subject.tier`: expected an integer"));
  CHECK(has("unknown attribute `subject.bogus`"));
  CHECK(has("attribute `request.ip`: expected an IP address"));
  CHECK(has("missing required attribute `subject.category`"));
  CHECK(has("missing `now`"));
  CHECK(f.errors.size() == 5);
}

TEST_CASE("frame: a value given but invalid is reported once, not again as missing") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  json in = good();
  in["subject"]["tier"] = nullptr;  // JSON null for a required attribute
  in["now"] = "soon";
  Filled f = fill(*c.bundle, in);
  INFO(joined(f.errors));
  CHECK_FALSE(f.ok);
  REQUIRE(f.errors.size() == 2);
  CHECK(f.errors[0] == "now: times are written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC)");
  CHECK(f.errors[1] == "attribute `subject.tier`: expected an integer");
}

TEST_CASE("frame: without requireAll, missing attributes are absent, not errors") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  Filled f = fill(*c.bundle, json::parse(R"({"subject": {"tier": 2}})"), false);
  CHECK(f.ok);
  CHECK(f.errors.empty());
  CHECK(f.frame.present[c.bundle->schema.findAttr("subject", "tier")->slot]);
  CHECK_FALSE(f.frame.present[c.bundle->schema.findAttr("subject", "nw")->slot]);
  CHECK_FALSE(f.frame.hasNow);
  // Type errors are still errors.
  Filled g = fill(*c.bundle, json::parse(R"({"subject": {"tier": "2"}})"), false);
  CHECK_FALSE(g.ok);
}

TEST_CASE("frame: the input must be an object") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  Filled f = fill(*c.bundle, json::parse("[1, 2]"));
  CHECK_FALSE(f.ok);
  REQUIRE(f.errors.size() == 1);
  CHECK(f.errors[0].find("JSON object") != std::string::npos);
}

TEST_CASE("frame: decimals are exact from strings and from JSON numbers") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  struct D {
    json in;
    const char* text;
  } cases[] = {{"0.1", "0.1"},
               {0.1, "0.1"},
               {json::parse("0.30000000000000004"), "0.30000000000000004"},
               {"-2.5", "-2.5"},
               {7, "7"},
               {"0.000000000000000001", "0.000000000000000001"},
               {"99999999999999999999.999999999999999999", "99999999999999999999.999999999999999999"}};
  for (auto& d : cases) {
    CAPTURE(d.text);
    json in = good();
    in["subject"]["nw"] = d.in;
    Filled f = fill(*c.bundle, in);
    INFO(joined(f.errors));
    REQUIRE(f.ok);
    CHECK(lit::toString(lit::Decimal{bundle::decimalOf(slot(*c.bundle, f, "subject", "nw"))}) == d.text);
  }
  json in = good();
  in["subject"]["nw"] = "100000000000000000000";  // 21 digits: beyond the decimal range
  CHECK_FALSE(fill(*c.bundle, in).ok);
  in["subject"]["nw"] = "0.0000000000000000001";  // 19 fractional digits
  CHECK_FALSE(fill(*c.bundle, in).ok);
}

}  // namespace
