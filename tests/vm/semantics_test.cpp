// Decision semantics, table-driven: each case is policy text compiled in memory and one
// request; the expected decision is written out in full (every cell, limits, obligations,
// ttl cap, errors) so that nothing the VM decides goes unchecked. See support.h `summary`.
#include <doctest/doctest.h>

#include "support.h"

namespace {

using namespace vmtest;
using nlohmann::json;

// Cells, in summary order: read, trade/spot, trade/margin, trade/future, trade/option, withdraw.
const char* kSchema = R"(
schema {
  enum Category { retail, professional, ecp }
  enum PC { spot, margin, future, option }
  enum Kind { web, bot }
  actions { read, trade, withdraw }
  products PC on trade
  subject {
    tier: int
    category: Category
    residence: country
    optional region: region
    optional lei: string
    approp: set<PC>
    nw: decimal
    onboarded: time
    optional fav: PC
  }
  client { kind: Kind  allow: set<cidr>  optional net: cidr }
  request { ip: ip  scopes: set<string>  aal: int  auth_age: duration  country: country }
  risk { score: int  optional factor: decimal }
  limits { lev: decimal  notional: int  window: duration }
}
)";

json baseInput() {
  return json::parse(R"({
    "subject": {"tier": 2, "category": "retail", "residence": "GB", "approp": ["spot"], "nw": "1000.5",
                "onboarded": "2024-01-01T00:00:00Z"},
    "client": {"kind": "web", "allow": ["10.0.0.0/8", "2001:db8::/32"]},
    "request": {"ip": "10.1.2.3", "scopes": ["trade", "read"], "aal": 1, "auth_age": "10m", "country": "GB"},
    "risk": {"score": 10},
    "now": "2025-01-01T00:00:00Z"
  })");
}

struct Case {
  const char* name;
  const char* policies;  // policy blocks (and consts) appended to kSchema
  const char* patch;     // JSON merge patch applied to baseInput(); null deletes (absent attribute)
  const char* expect;    // summary()
};

void runCases(const Case* cases, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Case& c = cases[i];
    std::string name = c.name;
    CAPTURE(name);
    Compiled comp = compile(std::string(kSchema) + c.policies);
    INFO(comp.errors);
    REQUIRE(comp.ok());
    json input = baseInput();
    input.merge_patch(json::parse(c.patch));
    // Absent attributes and `now` are legitimate here: evaluation reports them as errors.
    Run r = evaluate(*comp.bundle, input, false);
    INFO("frame errors: " << r.frameErrors.size());
    REQUIRE(r.frameErrors.empty());
    CHECK(summary(*comp.bundle, r.d) == std::string(c.expect));
    // The same decision through the binary format.
    auto loaded = roundTrip(*comp.bundle);
    REQUIRE(loaded != nullptr);
    Run r2 = evaluate(*loaded, input, false);
    CHECK(summary(*loaded, r2.d) == std::string(c.expect));
  }
}

// ---- combination rules -------------------------------------------------------------

const Case kCombination[] = {
    {"default deny: no permit, nothing permitted",
     R"(policy p "P" { permit read when risk.score > 50; limit notional = 5 for withdraw; })", "{}",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-{notional=5}"},
    {"deny overrides permit only on the cells it names",
     R"(policy p "P" { permit trade on all; deny trade on future because "no futures"; })", "{}",
     "read:- trade/spot:permit trade/margin:permit trade/future:deny(p.2) trade/option:permit withdraw:-"},
    {"a deny written before the permit still wins; other actions untouched",
     R"(policy p "P" { deny trade on spot, option; permit all; })", "{}",
     "read:permit trade/spot:deny(p.1) trade/margin:permit trade/future:permit trade/option:deny(p.1) withdraw:permit"},
    {"deny across policies; the first denying rule is reported",
     R"(policy p "P" { permit all; deny withdraw when risk.score > 5 because "risky"; }
        policy q "Q" { deny all when risk.score > 5 because "risky too"; })",
     "{}",
     "read:deny(q.1) trade/spot:deny(q.1) trade/margin:deny(q.1) trade/future:deny(q.1) trade/option:deny(q.1) "
     "withdraw:deny(p.2)"},
    {"deny that does not fire leaves permits",
     R"(policy p "P" { permit all; deny all when risk.score >= 90; })", "{}",
     "read:permit trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:permit"},
    {"limits combine to the minimum across rules and policies",
     R"(policy p "P" { permit trade on all; limit lev = 10 for trade; limit lev = 2.5 for trade on future, option; }
        policy q "Q" { limit lev = 5 for trade on option, spot; limit lev = 20 for trade on margin; })",
     "{}",
     "read:- trade/spot:permit{lev=5} trade/margin:permit{lev=10} trade/future:permit{lev=2.5} "
     "trade/option:permit{lev=2.5} withdraw:-"},
    {"a limit whose condition is false does not apply",
     R"(policy p "P" { permit withdraw; limit notional = 5 for withdraw when risk.score > 50; limit notional = 7 for withdraw; })",
     "{}", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit{notional=7}"},
    {"int, decimal and duration limits",
     R"(policy p "P" { permit withdraw; limit notional = 1_000 + subject.tier for withdraw;
        limit window = 1h for withdraw; limit window = 90m for withdraw; limit lev = 3 for withdraw; })",
     "{}", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit{lev=3,notional=1002,window=3600000ms}"},
    {"obligations combine to the strongest",
     R"(policy p "P" {
          permit withdraw;
          require aal >= 2 for withdraw;
          require aal >= 3 for withdraw when risk.score > 5;
          require aal >= 1 for withdraw;
          require auth_age <= 15m for withdraw;
          require auth_age <= 5m for withdraw;
          require auth_age <= 1h;
          cap ttl 10m;
          cap ttl 5m when client.kind == web;
          cap ttl 1h;
        })",
     "{}",
     "read:-{auth_age<=3600000ms} trade/spot:-{auth_age<=3600000ms} trade/margin:-{auth_age<=3600000ms} "
     "trade/future:-{auth_age<=3600000ms} trade/option:-{auth_age<=3600000ms} withdraw:permit{aal>=3,auth_age<=300000ms} "
     "ttl=300000ms"},
    {"an obligation whose condition is false does not apply",
     R"(policy p "P" { permit read; require aal >= 4 for read when risk.score > 50; cap ttl 1m when client.kind == bot; })",
     "{}", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
};

TEST_CASE("semantics: default deny, deny overrides, limits and obligations combine") {
  runCases(kCombination, std::size(kCombination));
}

// ---- failing closed --------------------------------------------------------------------

const Case kFailClosed[] = {
    {"an absent attribute in a deny condition denies its cells",
     R"(policy p "P" { permit all; deny trade on future when subject.lei == "x" because "lei"; })", "{}",
     "read:permit trade/spot:permit trade/margin:permit trade/future:deny(p.2) trade/option:permit withdraw:permit "
     "errors=[p.2:absent subject.lei]"},
    {"an absent attribute in a permit condition: the permit does not apply",
     R"(policy p "P" { permit read when subject.lei == "x"; permit withdraw; })", "{}",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit errors=[p.1:absent subject.lei]"},
    {"a permit whose condition errors does not block another permit",
     R"(policy p "P" { permit read when subject.lei == "x"; permit read when risk.score < 50; })", "{}",
     "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- errors=[p.1:absent subject.lei]"},
    {"overflow in a limit value denies the limit's cells",
     R"(policy p "P" { permit all; limit notional = subject.tier * 9223372036854775807 for withdraw; })", "{}",
     "read:permit trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:deny(p.2) "
     "errors=[p.2:overflow]"},
    {"an error in a limit condition denies the limit's cells",
     R"(policy p "P" { permit all; limit lev = 2 for trade on spot, margin when risk.factor > 1; })", "{}",
     "read:permit trade/spot:deny(p.2) trade/margin:deny(p.2) trade/future:permit trade/option:permit withdraw:permit "
     "errors=[p.2:absent risk.factor]"},
    {"an error in a require rule denies its cells",
     R"(policy p "P" { permit all; require aal >= 2 for read when risk.score + 9223372036854775807 > 0; })", "{}",
     "read:deny(p.2) trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:permit "
     "errors=[p.2:overflow]"},
    {"an error in a ttl cap (no target) denies every cell",
     R"(policy p "P" { permit all; cap ttl 5m when subject.lei == "x"; })", "{}",
     "read:deny(p.2) trade/spot:deny(p.2) trade/margin:deny(p.2) trade/future:deny(p.2) trade/option:deny(p.2) "
     "withdraw:deny(p.2) errors=[p.2:absent subject.lei]"},
    {"integer overflow at run time: attribute times a big constant, in a deny",
     R"(policy p "P" { permit withdraw; deny withdraw when risk.score * 1_000_000_000_000_000_000 > 5 because "x"; })",
     R"({"risk": {"score": 10}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:deny(p.2) errors=[p.2:overflow]"},
    {"no overflow when the product fits",
     R"(policy p "P" { permit withdraw; deny withdraw when risk.score * 1_000_000_000_000_000_000 > 5 because "x"; })",
     R"({"risk": {"score": 9}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:deny(p.2)"},
    {"negating the smallest int overflows",
     R"(policy p "P" { permit withdraw; deny withdraw when -risk.score > 0; })", R"({"risk": {"score": -9223372036854775808}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:deny(p.2) errors=[p.2:overflow]"},
    {"int division by zero denies",
     R"(policy p "P" { permit all; deny all when 100 / risk.score > 1; })", R"({"risk": {"score": 0}})",
     "read:deny(p.2) trade/spot:deny(p.2) trade/margin:deny(p.2) trade/future:deny(p.2) trade/option:deny(p.2) "
     "withdraw:deny(p.2) errors=[p.2:div0]"},
    {"decimal division by zero in a permit: not permitted",
     R"(policy p "P" { permit read when subject.nw / risk.factor > 1; })", R"({"risk": {"factor": "0"}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- errors=[p.1:div0]"},
    {"INT64_MIN / -1 overflows",
     R"(policy p "P" { permit read; deny read when risk.score / -1 > 0; })", R"({"risk": {"score": -9223372036854775808}})",
     "read:deny(p.2) trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- errors=[p.2:overflow]"},
    {"`now` absent is an error",
     R"(policy p "P" { permit read when now > 2024-01-01; deny withdraw when now > 2024-01-01; })", R"({"now": null})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:deny(p.2) errors=[p.1:no-now, p.2:no-now]"},
    {"short-circuit: the right side of a false `and` is not evaluated",
     R"(policy p "P" { permit read when risk.score > 50 and subject.lei == "x"; permit withdraw when risk.score < 50 or subject.lei == "x"; })",
     "{}", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"an error in a limit value only when its condition holds",
     R"(policy p "P" { permit withdraw; limit notional = 100 / risk.score for withdraw when risk.score > 0; })",
     R"({"risk": {"score": 0}})", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
};

TEST_CASE("semantics: evaluation errors fail closed") { runCases(kFailClosed, std::size(kFailClosed)); }

// ---- optional attributes -------------------------------------------------------------------

const char* kGuarded = R"(policy p "P" {
  permit read when has subject.lei and subject.lei != "";
  permit withdraw when not has subject.lei;
  deny read when has subject.lei and subject.lei == "BLOCKED" because "blocked LEI";
})";

const Case kOptional[] = {
    {"guarded, absent", kGuarded, "{}", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"guarded, present", kGuarded, R"({"subject": {"lei": "5493001KJTIIGC8Y1R12"}})",
     "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"guarded, present and blocked", kGuarded, R"({"subject": {"lei": "BLOCKED"}})",
     "read:deny(p.3) trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"null in the input means absent", kGuarded, R"({"subject": {"lei": null}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"unguarded and absent: the deny applies",
     R"(policy p "P" { permit read; deny read when subject.lei == "BLOCKED" because "blocked LEI"; })", "{}",
     "read:deny(p.2) trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- errors=[p.2:absent subject.lei]"},
    {"unguarded and present: decided normally",
     R"(policy p "P" { permit read; deny read when subject.lei == "BLOCKED" because "blocked LEI"; })",
     R"({"subject": {"lei": "OK"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"a guard in `when` protects the value",
     R"(policy p "P" { permit read; limit lev = risk.factor * 2 for trade when has risk.factor; limit notional = 1 for read when has risk.factor; })",
     "{}", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"a guard in `when` protects the value (present)",
     R"(policy p "P" { permit read; limit lev = risk.factor * 2 for trade on spot when has risk.factor; })",
     R"({"risk": {"factor": "1.25"}})", "read:permit trade/spot:-{lev=2.5} trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"`has` on an optional cidr and `in` it",
     R"(policy p "P" { permit read when has client.net and request.ip in client.net; })",
     R"({"client": {"net": "10.1.0.0/16"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
};

TEST_CASE("semantics: optional attributes with and without `has`") { runCases(kOptional, std::size(kOptional)); }

// ---- exact decimals ------------------------------------------------------------------------

const Case kDecimals[] = {
    {"0.1 + 0.2 == 0.3 (constants and at run time)",
     R"(policy p "P" { permit read when 0.1 + 0.2 == 0.3; permit withdraw when risk.factor + 0.2 == 0.3; })",
     R"({"risk": {"factor": "0.1"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"a JSON number is read from its text, not through binary floating point",
     R"(policy p "P" { permit withdraw when risk.factor * 3 == 0.3; })", R"({"risk": {"factor": 0.1}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"2.5 limits, decimals compared with ints",
     R"(policy p "P" { permit trade on all; limit lev = 2.5 for trade on spot; limit lev = subject.tier + 0.5 for trade on margin;
        limit lev = 3 for trade on future when subject.nw > 1000; limit lev = 4 for trade on option when subject.nw > 1001; })",
     "{}", "read:- trade/spot:permit{lev=2.5} trade/margin:permit{lev=2.5} trade/future:permit{lev=3} trade/option:permit withdraw:-"},
    {"18 fractional digits, exactly",
     R"(policy p "P" { permit trade on all; limit lev = 0.000000000000000001 for trade on spot;
        limit lev = risk.factor / 3 for trade on margin; limit lev = risk.factor * 0.000000000000000001 for trade on future;
        limit lev = 99999999999999999999.999999999999999999 for trade on option; })",
     R"({"risk": {"factor": "1"}})",
     "read:- trade/spot:permit{lev=0.000000000000000001} trade/margin:permit{lev=0.333333333333333333} "
     "trade/future:permit{lev=0.000000000000000001} trade/option:permit{lev=99999999999999999999.999999999999999999} withdraw:-"},
    {"a product below the 18th place truncates toward zero",
     R"(policy p "P" { permit trade on all; limit lev = risk.factor * 0.1 for trade on spot; limit lev = -risk.factor * 0.1 for trade on margin; })",
     R"({"risk": {"factor": "0.000000000000000009"}})",
     "read:- trade/spot:permit{lev=0} trade/margin:permit{lev=0} trade/future:permit trade/option:permit withdraw:-"},
    {"decimal overflow at run time fails closed",
     R"(policy p "P" { permit trade on all; limit lev = subject.nw * subject.nw for trade on spot; })",
     R"({"subject": {"nw": "99999999999999999999"}})",
     "read:- trade/spot:deny(p.2) trade/margin:permit trade/future:permit trade/option:permit withdraw:- errors=[p.2:overflow]"},
    {"negative decimals and ordering",
     R"(policy p "P" { permit read when risk.factor < -1.5; permit withdraw when risk.factor <= -2.5 and risk.factor >= -2.5; })",
     R"({"risk": {"factor": "-2.5"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"decimal set membership with int elements",
     R"(policy p "P" { permit read when risk.factor in {1, 2.5, 3}; permit withdraw when subject.nw in {1, 1000.50}; })",
     R"({"risk": {"factor": "2.50"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
};

TEST_CASE("semantics: exact decimals") { runCases(kDecimals, std::size(kDecimals)); }

// ---- product-dependent rules ----------------------------------------------------------------

const Case kProduct[] = {
    {"permit per product: product in subject.appropriateness",
     R"(policy p "P" { permit trade on all when product in subject.approp; })", R"({"subject": {"approp": ["spot", "future"]}})",
     "read:- trade/spot:permit trade/margin:- trade/future:permit trade/option:- withdraw:-"},
    {"deny per product: product not in the set, only on the named cells",
     R"(policy p "P" { permit trade on all; deny trade on future, option when product not in subject.approp because "appropriateness"; })",
     R"({"subject": {"approp": ["spot", "option"]}})",
     "read:- trade/spot:permit trade/margin:permit trade/future:deny(p.2) trade/option:permit withdraw:-"},
    {"match product limits",
     R"(policy p "P" { permit trade on all; limit lev = match product { spot => 1, margin | future => 2.5, _ => 10 } for trade; })", "{}",
     "read:- trade/spot:permit{lev=1} trade/margin:permit{lev=2.5} trade/future:permit{lev=2.5} trade/option:permit{lev=10} withdraw:-"},
    {"product compared with an optional attribute",
     R"(policy p "P" { permit trade on all when has subject.fav and product == subject.fav; })", R"({"subject": {"fav": "margin"}})",
     "read:- trade/spot:- trade/margin:permit trade/future:- trade/option:- withdraw:-"},
    {"an error in a product-dependent deny denies every product it is evaluated for",
     R"(policy p "P" { permit trade on all; deny trade on spot, margin when product == subject.fav; })", "{}",
     "read:- trade/spot:deny(p.2) trade/margin:deny(p.2) trade/future:permit trade/option:permit withdraw:- "
     "errors=[p.2:absent subject.fav, p.2:absent subject.fav]"},
    {"product in a constant set",
     R"(const COMPLEX = {future, option}
        policy p "P" { permit trade on all; limit lev = 1 for trade when product in COMPLEX; })", "{}",
     "read:- trade/spot:permit trade/margin:permit trade/future:permit{lev=1} trade/option:permit{lev=1} withdraw:-"},
};

TEST_CASE("semantics: rules that read `product`") { runCases(kProduct, std::size(kProduct)); }

// Rules whose per-class conjuncts have a mask form (one run for all classes; see
// docs/bundles.md, "Mask conditions"): the decisions and the errors must be those of one run
// per class.
const Case kMask[] = {
    {"mask: an error at a conjunct is recorded for exactly the classes live there, once each",
     R"(policy p "P" { permit trade on all; deny trade on all when product in subject.approp and subject.lei == "x" because "lei"; })",
     R"({"subject": {"approp": ["spot", "future"]}})",
     "read:- trade/spot:deny(p.2) trade/margin:permit trade/future:deny(p.2) trade/option:permit withdraw:- "
     "errors=[p.2:absent subject.lei, p.2:absent subject.lei]"},
    {"mask: a false product-independent conjunct stops before a failing one",
     R"(policy p "P" { permit trade on all; deny trade on all when product not in subject.approp and risk.score > 50 and subject.lei == "x"; })",
     "{}", "read:- trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:-"},
    {"mask: no class left stops before a failing conjunct",
     R"(policy p "P" { permit trade on all; deny trade on margin when product in subject.approp and subject.lei == "x"; })",
     "{}", "read:- trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:-"},
    {"mask: a failing conjunct in a permit only records the error, once per class live there",
     R"(policy p "P" { permit trade on spot, option when product in subject.approp and subject.tier > 1 and subject.lei == "x"; })",
     R"({"subject": {"approp": ["spot", "margin", "option"]}})",
     "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- "
     "errors=[p.1:absent subject.lei, p.1:absent subject.lei]"},
    {"mask: a rule whose targets the class test excludes decides nothing and runs nothing",
     R"(policy p "P" { permit trade on spot, future when product in {margin} and product not in subject.approp; })",
     R"({"subject": {"approp": null}})", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"mask with a value that reads the product and inputs: run per class that holds",
     R"(policy p "P" { permit trade on all; limit notional = match product { spot => subject.tier, _ => 5 } for trade when product in subject.approp; })",
     R"({"subject": {"approp": ["spot", "future"]}})",
     "read:- trade/spot:permit{notional=2} trade/margin:permit trade/future:permit{notional=5} trade/option:permit withdraw:-"},
    {"mask with a failing product-independent value: an error per class that holds, failing closed",
     R"(policy p "P" { permit trade on all; limit notional = subject.tier / (risk.score - 10) for trade when product in subject.approp; })",
     R"({"subject": {"approp": ["margin", "option"]}})",
     "read:- trade/spot:permit trade/margin:deny(p.2) trade/future:permit trade/option:deny(p.2) withdraw:- "
     "errors=[p.2:div0, p.2:div0]"},
    {"mask with a value table and obligations per class",
     R"(policy p "P" { permit trade on all; require aal >= match product { option => 3, _ => 2 } for trade when product not in subject.approp;
                         require auth_age <= match product { spot => 1m, _ => 2m } for trade on all when product in subject.approp; })",
     R"({"subject": {"approp": ["spot", "margin"]}})",
     "read:- trade/spot:permit{auth_age<=60000ms} trade/margin:permit{auth_age<=120000ms} trade/future:permit{aal>=2} "
     "trade/option:permit{aal>=3} withdraw:-"},
};

TEST_CASE("semantics: mask conditions decide as one run per class would") {
  runCases(kMask, std::size(kMask));
  // Not vacuous: those rules do have a mask form, and a traced evaluation (which runs the
  // per-class code) decides the same.
  for (const Case& c : kMask) {
    CAPTURE(c.name);
    Compiled comp = compile(std::string(kSchema) + c.policies);
    REQUIRE(comp.ok());
    bool masked = false;
    for (const auto& r : comp.bundle->rules) masked = masked || r.maskLen > 0 || (r.productDependent && r.condLen == 0);
    CHECK(masked);
    json input = baseInput();
    input.merge_patch(json::parse(c.patch));
    mandate::vm::Trace trace;
    Run traced = evaluate(*comp.bundle, input, false, &trace);
    CHECK(summary(*comp.bundle, traced.d) == std::string(c.expect));
    Run untraced = evaluate(*comp.bundle, input, false);
    CHECK(view(*comp.bundle, untraced.d) == view(*comp.bundle, traced.d));  // rule outcomes too
  }
}

// ---- sets, addresses, countries, strings, time -----------------------------------------------

const Case kSets[] = {
    {"ip in set<cidr> attribute (IPv4)", R"(policy p "P" { permit read when request.ip in client.allow; })", "{}",
     "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"ip in set<cidr> attribute (IPv6)", R"(policy p "P" { permit read when request.ip in client.allow; })",
     R"({"request": {"ip": "2001:db8::5"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"ip outside every block", R"(policy p "P" { permit read when request.ip in client.allow; })",
     R"({"request": {"ip": "2001:db9::1"}})", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"ip in a set literal of IPv4 and IPv6 blocks; not in",
     R"(policy p "P" { permit read when request.ip in {192.168.0.0/16, "2001:db8::/32"};
        permit withdraw when request.ip not in {10.0.0.0/8, "::1/128"}; })",
     R"({"request": {"ip": "2001:db8:ffff::1"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"ip in a single cidr attribute and a /32",
     R"(policy p "P" { permit read when request.ip in client.net; permit withdraw when request.ip in {10.1.2.3/32}; })",
     R"({"client": {"net": "10.1.0.0/16"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"country sets",
     R"(const SANCTIONED = {IR, KP, SY}
        policy p "P" { permit all; deny all when subject.residence in SANCTIONED because "sanctions";
          deny withdraw when request.country not in {GB, FR, DE} because "travel"; })",
     R"({"request": {"country": "US"}})",
     "read:permit trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:deny(p.3)"},
    {"country sets (sanctioned)",
     R"(const SANCTIONED = {IR, KP, SY}
        policy p "P" { permit all; deny all when subject.residence in SANCTIONED because "sanctions"; })",
     R"({"subject": {"residence": "KP"}})",
     "read:deny(p.2) trade/spot:deny(p.2) trade/margin:deny(p.2) trade/future:deny(p.2) trade/option:deny(p.2) withdraw:deny(p.2)"},
    {"region sets",
     R"(policy p "P" { permit read; deny read when has subject.region and subject.region in {UA-43, UA-14} because "occupied"; })",
     R"({"subject": {"region": "UA-43"}})", "read:deny(p.2) trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    {"string sets: attribute and literal",
     R"(policy p "P" { permit trade on all when "trade" in request.scopes; permit read when "admin" not in request.scopes;
        permit withdraw when has subject.lei and subject.lei in {"A", "B"}; })",
     R"({"subject": {"lei": "B"}})", "read:permit trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:permit"},
    {"`in` a set literal with attribute elements; `not in`",
     R"(policy p "P" { permit read when request.country in {subject.residence, US};
        permit withdraw when request.country not in {subject.residence, FR}; })",
     R"({"request": {"country": "US"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"`in` a set literal with attribute elements, int and decimal",
     R"(policy p "P" { permit read when risk.score in {subject.tier, 7}; permit withdraw when subject.nw in {risk.score, 1000.5}; })",
     R"({"risk": {"score": 2}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"enum sets and match with `|` patterns",
     R"(policy p "P" { permit withdraw; permit read when subject.category in {professional, ecp};
        limit notional = match subject.category { retail | professional => 1_000, _ => 5_000 } for withdraw;
        limit window = match subject.tier { 1 | 2 => 1h, 3 => 2h, _ => 1d } for withdraw; })",
     "{}", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit{notional=1000,window=3600000ms}"},
    {"match falls through to the default",
     R"(policy p "P" { permit withdraw; limit notional = match subject.tier { 1 | 2 => 5, 3 => 6, _ => 7 } for withdraw; })",
     R"({"subject": {"tier": 9}})", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit{notional=7}"},
    {"time and duration arithmetic with now",
     R"(policy p "P" { permit trade on all when now - subject.onboarded >= 30d; permit read when subject.onboarded + 365d < now;
        permit withdraw when request.auth_age <= 15m and now > 2024-06-01T12:00Z;
        deny trade on option when now - subject.onboarded < 400d because "too new"; })",
     "{}", "read:permit trade/spot:permit trade/margin:permit trade/future:permit trade/option:deny(p.4) withdraw:permit"},
    {"time comparisons at the boundary",
     R"(policy p "P" { permit read when now - subject.onboarded == 366d; permit withdraw when now - 366d >= subject.onboarded; })",
     "{}", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
    {"durations as input seconds and ttl from an attribute",
     R"(policy p "P" { permit read; cap ttl request.auth_age * 2; require auth_age <= request.auth_age / 2 for read; })",
     R"({"request": {"auth_age": 90}})", "read:permit{auth_age<=45000ms} trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- ttl=180000ms"},
};

TEST_CASE("semantics: sets, addresses, countries, strings, time") { runCases(kSets, std::size(kSets)); }

// ---- regressions: bugs the differential test (or these tables) found ---------------------------

const Case kRegressions[] = {
    // The compiler stored the int literal of a typed constant as raw units (5 became 5e-18), and
    // constant folding turned `CAP * 1` into 0.
    {"a decimal constant written as an int",
     R"(const CAP: decimal = 5
        const SUM: decimal = 2 + 3
        const NEG: decimal = -5
        policy p "P" { permit trade on all; limit lev = CAP for trade on spot; limit lev = CAP * 1 for trade on margin;
          limit lev = SUM + 0.5 for trade on future; limit lev = -NEG for trade on option;
          permit read when subject.nw > CAP; permit withdraw when risk.factor > CAP; })",
     R"({"subject": {"nw": "1"}, "risk": {"factor": "5.5"}})",
     "read:- trade/spot:permit{lev=5} trade/margin:permit{lev=5} trade/future:permit{lev=5.5} trade/option:permit{lev=5} "
     "withdraw:permit"},
    // A negative auth_age bound was stored as is and then read as -1, "no requirement": the
    // strictest requirement disappeared (and a later, weaker one replaced it).
    {"a negative auth_age requirement is as strict as 0",
     R"(policy p "P" { permit withdraw; require auth_age <= request.auth_age - 1h for withdraw; require auth_age <= 15m for withdraw; })",
     "{}", "read:- trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit{auth_age<=0ms}"},
    // `ip in {cidr attribute}` compared the address with the block for equality (always false),
    // and the loader's verifier refused the compiled code.
    {"ip in a set literal with a cidr attribute",
     R"(policy p "P" { permit read when has client.net and request.ip in {client.net, 192.168.0.0/16};
        permit withdraw when has client.net and request.ip not in {client.net}; })",
     R"({"client": {"net": "10.1.0.0/16"}})", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:-"},
    // Decimal division overflowed 128 bits computing the fraction (10 * remainder) when the
    // divisor was near 10^38 (undefined behaviour; a crash under the sanitizers).
    {"decimal division with a divisor near the top of the range",
     R"(policy p "P" { permit trade on all; limit lev = subject.nw / risk.factor for trade on spot; })",
     R"({"subject": {"nw": "50000000000000000000"}, "risk": {"factor": "60000000000000000000"}})",
     "read:- trade/spot:permit{lev=0.833333333333333333} trade/margin:permit trade/future:permit trade/option:permit withdraw:-"},
    {"decimal division with a large negative remainder",
     R"(policy p "P" { permit trade on all; limit lev = subject.nw / risk.factor for trade on spot; })",
     R"({"subject": {"nw": "-50000000000000000000"}, "risk": {"factor": "60000000000000000000"}})",
     "read:- trade/spot:permit{lev=-0.833333333333333333} trade/margin:permit trade/future:permit trade/option:permit withdraw:-"},
    // A quotient whose whole part is exactly 10^20 passed the check, and its fraction took it out of range.
    {"a decimal quotient beyond the range overflows",
     R"(policy p "P" { permit trade on all; limit lev = subject.nw / 0.5 for trade on spot; })",
     R"({"subject": {"nw": "50000000000000000000.1"}})",
     "read:- trade/spot:deny(p.2) trade/margin:permit trade/future:permit trade/option:permit withdraw:- errors=[p.2:overflow]"},
    {"constant decimal division near the top of the range",
     R"(const Q = 50000000000000000000.0 / 60000000000000000000.0
        policy p "P" { permit trade on all; limit lev = Q for trade on spot; })",
     "{}", "read:- trade/spot:permit{lev=0.833333333333333333} trade/margin:permit trade/future:permit trade/option:permit withdraw:-"},
    // `match ... => int } * 15m` in a duration position was rejected: the expected duration was
    // pushed onto the int match.
    {"int match times a duration where a duration is expected",
     R"(policy p "P" { permit read; cap ttl match subject.tier { 1 => 2, _ => 3 } * 15m;
        require auth_age <= (match subject.category { retail => now, _ => subject.onboarded } - subject.onboarded) / 366 for read; })",
     "{}", "read:permit{auth_age<=86400000ms} trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:- ttl=2700000ms"},
    // Time constants were folded adding milliseconds to seconds.
    {"time constants with durations",
     R"(const CUT = 2024-01-01T00:00Z + 1d
        const CUT2 = 2024-01-01T00:00Z + 1500ms
        policy p "P" { permit read when subject.onboarded < CUT and subject.onboarded < CUT2; permit withdraw when CUT - 2024-01-01 == 24h; })",
     "{}", "read:permit trade/spot:- trade/margin:- trade/future:- trade/option:- withdraw:permit"},
};

TEST_CASE("semantics: regressions") { runCases(kRegressions, std::size(kRegressions)); }

TEST_CASE("semantics: constant decimal overflow is a compile error, not a crash") {
  for (const char* expr : {"99999999999999999999.5 + 99999999999999999999.5", "-99999999999999999999.5 - 99999999999999999999.5",
                           "99999999999999999999.5 * 2", "99999999999999999999.5 / 0.5"}) {
    CAPTURE(expr);
    Compiled c = compile(std::string(kSchema) + "const X = " + expr + "\npolicy p { limit lev = X for trade; }\n");
    CHECK_FALSE(c.ok());
    CHECK(c.errorCodes == std::vector<std::string>{"E0309"});
  }
}

// ---- imports and constants -------------------------------------------------------------------

TEST_CASE("semantics: an imported constant set decides like an inline one") {
  std::map<std::string, std::string> files{{"common/regions.policy", "const EEA = {AT, BE, DE, FR, NL}\n"}};
  Compiled c = compile(std::string(kSchema) + R"(import "common/regions.policy"
policy p "P" { permit all; deny trade on all when subject.residence in EEA and subject.category == retail because "EEA retail"; })",
                       "main.policy", files);
  INFO(c.errors);
  REQUIRE(c.ok());
  json in = baseInput();
  in["subject"]["residence"] = "FR";
  CHECK(summary(*c.bundle, evaluate(*c.bundle, in, true).d) ==
        "read:permit trade/spot:deny(p.2) trade/margin:deny(p.2) trade/future:deny(p.2) trade/option:deny(p.2) withdraw:permit");
  in["subject"]["residence"] = "GB";
  CHECK(summary(*c.bundle, evaluate(*c.bundle, in, true).d) ==
        "read:permit trade/spot:permit trade/margin:permit trade/future:permit trade/option:permit withdraw:permit");
}

}  // namespace
