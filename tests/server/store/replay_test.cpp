// Single-use client assertion jtis (RFC 7523 §3).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

TEST_CASE("assertion jti: replay refused until expiry, per client") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  CHECK(st->recordAssertionJti("bot-1", "j1", 10'000, 1'000));
  CHECK_FALSE(st->recordAssertionJti("bot-1", "j1", 10'000, 1'001));
  CHECK_FALSE(st->recordAssertionJti("bot-1", "j1", 20'000, 9'999));  // a later exp does not help
  CHECK(st->recordAssertionJti("bot-2", "j1", 10'000, 1'001));        // another client's jti space
  CHECK(st->recordAssertionJti("bot-1", "j2", 10'000, 1'001));
  // At expiry the entry is gone and the jti is accepted again (the caller rejects the expired
  // assertion itself on its exp claim).
  CHECK(st->recordAssertionJti("bot-1", "j1", 30'000, 10'000));
  CHECK_FALSE(st->recordAssertionJti("bot-1", "j1", 30'000, 10'001));
}

TEST_CASE("assertion jti: expired entries are purged on insert, a bounded number at a time") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  for (int i = 0; i < 100; ++i) REQUIRE(st->recordAssertionJti("bot-1", "old-" + std::to_string(i), 5'000, 1'000));
  REQUIRE(st->recordAssertionJti("bot-1", "live", 50'000, 1'000));
  RawDb raw(dir.file("m.db"));
  CHECK(raw.integer("SELECT count(*) FROM assertion_jtis") == 101);

  CHECK(st->recordAssertionJti("bot-1", "new-1", 50'000, 6'000));
  CHECK(raw.integer("SELECT count(*) FROM assertion_jtis") == 101 - 64 + 1);
  CHECK(st->recordAssertionJti("bot-1", "new-2", 50'000, 6'000));
  CHECK(raw.integer("SELECT count(*) FROM assertion_jtis") == 3);
  CHECK_FALSE(st->recordAssertionJti("bot-1", "live", 50'000, 6'000));
}

TEST_CASE("assertion jti: four threads writing at once; a shared jti is accepted exactly once") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("m.db"));
  constexpr int kThreads = 4, kEach = 40;
  std::atomic<int> accepted{0}, sharedAccepted{0}, errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      try {
        for (int i = 0; i < kEach; ++i) {
          accepted += st->recordAssertionJti("bot-1", std::to_string(t) + "-" + std::to_string(i), 50'000, 1'000);
          if (i == kEach / 2) sharedAccepted += st->recordAssertionJti("bot-1", "shared", 50'000, 1'000);
        }
      } catch (...) {
        ++errors;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(errors == 0);
  CHECK(accepted == kThreads * kEach);
  CHECK(sharedAccepted == 1);
  RawDb raw(dir.file("m.db"));
  CHECK(raw.integer("SELECT count(*) FROM assertion_jtis") == kThreads * kEach + 1);
}
