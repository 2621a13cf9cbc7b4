// `mandate eval --explain` through the binary: a compliance officer asking "why was this
// denied?" must get the denying rule, its reason, its source line and the values that made it fire.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <random>

#include "support.h"

namespace {

using namespace vmtest;
using nlohmann::json;

const char* kPolicy = R"(schema {
  enum Category { retail, professional }
  enum PC { spot, future, option }
  actions { read, trade }
  products PC on trade
  subject { residence: country  category: Category  approp: set<PC>  tier: int }
  risk { score: int }
}

policy uk_derivatives "FCA PS20/10: retail crypto derivatives" {
  permit read;
  permit trade on all when subject.tier >= 1;
  ban: deny trade on future, option
    when subject.residence == GB and subject.category == retail
    because "FCA bans crypto derivatives for UK retail clients";
  appropriateness: deny trade on option when product not in subject.approp because "no appropriateness test";
  deny all when risk.score >= 90 because "risk score too high";
}
)";

const char* kInput = R"({
  "subject": {"residence": "GB", "category": "retail", "approp": ["spot"], "tier": 2},
  "risk": {"score": 12},
  "now": "2025-01-01T00:00:00Z"
})";

struct Output {
  int status = -1;
  std::string out;
};

Output run(const std::string& command) {
  Output o;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

// A fresh directory; the policies live in its subdirectory `policies`, so that the source
// paths in decisions (relative to the parent of the policies' directory) are stable.
struct Workdir {
  fs::path root, dir;
  Workdir() {
    std::random_device rd;
    root = fs::temp_directory_path() / ("mandate-vm-explain-" + std::to_string(rd()));
    dir = root / "policies";
    fs::create_directories(dir);
  }
  ~Workdir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

TEST_CASE("explain: `mandate eval --explain` names the denying rule, reason, source line and values") {
  Workdir w;
  writeFile(w.dir / "uk.policy", kPolicy);
  writeFile(w.dir / "request.json", kInput);
  Output o = run("cd '" + w.dir.string() + "' && '" + kBinary.string() + "' eval uk.policy --input request.json --explain 2>&1");
  INFO(o.out);
  REQUIRE(o.status == 0);
  // The denied cells, each with the rule, its file:line and its reason.
  CHECK(contains(o.out, "trade on future  by uk_derivatives.ban (policies/uk.policy:13): FCA bans crypto derivatives for UK retail clients\n"));
  CHECK(contains(o.out, "trade on option  by uk_derivatives.ban (policies/uk.policy:13): FCA bans crypto derivatives for UK retail clients\n"));
  CHECK(contains(o.out, "permitted:\n  read\n  trade on spot\ndenied:\n"));
  // The explanation: the rule fired, and why.
  CHECK(contains(o.out, "  uk_derivatives.ban (policies/uk.policy:13) deny: fired — FCA bans crypto derivatives for UK retail clients\n"
                        "      subject.residence = GB\n"
                        "      `subject.residence == GB` -> true\n"
                        "      subject.category = retail\n"
                        "      `subject.category == retail` -> true\n"));
  // The rule that did not apply says so, with the value that kept it from firing.
  CHECK(contains(o.out, "  uk_derivatives.5 (policies/uk.policy:17) deny: did not apply — risk score too high\n"
                        "      risk.score = 12\n"
                        "      `risk.score >= 90` -> false\n"));
  // `not in` is explained with the value of the whole `not in` test.
  CHECK(contains(o.out, "  uk_derivatives.appropriateness (policies/uk.policy:16) deny: fired — no appropriateness test\n"
                        "      subject.approp = {spot} [product option]\n"
                        "      `product not in subject.approp` -> true [product option]\n"));
}

TEST_CASE("explain: the JSON form carries the same facts") {
  Workdir w;
  writeFile(w.dir / "uk.policy", kPolicy);
  writeFile(w.dir / "request.json", kInput);
  Output o = run("cd '" + w.dir.string() + "' && '" + kBinary.string() +
                 "' eval uk.policy --input request.json --explain --format json");
  INFO(o.out);
  REQUIRE(o.status == 0);
  json j = json::parse(o.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  bool sawFuture = false;
  for (auto& d : j["denied"]) {
    if (d["action"] == "trade" && d["product_class"] == "future") {
      sawFuture = true;
      CHECK(d["rule"] == "uk_derivatives.ban");
      CHECK(d["reason"] == "FCA bans crypto derivatives for UK retail clients");
      CHECK(d["source"] == "policies/uk.policy:13:3");
    }
  }
  CHECK(sawFuture);
  bool sawBan = false;
  for (auto& r : j["explain"]) {
    if (r["rule"] != "uk_derivatives.ban") continue;
    sawBan = true;
    CHECK(r["outcome"] == "fired");
    CHECK(r["kind"] == "deny");
    CHECK(r["source"] == "policies/uk.policy:13:3");
    auto because = r["because_of"].get<std::vector<std::string>>();
    CHECK(std::find(because.begin(), because.end(), "subject.residence = GB") != because.end());
    CHECK(std::find(because.begin(), because.end(), "`subject.category == retail` -> true") != because.end());
  }
  CHECK(sawBan);
}

TEST_CASE("explain: an evaluation error is reported as failing closed, naming the attribute") {
  Workdir w;
  writeFile(w.dir / "p.policy", R"(schema { actions { read } subject { optional lei: string } }
policy p { permit read; deny read when subject.lei == "X" because "blocked LEI"; }
)");
  writeFile(w.dir / "in.json", R"({"subject": {}, "now": 0})");
  Output o = run("cd '" + w.dir.string() + "' && '" + kBinary.string() + "' eval p.policy --input in.json --explain 2>&1");
  INFO(o.out);
  REQUIRE(o.status == 0);
  CHECK(contains(o.out, "  read  by p.2 (policies/p.policy:2): blocked LEI\n"));
  CHECK(contains(o.out, "error in p.2: attribute is absent (subject.lei); failed closed\n"));
  CHECK(contains(o.out, "  p.2 (policies/p.policy:2) deny: error — blocked LEI\n"));
}

TEST_CASE("explain: a request the frame filler refuses is an error naming the attribute") {
  Workdir w;
  writeFile(w.dir / "uk.policy", kPolicy);
  writeFile(w.dir / "bad.json", R"({"subject": {"residence": "GB", "category": "retail", "approp": [], "tier": "two"},
                                     "risk": {"score": 1}, "now": 0})");
  Output o = run("cd '" + w.dir.string() + "' && '" + kBinary.string() + "' eval uk.policy --input bad.json 2>&1");
  INFO(o.out);
  CHECK(o.status == 1);
  CHECK(contains(o.out, "attribute `subject.tier`: expected an integer"));
}

}  // namespace
