// A second process on the same file, as the admin CLI is: visibility of its changes, durability of
// its commits when it dies right after them, and refresh rotation racing across processes.
// Children are forked while the parent has no store open (see forkChild).
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

TEST_CASE("process: configVersion and data changed by another process are seen by an open store") {
  TempDir dir;
  const auto path = dir.file("m.db");
  { auto st = openSqliteStore(path); }  // created before the fork
  Pipe go;
  pid_t child = forkChild([&] {
    if (!go.wait()) return 2;
    auto cli = openSqliteStore(path);
    cli->putSubject({"acct-9", R"({"kyc_tier":2})", 1, 1});
    return cli->insertClient(sampleClient("bot-9")) ? 0 : 3;
  });
  auto server = openSqliteStore(path);
  auto v0 = server->configVersion();
  CHECK_FALSE(server->getSubject("acct-9").has_value());
  go.signal();
  REQUIRE(waitChild(child) == 0);
  CHECK(server->configVersion() != v0);
  CHECK(server->getSubject("acct-9").has_value());
  CHECK(server->getClient("bot-9").has_value());
}

TEST_CASE("process: a commit survives the writer's _exit right after it") {
  TempDir dir;
  const auto path = dir.file("m.db");
  pid_t child = forkChild([&] {
    auto st = openSqliteStore(path);
    st->putSubject({"acct-1", R"({"kyc_tier":1})", 1, 1});
    st->revokeAccessToken("jti-1", std::int64_t{1} << 50);
    ::_exit(0);  // no destructors: the connection is never closed, the WAL never checkpointed
    return 1;
  });
  REQUIRE(waitChild(child) == 0);
  auto st = openSqliteStore(path);
  auto s = st->getSubject("acct-1");
  REQUIRE(s);
  CHECK(s->attrsJson == R"({"kyc_tier":1})");
  CHECK(st->isAccessTokenRevoked("jti-1"));
}

TEST_CASE("process: a commit survives SIGKILL of the writer right after it") {
  TempDir dir;
  const auto path = dir.file("m.db");
  { auto st = openSqliteStore(path); }
  Pipe committed;
  pid_t child = forkChild([&] {
    auto st = openSqliteStore(path);
    if (!st->insertClient(sampleClient("bot-1"))) return 4;
    st->insertRefresh(sampleToken("h1", "fam-1", "bot-1"));
    RefreshToken out;
    if (st->consumeRefresh("h1", 2'000, out) != RefreshUse::Ok) return 3;
    committed.signal();
    for (;;) ::pause();
  });
  REQUIRE(committed.wait());
  ::kill(child, SIGKILL);
  CHECK(waitChild(child) == -SIGKILL);

  auto st = openSqliteStore(path);
  CHECK(st->getClient("bot-1").has_value());
  RefreshToken out;
  // The rotation the killed process committed is durable: presenting the token again is a reuse.
  CHECK(st->consumeRefresh("h1", 3'000, out) == RefreshUse::Reused);
}

TEST_CASE("process: two processes racing on one refresh token: exactly one Ok, one Reused") {
  TempDir dir;
  const auto path = dir.file("m.db");
  {
    auto st = openSqliteStore(path);
    REQUIRE(st->insertClient(sampleClient("bot-1")));
  }
  constexpr int kRaces = 20;
  for (int i = 0; i < kRaces; ++i) {
    const std::string hash = "h-" + std::to_string(i);
    {
      auto st = openSqliteStore(path);
      st->insertRefresh(sampleToken(hash, "fam-" + std::to_string(i), "bot-1"));
    }
    Pipe go;
    auto racer = [&] {
      auto st = openSqliteStore(path);  // opened before the start signal: only the use races
      if (!go.wait()) return 90;
      RefreshToken out;
      return static_cast<int>(st->consumeRefresh(hash, 2'000, out));
    };
    pid_t a = forkChild(racer);
    pid_t b = forkChild(racer);
    go.signal(2);
    int ra = waitChild(a), rb = waitChild(b);
    const int ok = static_cast<int>(RefreshUse::Ok), re = static_cast<int>(RefreshUse::Reused);
    bool oneEach = (ra == ok && rb == re) || (ra == re && rb == ok);
    if (!oneEach) FAIL_CHECK("race " << i << ": exit codes " << ra << ", " << rb);
  }
}
