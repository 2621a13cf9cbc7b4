// Round trips of subjects, clients and signing keys.
#include <doctest/doctest.h>

#include <chrono>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

TEST_CASE("subjects: put, get, replace keeps createdMs, list in id order") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  CHECK_FALSE(st->getSubject("acct-1").has_value());

  st->putSubject({"acct-2", R"({"kyc_tier":2,"residence":"DE"})", 100, 100});
  st->putSubject({"acct-1", R"({"kyc_tier":1})", 50, 60});
  auto s = st->getSubject("acct-2");
  REQUIRE(s);
  CHECK(s->id == "acct-2");
  CHECK(s->attrsJson == R"({"kyc_tier":2,"residence":"DE"})");
  CHECK(s->createdMs == 100);
  CHECK(s->updatedMs == 100);

  st->putSubject({"acct-2", R"({"kyc_tier":3})", 999, 200});
  s = st->getSubject("acct-2");
  REQUIRE(s);
  CHECK(s->attrsJson == R"({"kyc_tier":3})");
  CHECK(s->createdMs == 100);  // kept from the first put
  CHECK(s->updatedMs == 200);

  auto all = st->listSubjects();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == "acct-1");
  CHECK(all[1].id == "acct-2");
}

TEST_CASE("subjects: attributes that are not a JSON object are refused") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  CHECK_THROWS_AS(st->putSubject({"a", "[1,2]", 1, 1}), StoreError);
  CHECK_THROWS_AS(st->putSubject({"a", "{not json", 1, 1}), StoreError);
  CHECK_FALSE(st->getSubject("a").has_value());
  // A failed write leaves the connection usable.
  st->putSubject({"a", "{}", 1, 1});
  CHECK(st->getSubject("a").has_value());
}

TEST_CASE("clients: every field round trips; duplicates refused; update keeps createdMs") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  Client c = sampleClient("bot-7");
  c.jwksJson = R"({"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]})";
  c.authMethod = "private_key_jwt";
  c.secretHash.clear();
  c.disabled = true;
  REQUIRE(st->insertClient(c));

  auto got = st->getClient("bot-7");
  REQUIRE(got);
  CHECK(got->id == c.id);
  CHECK(got->subject == c.subject);
  CHECK(got->grants == c.grants);
  CHECK(got->authMethod == c.authMethod);
  CHECK(got->secretHash.empty());
  CHECK(got->jwksJson == c.jwksJson);
  CHECK(got->scope == c.scope);
  CHECK(got->kind == c.kind);
  CHECK(got->ipAllowlist == c.ipAllowlist);
  CHECK(got->tokenTtlS == 600);
  CHECK(got->disabled);
  CHECK(got->createdMs == 1000);
  CHECK(got->updatedMs == 1000);

  Client dup = sampleClient("bot-7");
  dup.scope = "withdraw";
  CHECK_FALSE(st->insertClient(dup));
  CHECK(st->getClient("bot-7")->scope == "trade read");  // untouched

  Client u = sampleClient("bot-7");
  u.subject = "acct-43";
  u.grants = {};
  u.ipAllowlist = {};
  u.authMethod = "client_secret_post";
  u.secretHash = std::string(64, 'b');
  u.scope = "";
  u.kind = "web_app";
  u.tokenTtlS = 60;
  u.disabled = false;
  u.createdMs = 5;  // ignored
  u.updatedMs = 2000;
  st->updateClient(u);
  got = st->getClient("bot-7");
  REQUIRE(got);
  CHECK(got->subject == "acct-43");
  CHECK(got->grants.empty());
  CHECK(got->ipAllowlist.empty());
  CHECK(got->authMethod == "client_secret_post");
  CHECK(got->secretHash == std::string(64, 'b'));
  CHECK(got->jwksJson.empty());
  CHECK(got->scope.empty());
  CHECK(got->kind == "web_app");
  CHECK(got->tokenTtlS == 60);
  CHECK_FALSE(got->disabled);
  CHECK(got->createdMs == 1000);
  CHECK(got->updatedMs == 2000);

  CHECK_THROWS_AS(st->updateClient(sampleClient("nobody")), StoreError);
  CHECK_FALSE(st->getClient("nobody").has_value());

  REQUIRE(st->insertClient(sampleClient("app-1")));
  auto all = st->listClients();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == "app-1");
  CHECK(all[0].grants == sampleClient("x").grants);
  CHECK(all[1].id == "bot-7");
}

TEST_CASE("clients: text is stored as given, including quotes and non-ASCII") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  Client c = sampleClient("c\"l'i;--");
  c.grants = {"urn:ietf:params:oauth:grant-type:jwt-bearer", "a\"b", "ü"};
  REQUIRE(st->insertClient(c));
  auto got = st->getClient("c\"l'i;--");
  REQUIRE(got);
  CHECK(got->grants == c.grants);

  Client bad = sampleClient("bad");
  bad.grants = {std::string("\xff\xfe")};
  CHECK_THROWS_AS(st->insertClient(bad), StoreError);
}

TEST_CASE("signing keys: insert, list oldest first, update, unknown and duplicate kids") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  CHECK(st->listKeys().empty());
  SigningKey a{"k-a", "ES256", "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n", 200, 200, 0, 0};
  SigningKey b{"k-b", "EdDSA", "PEM-B", 100, 150, 0, 0};
  SigningKey c{"k-c", "PS256", "PEM-C", 200, 300, 0, 0};  // same createdMs as a: insertion order decides
  st->insertKey(a);
  st->insertKey(b);
  st->insertKey(c);
  auto keys = st->listKeys();
  REQUIRE(keys.size() == 3);
  CHECK(keys[0].kid == "k-b");
  CHECK(keys[1].kid == "k-a");
  CHECK(keys[2].kid == "k-c");
  CHECK(keys[1].alg == "ES256");
  CHECK(keys[1].privatePem == a.privatePem);
  CHECK(keys[1].createdMs == 200);
  CHECK(keys[1].activeFromMs == 200);

  a.retiredAtMs = 400;
  a.removeAfterMs = 900;
  a.createdMs = 1;  // not updatable
  st->updateKey(a);
  keys = st->listKeys();
  REQUIRE(keys.size() == 3);
  CHECK(keys[1].kid == "k-a");
  CHECK(keys[1].createdMs == 200);
  CHECK(keys[1].retiredAtMs == 400);
  CHECK(keys[1].removeAfterMs == 900);

  CHECK_THROWS_AS(st->updateKey({"k-none", "ES256", "P", 1, 1, 0, 0}), StoreError);
  CHECK_THROWS_AS(st->insertKey(b), StoreError);
  CHECK(st->listKeys().size() == 3);
}

TEST_CASE("revoked access tokens: revoked until long past expiry") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  using namespace std::chrono;
  const std::int64_t now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  CHECK_FALSE(st->isAccessTokenRevoked("jti-1"));
  st->revokeAccessToken("jti-1", now + 300'000);
  CHECK(st->isAccessTokenRevoked("jti-1"));
  CHECK_FALSE(st->isAccessTokenRevoked("jti-2"));
  st->revokeAccessToken("jti-1", now + 100);  // revoking again is harmless
  CHECK(st->isAccessTokenRevoked("jti-1"));

  // Entries of tokens that expired a while ago are purged by later revocations; recent ones stay
  // (verifiers may run slightly behind).
  st->revokeAccessToken("old", now - 3 * 3600 * 1000);
  st->revokeAccessToken("recent", now - 60'000);
  st->revokeAccessToken("jti-3", now + 300'000);
  CHECK_FALSE(st->isAccessTokenRevoked("old"));
  CHECK(st->isAccessTokenRevoked("recent"));
  CHECK(st->isAccessTokenRevoked("jti-1"));
  CHECK(st->isAccessTokenRevoked("jti-3"));
}
