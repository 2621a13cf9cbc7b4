// Replaying one recorded decision (server/oauth/replay.h) under the reference policies: records
// are made the way the token endpoint makes them (decideInput, then decisionData), then the
// recorded input is changed to what a policy change would do to the decision, so each kind of
// attribution (a denying rule, an obligation, no permit at all, a new permit) and each reason to
// skip a record is reached. End-to-end through the binary: tests/server/integration/audit-replay.
#include <doctest/doctest.h>

#include "oauth/audit_events.h"
#include "oauth/replay.h"
#include "harness.h"
#include "server_setup.h"

using mandate::oauth::CellSet;
using mandate::oauth::ChangeKind;
using nlohmann::json;
namespace oauth = mandate::oauth;

namespace {

json input(int tier, int aal = 1) {
  return {{"subject",
           {{"kyc_tier", tier},
            {"residence", "SG"},
            {"category", "professional"},
            {"us_person", false},
            {"ecp", true},
            {"appropriateness", json::array()},
            {"net_worth_usd", "5000000"},
            {"onboarded", "2024-01-01T00:00:00Z"}}},
          {"client", {{"kind", "web"}, {"ip_allowlist", json::array()}}},
          {"request",
           {{"ip", "127.0.0.1"}, {"country", "SG"}, {"scopes", {"read", "trade"}}, {"aal", aal}, {"auth_age", 0}}},
          {"risk", {{"score", 0}, {"new_device", false}, {"impossible_travel", false}}},
          {"now", 1800000000}};
}

// A record as the server writes it for `in`, asking for `scope`.
mandate::audit::StoredRecord record(const json& in, const std::string& scope, std::uint64_t seq = 7) {
  const auto& p = oauthtest::referencePolicy();
  const auto& schema = p.bundle->schema;
  CellSet requested(schema.actions.size(), 0);
  for (const auto& name : oauth::splitSpaces(scope)) {
    int a = schema.findAction(name);
    REQUIRE(a >= 0);
    requested[static_cast<std::size_t>(a)] = schema.actionHasProducts[static_cast<std::size_t>(a)]
                                                 ? (1ULL << schema.productCount()) - 1
                                                 : 1;
  }
  oauth::Evaluator ev;
  oauth::OAuthError error;
  auto g = oauth::decideInput(p, in, requested, in["request"]["aal"].get<int>(), 0, false, error, ev);
  oauth::PermissionRequest asked{scope, std::nullopt};
  std::string inputText = in.dump();
  oauth::DecisionRecord d;
  d.schema = &schema;
  d.grantType = "client_credentials";
  d.asked = &asked;
  d.requested = &requested;
  d.grant = &g;
  d.inputText = &inputText;
  if (!g.any()) d.denial = &error;
  mandate::audit::StoredRecord r;
  r.seq = seq;
  r.tsUs = 1'800'000'000'000'000;
  r.type = g.any() ? "token.issued" : "token.denied";
  r.actorJson = R"({"client":"cl","subject":"acct"})";
  r.policyHash = p.hash;
  r.dataJson = oauth::decisionData(d);
  return r;
}

// The record with its input document replaced (what a changed policy would see differently is
// simulated by a changed input under the same policy).
mandate::audit::StoredRecord withInput(mandate::audit::StoredRecord r, const json& in) {
  json data = json::parse(r.dataJson);
  data["input"] = in;
  r.dataJson = data.dump();
  return r;
}

std::vector<std::pair<std::string, std::string>> rulesOf(const oauth::RecordReplay& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& c : r.cells) {
    const char* e = c.effect == oauth::CellChange::Effect::Lost     ? "lost"
                    : c.effect == oauth::CellChange::Effect::Gained ? "gained"
                                                                    : "limit";
    std::pair<std::string, std::string> x{c.rule, e};
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
  }
  return out;
}

oauth::RecordReplay replay(const mandate::audit::StoredRecord& r) {
  oauth::Evaluator ev;
  return oauth::replayRecord(oauthtest::referencePolicy(), ev, r);
}

}  // namespace

TEST_CASE("a recorded decision replayed under the policy that made it is unchanged") {
  for (int tier : {0, 1, 2, 3}) {
    auto r = replay(record(input(tier), "read trade withdraw block_trade"));
    CHECK_FALSE(r.skipped);
    CHECK(r.change == ChangeKind::None);
    CHECK(r.cells.empty());
  }
}

TEST_CASE("a cell lost to a deny rule is attributed to that rule") {
  auto rec = record(input(2), "read trade");
  auto r = replay(withInput(rec, input(0)));  // tier 0: kyc_tiers.unverified denies trade
  REQUIRE_FALSE(r.skipped);
  CHECK(r.change == ChangeKind::Narrowed);  // read stays
  CHECK(rulesOf(r) == std::vector<std::pair<std::string, std::string>>{{"kyc_tiers.unverified", "lost"}});
  CHECK(r.rules == std::vector<std::string>{"kyc_tiers.unverified"});
}

TEST_CASE("a cell no rule permits any more: (not permitted); withheld by an obligation: (obligation)") {
  auto rec = record(input(3), "block_trade");
  auto r = replay(withInput(rec, input(2)));  // block trades need tier 3; nothing denies them
  REQUIRE_FALSE(r.skipped);
  CHECK(r.change == ChangeKind::DeniedEntirely);
  CHECK(rulesOf(r) == std::vector<std::pair<std::string, std::string>>{{"(not permitted)", "lost"}});

  json strong = input(3, 2);
  auto withdraw = record(strong, "withdraw");
  REQUIRE(json::parse(withdraw.dataJson)["decision"]["granted"].contains("withdraw"));
  auto w = replay(withInput(withdraw, input(3, 1)));  // withdrawals need AAL 2
  REQUIRE_FALSE(w.skipped);
  CHECK(w.change == ChangeKind::DeniedEntirely);
  CHECK(rulesOf(w) == std::vector<std::pair<std::string, std::string>>{{"(obligation)", "lost"}});
}

TEST_CASE("a cell gained is attributed to the rule the record says denied it, else (newly permitted)") {
  auto denied = record(input(0), "trade");
  CHECK(denied.type == "token.denied");
  auto r = replay(withInput(denied, input(2)));
  REQUIRE_FALSE(r.skipped);
  CHECK(r.change == ChangeKind::Widened);
  CHECK(rulesOf(r) == std::vector<std::pair<std::string, std::string>>{{"kyc_tiers.unverified", "gained"}});
  CHECK(r.afterDetails.is_array());
  CHECK_FALSE(r.afterDetails.empty());

  auto defaultDeny = record(input(2), "block_trade");  // refused by default deny: no rule recorded
  CHECK(defaultDeny.type == "token.denied");
  auto n = replay(withInput(defaultDeny, input(3)));
  CHECK(rulesOf(n) == std::vector<std::pair<std::string, std::string>>{{"(newly permitted)", "gained"}});
}

TEST_CASE("a different limit on the same cell is attributed to the rule that sets the new one") {
  json strong = input(2, 2);
  auto at2 = record(strong, "withdraw read");
  auto r = replay(withInput(at2, [&] {
    json in = strong;
    in["subject"]["kyc_tier"] = 3;  // 500,000 -> 10m a day
    return in;
  }()));
  REQUIRE_FALSE(r.skipped);
  CHECK(r.change == ChangeKind::Limits);
  REQUIRE(r.cells.size() == 1);
  CHECK(r.cells[0].rule == "kyc_tiers.daily_withdrawal");
  CHECK(r.cells[0].limit == "daily_withdrawal_usd");
}

TEST_CASE("records that cannot be replayed are skipped with the reason, never a crash") {
  auto good = record(input(2), "read trade");
  auto edit = [&](auto f) {
    json data = json::parse(good.dataJson);
    f(data);
    auto r = good;
    r.dataJson = data.dump();
    return replay(r);
  };
  auto notJson = good;
  notJson.dataJson = "{not json";
  CHECK(replay(notJson).skipReason == "data is not a JSON object");
  CHECK(edit([](json& d) { d.erase("input"); }).skipReason == "no input document");
  CHECK(edit([](json& d) { d.erase("requested"); }).skipReason == "no requested cells");
  CHECK(edit([](json& d) { d["decision"] = 3; }).skipReason == "no recorded decision");
  auto unknown = edit([](json& d) { d["requested"]["teleport"] = json::array(); });
  CHECK(unknown.skipReason == "names the new schema does not know");
  CHECK(unknown.skipDetail == "action teleport");
  CHECK(edit([](json& d) { d["decision"]["granted"]["trade"] = {"spot", "tulips"}; }).skipReason ==
        "names the new schema does not know");
  CHECK(edit([](json& d) { d["input"]["request"]["aal"] = "two"; }).skipReason ==
        "input.request.aal is not an integer");
  CHECK(edit([](json& d) { d["decision"]["authorization_details"] = json::array({1}); }).skipReason ==
        "the recorded authorization_details are unreadable");
  CHECK(edit([](json& d) { d["decision"]["denied"] = json::array({json::object()}); }).skipReason ==
        "a recorded denial is unreadable");
  // An input document of the wrong shape evaluates (absent attributes fail closed), not skipped.
  auto odd = edit([](json& d) { d["input"]["subject"] = json::object(); });
  CHECK_FALSE(odd.skipped);
}

TEST_CASE("the report counts a decision once per rule, keeps bounded examples, caps changed_seqs") {
  oauth::ReplayReport report;
  oauth::ReplayOptions o;
  o.examplesPerRule = 2;
  o.maxChangedSeqs = 3;
  const auto& p = oauthtest::referencePolicy();
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    auto rec = withInput(record(input(2), "read trade", seq), input(0));
    account(report, o, p, rec, replay(rec));
  }
  auto same = record(input(2), "read trade", 6);
  account(report, o, p, same, replay(same));
  auto bad = same;
  bad.seq = 8;
  bad.dataJson = "[]";
  account(report, o, p, bad, replay(bad));
  CHECK(report.replayed == 6);
  CHECK(report.changed == 5);
  CHECK(report.unchanged == 1);
  CHECK(report.skipped == 1);
  json j = oauth::reportJson(report);
  CHECK(j["by_rule"].size() == 1);
  CHECK(j["by_rule"][0]["rule"] == "kyc_tiers.unverified");
  CHECK(j["by_rule"][0]["decisions"] == 5);
  CHECK(j["by_rule"][0]["examples"].size() == 2);
  CHECK(j["by_rule"][0]["examples"][0]["seq"] == 1);
  CHECK(j["by_rule"][0]["examples"][0]["rules"][0]["effect"] == "denied");
  CHECK(j["changed_seqs"] == json::array({1, 2, 3}));
  CHECK(j["changed_seqs_capped"] == true);
  CHECK(j["changes"]["narrowed"] == 5);
  CHECK(j["skipped_reasons"][0]["reason"] == "data is not a JSON object");
  CHECK(j["skipped_reasons"][0]["examples"][0]["seq"] == 8);
  CHECK(j["old_bundles"] == json::array({p.hash}));
}
