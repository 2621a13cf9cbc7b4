// Appending: durability through group commit, the chain across reopen, append-only triggers,
// back-pressure, and eight threads appending at once.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <climits>
#include <mutex>
#include <sstream>
#include <set>
#include <thread>
#include <vector>

#include "audit/export.h"
#include "audit/record_hash.h"
#include "audit/verify.h"
#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

TEST_CASE("append: records get sequences from 1, a zero genesis prev_hash, linked hashes and every field") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  {
    auto log = AuditLog::open(path);
    appendN(*log, 3);
    CHECK(log->healthy());
    CHECK(log->status().appended == 3);
    CHECK(log->status().headSeq == 3);
  }
  auto r1 = show(path, 1), r2 = show(path, 2), r3 = show(path, 3);
  REQUIRE(r1);
  REQUIRE(r2);
  REQUIRE(r3);
  CHECK_FALSE(show(path, 4));
  CHECK(r1->prevHash == std::string(32, '\0'));
  CHECK(r2->prevHash == r1->hash);
  CHECK(r3->prevHash == r2->hash);
  CHECK(recordHash(*r2) == r2->hash);
  CHECK(r1->type == "token.issued");
  CHECK(r1->actorJson == R"({"client":"bot-1","subject":"acct-42"})");
  CHECK(r1->requestId == "req-1");
  CHECK(r1->sourceIp == "10.0.0.1");
  CHECK(r1->policyHash == "sha256:b52c");
  CHECK(r1->jti == "jti-1");
  CHECK(r1->dataJson == sampleRecord(1).dataJson);
  CHECK(r1->tsUs <= r2->tsUs);
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
  CHECK(r3->tsUs <= now.count());
  CHECK(r3->tsUs > now.count() - 60'000'000);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(verify(path).ok());
}

TEST_CASE("append: triggers refuse UPDATE and DELETE of records and checkpoints, even on the live file") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  auto log = AuditLog::open(path);
  appendN(*log, 2);
  log->appendSync(sampleRecord(3));
  RawDb raw(path);
  CHECK(raw.tryExec("UPDATE records SET jti = 'x' WHERE seq = 1").find("append-only") != std::string::npos);
  CHECK(raw.tryExec("DELETE FROM records WHERE seq = 2").find("append-only") != std::string::npos);
  CHECK(raw.tryExec("DELETE FROM records").find("append-only") != std::string::npos);
  CHECK(raw.tryExec("INSERT OR REPLACE INTO records SELECT * FROM records WHERE seq = 1").find("append-only") !=
        std::string::npos);
  CHECK(raw.tryExec("INSERT INTO records SELECT 9, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, "
                    "prev_hash, hash FROM records WHERE seq = 1")
            .find("append-only") != std::string::npos);
  CHECK(raw.tryExec("INSERT OR REPLACE INTO audit_meta VALUES ('checkpoint_key', 'x')").find("append-only") !=
        std::string::npos);
  CHECK(raw.integer("SELECT count(*) FROM records") == 3);
  CHECK(raw.text("SELECT jti FROM records WHERE seq = 1") == "jti-1");
}

TEST_CASE("append: the chain continues across close and reopen") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  { appendN(*AuditLog::open(path), 5); }
  {
    auto log = AuditLog::open(path);
    CHECK(log->status().headSeq == 5);
    CHECK(log->appendSync(sampleRecord(6)) == 6);
    appendN(*log, 4, 7);
  }
  auto r6 = show(path, 6), r5 = show(path, 5);
  REQUIRE(r6);
  CHECK(r6->prevHash == r5->hash);
  auto rep = verify(path);
  CHECK(rep.ok());
  CHECK(rep.records == 10);
}

TEST_CASE("append: two logs open on one file (server and CLI) keep one continuous chain") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  auto a = AuditLog::open(path);
  auto b = AuditLog::open(path);
  CHECK(a->checkpointPublicKey() == b->checkpointPublicKey());
  for (int i = 0; i < 10; ++i) {
    appendN(*a, 3, i * 10);
    b->appendSync(sampleRecord(i * 10 + 5));
  }
  a.reset();
  b.reset();
  auto rep = verify(path);
  CHECK(rep.ok());
  CHECK(rep.records == 40);
}

TEST_CASE("append: two logs appending at once on one file: times never decrease along the chain") {
  // A record waits in its log's queue while the other log commits later ones: its writer must not
  // put an earlier time after a later one (export and replay binary-search times over seq).
  TempDir dir;
  const auto path = dir.file("audit.db");
  {
    auto a = AuditLog::open(path);
    auto b = AuditLog::open(path);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        AuditLog& log = t % 2 ? *a : *b;
        for (int i = 0; !stop; ++i) appendN(log, 4, t * 100000 + i * 4);
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    stop = true;
    for (auto& t : threads) t.join();
  }
  RawDb raw(path);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw.handle(), "SELECT seq, ts_us FROM records ORDER BY seq", -1, &s, nullptr) == SQLITE_OK);
  std::int64_t last = INT64_MIN, n = 0, backwards = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    ++n;
    if (sqlite3_column_int64(s, 1) < last) ++backwards;
    last = sqlite3_column_int64(s, 1);
  }
  sqlite3_finalize(s);
  CHECK(n > 100);
  CHECK(backwards == 0);
  CHECK(verify(path).ok());
}

TEST_CASE("append: malformed records and a closed log are refused through done, at once") {
  TempDir dir;
  auto log = AuditLog::open(dir.file("audit.db"));
  auto r = sampleRecord(1);
  r.dataJson = "not json";
  bool called = false, durable = true;
  std::string error;
  log->append(r, [&](bool ok, std::string e) {
    called = true;
    durable = ok;
    error = e;
  });
  CHECK(called);  // synchronously, on this thread
  CHECK_FALSE(durable);
  CHECK(error.find("JSON object") != std::string::npos);
  CHECK_THROWS_AS(log->appendSync(r), AuditError);
  CHECK(log->status().headSeq == 0);
}

TEST_CASE("append: a full queue refuses at once with 'audit queue full' (back-pressure)") {
  TempDir dir;
  Options opt;
  opt.queueCapacity = 4;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  std::atomic<bool> first{true};
  opt.beforeCommit = [&]() -> std::string {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();  // the writer is stuck in its first commit
    }
    return {};
  };
  auto log = AuditLog::open(dir.file("audit.db"), opt);
  std::atomic<int> durable{0}, refused{0};
  std::mutex mu;
  std::vector<std::string> errors;
  auto done = [&](bool ok, std::string e) {
    if (ok) {
      ++durable;
    } else {
      ++refused;
      std::lock_guard lk(mu);
      errors.push_back(e);
    }
  };
  log->append(sampleRecord(1), done);
  entered.get_future().wait();
  for (int i = 0; i < 10; ++i) log->append(sampleRecord(2 + i), done);
  CHECK(refused == 6);  // 4 queued behind the stuck batch, 6 refused
  CHECK(durable == 0);
  for (auto& e : errors) CHECK(e == "audit queue full");
  release.set_value();
  log.reset();  // drains the queue
  CHECK(durable == 5);
  CHECK(verify(dir.file("audit.db")).records == 5);
}

TEST_CASE("append: group commit under 8 threads: every acknowledged record is there after reopen, gap-free") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  constexpr int kThreads = 8, kPerThread = 300;
  std::mutex mu;
  std::set<std::string> acknowledged;  // jtis whose done(true) ran
  std::uint64_t batches = 0;
  {
    auto log = AuditLog::open(path);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto r = sampleRecord(t * kPerThread + i);
          std::string jti = r.jti;
          std::promise<bool> p;
          log->append(std::move(r), [&](bool ok, std::string) { p.set_value(ok); });
          if (p.get_future().get()) {
            std::lock_guard lk(mu);
            acknowledged.insert(jti);
          }
        }
      });
    for (auto& th : threads) th.join();
    batches = log->status().batches;
  }
  CHECK(acknowledged.size() == kThreads * kPerThread);
  // Concurrent appenders shared transactions: fewer commits than records.
  CHECK(batches < kThreads * kPerThread);
  MESSAGE("8 threads x 300 records in " << batches << " transactions");
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM records") == kThreads * kPerThread);
  CHECK(raw.integer("SELECT max(seq) FROM records") == kThreads * kPerThread);
  CHECK(raw.integer("SELECT count(DISTINCT jti) FROM records") == kThreads * kPerThread);
  for (auto& jti : acknowledged) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(raw.handle(), "SELECT 1 FROM records WHERE jti = ?1", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, jti.c_str(), -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    if (!found) FAIL("acknowledged record missing: " << jti);
  }
  auto rep = verify(path);
  CHECK(rep.ok());
  CHECK(rep.records == kThreads * kPerThread);
}

TEST_CASE("append: verify and export while the writer appends see a consistent snapshot") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  Options opt;
  opt.checkpointEvery = 7;
  auto log = AuditLog::open(path, opt);
  appendN(*log, 10);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) appendN(*log, 5, 100 + i * 5);
  });
  for (int i = 0; i < 20; ++i) {
    auto rep = verify(path);
    REQUIRE_MESSAGE(rep.ok(), rep.detail);
    CHECK(rep.records >= 10);
    std::ostringstream out;
    CHECK(exportRecords(path, {}, Format::Jsonl, out) >= rep.records);
  }
  stop = true;
  writer.join();
}

TEST_CASE("append: the queue is bounded in bytes too") {
  TempDir dir;
  Options opt;
  opt.queueBytes = 2 << 20;
  std::promise<void> release, entered;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  opt.beforeCommit = [&]() -> std::string {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
    return {};
  };
  auto log = AuditLog::open(dir.file("audit.db"), opt);
  std::atomic<int> durable{0}, full{0};
  auto done = [&](bool ok, std::string e) { ok ? ++durable : (e == "audit queue full" ? ++full : 0); };
  log->append(sampleRecord(1), done);
  entered.get_future().wait();
  auto big = sampleRecord(2);
  big.dataJson = R"({"pad":")" + std::string(700 * 1024, 'x') + "\"}";
  for (int i = 0; i < 3; ++i) log->append(big, done);
  CHECK(full == 1);  // two of 700 KiB fit in 2 MiB, the third does not
  release.set_value();
  log.reset();
  CHECK(durable == 3);
}

TEST_CASE("append: a commit delay gathers records into one transaction; commitTarget cuts it short") {
  TempDir dir;
  Options o;
  o.commitDelay = std::chrono::milliseconds(300);
  o.commitTarget = 20;
  o.commitGap = std::chrono::seconds(10);  // here only the delay and the target end the wait
  auto log = AuditLog::open(dir.file("audit.db"), o);
  using Clock = std::chrono::steady_clock;

  // Ten records, fewer than the target: one transaction, written only once the delay ran out.
  auto start = Clock::now();
  appendN(*log, 10);
  auto waited = Clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(log->status().batches == 1);
  CHECK(log->status().appended == 10);

  // Twenty (the target) at once: written without waiting for the delay.
  start = Clock::now();
  appendN(*log, 20, 11);
  waited = Clock::now() - start;
  CHECK(waited < std::chrono::milliseconds(300));
  CHECK(log->status().appended == 30);

  // A synchronous append (an admin change) is not delayed.
  start = Clock::now();
  log->appendSync(sampleRecord(31));
  CHECK(Clock::now() - start < std::chrono::milliseconds(300));
  CHECK(verify(dir.file("audit.db")).ok());
}

TEST_CASE("append: a commit delay ends early once arrivals pause (commitGap)") {
  TempDir dir;
  Options o;
  o.commitDelay = std::chrono::seconds(5);
  o.commitTarget = 1000;
  o.commitGap = std::chrono::milliseconds(20);
  auto log = AuditLog::open(dir.file("audit.db"), o);
  auto start = std::chrono::steady_clock::now();
  appendN(*log, 10);  // all queued at once, then nothing: written ~20 ms later, not 5 s
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(log->status().batches == 1);
  CHECK(log->status().appended == 10);
}
