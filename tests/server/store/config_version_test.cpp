// configVersion: changes on every change to subjects, clients and keys, whoever makes it.
#include <doctest/doctest.h>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

TEST_CASE("configVersion changes on each kind of configuration change, and only on those") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  auto v = st->configVersion();
  auto changed = [&] {
    auto now = st->configVersion();
    bool c = now != v;
    v = now;
    return c;
  };
  CHECK_FALSE(changed());

  st->putSubject({"acct-42", "{}", 1, 1});
  CHECK(changed());
  st->putSubject({"acct-42", R"({"kyc_tier":1})", 1, 2});
  CHECK(changed());
  REQUIRE(st->insertClient(sampleClient("bot-1")));
  CHECK(changed());
  st->updateClient(sampleClient("bot-1"));  // same values: still a write the caches must see
  CHECK(changed());
  st->insertKey({"k1", "ES256", "PEM", 1, 1, 0, 0});
  CHECK(changed());
  st->updateKey({"k1", "ES256", "PEM", 1, 1, 5, 9});
  CHECK(changed());

  // Token traffic is not configuration.
  st->insertRefresh(sampleToken("h1", "f1", "bot-1"));
  RefreshToken out;
  CHECK(st->consumeRefresh("h1", 2000, out) == RefreshUse::Ok);
  CHECK(st->recordAssertionJti("bot-1", "j1", 10'000, 1'000));
  st->revokeAccessToken("a1", 10'000);
  st->revokeFamily("f1");
  CHECK_FALSE(changed());
  // Neither are reads or refused writes.
  (void)st->listClients();
  CHECK_FALSE(st->insertClient(sampleClient("bot-1")));
  CHECK_THROWS_AS(st->updateKey({"nope", "ES256", "P", 1, 1, 0, 0}), StoreError);
  CHECK_FALSE(changed());
}

TEST_CASE("configVersion: a change through a second store on the same file is seen by the first") {
  TempDir dir;
  auto server = openSqliteStore(dir.file("m.db"));
  auto cli = openSqliteStore(dir.file("m.db"));
  auto v0 = server->configVersion();
  CHECK(cli->configVersion() == v0);

  cli->putSubject({"acct-1", "{}", 1, 1});
  auto v1 = server->configVersion();
  CHECK(v1 != v0);
  REQUIRE(server->getSubject("acct-1"));

  REQUIRE(cli->insertClient(sampleClient("bot-1")));
  auto v2 = server->configVersion();
  CHECK(v2 != v1);
  cli->insertKey({"k1", "ES256", "PEM", 1, 1, 0, 0});
  CHECK(server->configVersion() != v2);
  CHECK(server->listKeys().size() == 1);
}
