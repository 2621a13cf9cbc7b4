// Refresh token rotation: single use, reuse detection revoking the family, expiry, revocation,
// and atomicity under concurrent use from several threads.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <barrier>
#include <thread>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

namespace {

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> st = openSqliteStore(dir.file("m.db"));
  Fixture() { REQUIRE(st->insertClient(sampleClient("bot-1"))); }
};

}  // namespace

TEST_CASE("refresh: round trip and liveness") {
  Fixture f;
  auto t = sampleToken("h1", "fam-1", "bot-1");
  f.st->insertRefresh(t);
  auto got = f.st->getRefresh("h1");
  REQUIRE(got);
  CHECK(got->tokenHash == "h1");
  CHECK(got->familyId == "fam-1");
  CHECK(got->clientId == "bot-1");
  CHECK(got->subject == t.subject);
  CHECK(got->scope == t.scope);
  CHECK(got->authorizationDetailsJson == t.authorizationDetailsJson);
  CHECK(got->resource == t.resource);
  CHECK(got->issuedMs == t.issuedMs);
  CHECK(got->expiresMs == t.expiresMs);
  CHECK(got->familyExpiresMs == t.familyExpiresMs);
  CHECK_FALSE(f.st->getRefresh("nope").has_value());

  CHECK(f.st->isRefreshLive("h1", 2'000));
  CHECK_FALSE(f.st->isRefreshLive("h1", t.expiresMs));
  CHECK_FALSE(f.st->isRefreshLive("nope", 2'000));
  CHECK_THROWS_AS(f.st->insertRefresh(t), StoreError);                                // duplicate hash
  // Errors name the operation and carry SQLite's message.
  CHECK_THROWS_WITH_AS(f.st->insertRefresh(sampleToken("h2", "fam-1", "ghost")),  // unknown client
                       doctest::Contains("store: insertRefresh: INSERT INTO refresh_tokens"), StoreError);
  CHECK_THROWS_WITH_AS(f.st->insertRefresh(sampleToken("h2", "fam-1", "ghost")), doctest::Contains("FOREIGN KEY"),
                       StoreError);
  CHECK_FALSE(f.st->getRefresh("h2").has_value());
}

TEST_CASE("refresh: Ok, then reuse revokes the whole family, including tokens issued later") {
  Fixture f;
  f.st->insertRefresh(sampleToken("h1", "fam-1", "bot-1"));
  f.st->insertRefresh(sampleToken("other", "fam-2", "bot-1"));
  RefreshToken out;
  REQUIRE(f.st->consumeRefresh("h1", 2'000, out) == RefreshUse::Ok);
  CHECK(out.tokenHash == "h1");
  CHECK(out.familyId == "fam-1");
  CHECK_FALSE(f.st->isRefreshLive("h1", 2'000));

  // Rotation: the successor is live until the old token is presented again.
  auto h2 = sampleToken("h2", "fam-1", "bot-1");
  h2.issuedMs = 2'000;
  f.st->insertRefresh(h2);
  CHECK(f.st->isRefreshLive("h2", 3'000));

  CHECK_FALSE(f.st->isFamilyRevoked("fam-1"));
  RefreshToken again;
  CHECK(f.st->consumeRefresh("h1", 3'000, again) == RefreshUse::Reused);
  CHECK(f.st->isFamilyRevoked("fam-1"));
  CHECK_FALSE(f.st->isFamilyRevoked("fam-2"));
  CHECK(again.clientId == "bot-1");
  CHECK_FALSE(f.st->isRefreshLive("h2", 3'000));
  CHECK(f.st->consumeRefresh("h2", 3'000, out) == RefreshUse::Revoked);
  CHECK(f.st->consumeRefresh("h1", 3'000, out) == RefreshUse::Revoked);

  // A rotation that lost the race (its token inserted after the reuse) is born revoked.
  f.st->insertRefresh(sampleToken("h3", "fam-1", "bot-1"));
  CHECK_FALSE(f.st->isRefreshLive("h3", 3'000));
  CHECK(f.st->consumeRefresh("h3", 3'000, out) == RefreshUse::Revoked);

  // Other families are untouched.
  CHECK(f.st->consumeRefresh("other", 3'000, out) == RefreshUse::Ok);
}

TEST_CASE("refresh: expiry of the token and of the family") {
  Fixture f;
  auto t = sampleToken("h1", "fam-1", "bot-1");
  t.expiresMs = 10'000;
  t.familyExpiresMs = 50'000;
  f.st->insertRefresh(t);
  RefreshToken out;
  CHECK(f.st->consumeRefresh("h1", 10'000, out) == RefreshUse::Expired);
  CHECK(out.tokenHash == "h1");
  CHECK(f.st->consumeRefresh("h1", 10'001, out) == RefreshUse::Expired);
  // An expired use does not consume it and revokes nothing.
  CHECK(f.st->getRefresh("h1"));

  auto u = sampleToken("h2", "fam-2", "bot-1");
  u.expiresMs = 90'000;
  u.familyExpiresMs = 20'000;  // the family's absolute lifetime wins over the token's
  f.st->insertRefresh(u);
  CHECK(f.st->isRefreshLive("h2", 19'999));
  CHECK_FALSE(f.st->isRefreshLive("h2", 20'000));
  CHECK(f.st->consumeRefresh("h2", 20'000, out) == RefreshUse::Expired);
  CHECK(f.st->consumeRefresh("h2", 19'999, out) == RefreshUse::Ok);
}

TEST_CASE("refresh: revocation by token and by family; unknown tokens") {
  Fixture f;
  f.st->insertRefresh(sampleToken("a1", "fam-a", "bot-1"));
  f.st->insertRefresh(sampleToken("a2", "fam-a", "bot-1"));
  f.st->insertRefresh(sampleToken("b1", "fam-b", "bot-1"));
  f.st->insertRefresh(sampleToken("c1", "fam-c", "bot-1"));
  RefreshToken out;
  CHECK(f.st->consumeRefresh("zzz", 2'000, out) == RefreshUse::Unknown);

  CHECK_FALSE(f.st->isFamilyRevoked("fam-a"));
  f.st->revokeRefresh("a1");  // revokes its family
  CHECK(f.st->isFamilyRevoked("fam-a"));
  CHECK(f.st->consumeRefresh("a2", 2'000, out) == RefreshUse::Revoked);
  CHECK(f.st->consumeRefresh("a1", 2'000, out) == RefreshUse::Revoked);
  CHECK(f.st->isRefreshLive("b1", 2'000));

  f.st->revokeFamily("fam-b");
  CHECK(f.st->isFamilyRevoked("fam-b"));
  CHECK_FALSE(f.st->isRefreshLive("b1", 2'000));
  CHECK(f.st->consumeRefresh("b1", 2'000, out) == RefreshUse::Revoked);

  f.st->revokeRefresh("unknown-hash");  // no-ops
  f.st->revokeFamily("unknown-family");
  CHECK_FALSE(f.st->isFamilyRevoked("unknown-family"));
  CHECK_FALSE(f.st->isFamilyRevoked("fam-c"));
  CHECK(f.st->consumeRefresh("c1", 2'000, out) == RefreshUse::Ok);
}

TEST_CASE("refresh: families past their absolute lifetime are purged on insert") {
  Fixture f;
  auto old = sampleToken("old", "fam-old", "bot-1");
  old.expiresMs = 5'000;
  old.familyExpiresMs = 5'000;
  f.st->insertRefresh(old);
  auto live = sampleToken("live", "fam-live", "bot-1");
  live.familyExpiresMs = 900'000;
  f.st->insertRefresh(live);

  auto next = sampleToken("next", "fam-next", "bot-1");
  next.issuedMs = 6'000;
  f.st->insertRefresh(next);
  CHECK_FALSE(f.st->getRefresh("old").has_value());
  CHECK(f.st->getRefresh("live").has_value());
  RawDb raw(f.dir.file("m.db"));
  CHECK(raw.integer("SELECT count(*) FROM refresh_families WHERE family_id = 'fam-old'") == 0);
}

TEST_CASE("refresh: two threads racing on one token, 200 times: exactly one Ok, one Reused") {
  Fixture f;
  constexpr int kRaces = 200;
  std::barrier sync(3);
  std::array<RefreshUse, 2> results{};
  std::atomic<bool> failed{false};
  auto racer = [&](int me) {
    for (int i = 0; i < kRaces; ++i) {
      sync.arrive_and_wait();  // token i inserted
      try {
        RefreshToken out;
        results[me] = f.st->consumeRefresh("race-" + std::to_string(i), 2'000, out);
      } catch (...) {
        failed = true;
      }
      sync.arrive_and_wait();  // results read
    }
  };
  std::thread t0(racer, 0), t1(racer, 1);
  int oks = 0, reused = 0, rotatedLive = 0;
  for (int i = 0; i < kRaces; ++i) {
    f.st->insertRefresh(sampleToken("race-" + std::to_string(i), "fam-" + std::to_string(i), "bot-1"));
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    std::array<RefreshUse, 2> r = results;
    bool oneOkOneReused = (r[0] == RefreshUse::Ok && r[1] == RefreshUse::Reused) ||
                          (r[1] == RefreshUse::Ok && r[0] == RefreshUse::Reused);
    oks += (r[0] == RefreshUse::Ok) + (r[1] == RefreshUse::Ok);
    reused += (r[0] == RefreshUse::Reused) + (r[1] == RefreshUse::Reused);
    if (!oneOkOneReused) FAIL_CHECK("race " << i << ": " << int(r[0]) << ", " << int(r[1]));
    // The winner's rotated token belongs to a revoked family.
    auto rotated = sampleToken("rot-" + std::to_string(i), "fam-" + std::to_string(i), "bot-1");
    f.st->insertRefresh(rotated);
    rotatedLive += f.st->isRefreshLive(rotated.tokenHash, 2'000);
  }
  t0.join();
  t1.join();
  CHECK_FALSE(failed);
  CHECK(oks == kRaces);
  CHECK(reused == kRaces);
  CHECK(rotatedLive == 0);
}
