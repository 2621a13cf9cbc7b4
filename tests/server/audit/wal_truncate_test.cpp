// The audit log's WAL: checkpointed every few pages (small checkpoints: short stalls of the
// writer), and truncated periodically (security.md, Durability): the WAL file goes back to zero
// bytes, a reader on an older snapshot makes it retry instead of blocking appends, and the chain
// is whole afterwards.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "audit/verify.h"
#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

namespace {

std::uintmax_t walBytes(const std::string& db) {
  std::error_code ec;
  auto n = std::filesystem::file_size(db + "-wal", ec);
  return ec ? 0 : n;
}

// Waits (up to 20 s) until `pred(log.status())` holds.
template <class Pred>
bool waitFor(AuditLog& log, Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred(log.status())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("audit WAL: checkpointed every few pages, so it stays small while records pour in") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  auto log = AuditLog::open(path);  // truncation at its default, 5 minutes: not in this test
  // 3,000 records of ~1.5 KB (a token decision's size), 20 per transaction: ~4.5 MB of records.
  // With SQLite's default (a checkpoint past 1,000 pages: 16 MB) the WAL would hold them all.
  const std::string pad(1400, 'x');
  for (int chunk = 0; chunk < 150; ++chunk) {
    std::atomic<int> left{20};
    std::promise<void> all;
    for (int i = 0; i < 20; ++i) {
      Record r = sampleRecord(chunk * 20 + i);
      r.dataJson = R"({"pad":")" + pad + R"("})";
      log->append(std::move(r), [&](bool ok, std::string) {
        CHECK(ok);
        if (--left == 0) all.set_value();
      });
    }
    all.get_future().wait();
  }
  CHECK(std::filesystem::file_size(path) > 4'000'000);  // the records are in the database file
  CHECK(walBytes(path) < 1'500'000);
  log.reset();
  auto rep = verify(path);
  REQUIRE_MESSAGE(rep.ok(), rep.detail);
  CHECK(rep.records == 3000);
}

TEST_CASE("audit WAL: truncated to zero bytes once the interval passed after a commit") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  Options opt;
  opt.walTruncateInterval = std::chrono::milliseconds(50);
  auto log = AuditLog::open(path, opt);
  // The WAL's size is not checked right after the appends: a truncation may already be due.
  appendN(*log, 200);
  REQUIRE(waitFor(*log, [&](const Status& s) { return s.walTruncations >= 1 && walBytes(path) == 0; }));
  CHECK(log->status().walTruncateError.empty());
  // Nothing appended since: an idle writer does not keep truncating an empty WAL.
  const auto first = log->status().walTruncations;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(log->status().walTruncations == first);
  CHECK(walBytes(path) == 0);

  // More records, another truncation.
  appendN(*log, 50, 201);
  REQUIRE(waitFor(*log, [&](const Status& s) { return s.walTruncations > first && walBytes(path) == 0; }));
  log.reset();
  auto rep = verify(path);
  REQUIRE_MESSAGE(rep.ok(), rep.detail);
  CHECK(rep.records == 250);
}

TEST_CASE("audit WAL: a reader on an older snapshot makes the truncation retry, never blocks appends") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  Options opt;
  opt.walTruncateInterval = std::chrono::milliseconds(50);  // and so is the retry
  auto log = AuditLog::open(path, opt);
  appendN(*log, 20);
  // Settled: every committed record's frame truncated away (a truncation may have come between
  // two batches of the 20 and another after them).
  REQUIRE(waitFor(*log, [&](const Status& s) { return s.walTruncations >= 1 && walBytes(path) == 0; }));
  const auto settled = log->status().walTruncations;

  RawDb reader(path);
  reader.exec("BEGIN");
  CHECK(reader.integer("SELECT count(*) FROM records") == 20);  // the read transaction holds this snapshot
  appendN(*log, 30, 21);
  REQUIRE(waitFor(*log, [](const Status& s) { return s.walTruncateRetries >= 2; }));
  CHECK(log->status().walTruncations == settled);
  CHECK(log->status().walTruncateError.empty());  // busy is not an error
  CHECK(walBytes(path) > 0);
  // Appends go on meanwhile, and the reader still sees its snapshot.
  appendN(*log, 10, 51);
  CHECK(log->status().healthy);
  CHECK(reader.integer("SELECT count(*) FROM records") == 20);

  reader.exec("COMMIT");
  REQUIRE(waitFor(*log, [&](const Status& s) { return s.walTruncations > settled && walBytes(path) == 0; }));
  log.reset();
  auto rep = verify(path);
  REQUIRE_MESSAGE(rep.ok(), rep.detail);
  CHECK(rep.records == 60);
}

TEST_CASE("audit WAL: another process's write transaction makes the truncation retry, not wait") {
  // A writer holding the lock (the admin CLI in the middle of its append, say): a truncation
  // that waited for it would hold up every queued token record behind it for the busy timeout.
  // Set-up: records committed, the first truncation not yet due (1 s after open), the lock
  // taken; a set-up slower than that second is tried again.
  for (int attempt = 0;; ++attempt) {
    REQUIRE(attempt < 5);
    TempDir dir;
    const auto path = dir.file("audit.db");
    Options opt;
    opt.walTruncateInterval = std::chrono::milliseconds(1000);
    auto log = AuditLog::open(path, opt);
    appendN(*log, 20);
    RawDb other(path);
    other.exec("BEGIN IMMEDIATE");
    if (log->status().walTruncations != 0) {
      other.exec("ROLLBACK");
      continue;
    }
    REQUIRE(waitFor(*log, [](const Status& s) { return s.walTruncateRetries >= 1; }));
    CHECK(log->status().walTruncations == 0);
    CHECK(walBytes(path) > 0);
    other.exec("COMMIT");
    REQUIRE(waitFor(*log, [](const Status& s) { return s.walTruncations >= 1; }));
    CHECK(walBytes(path) == 0);
    break;
  }
}

TEST_CASE("audit WAL: a non-positive truncation interval is refused") {
  TempDir dir;
  Options opt;
  opt.walTruncateInterval = std::chrono::milliseconds(0);
  CHECK_THROWS_AS(AuditLog::open(dir.file("audit.db"), opt), AuditError);
}
