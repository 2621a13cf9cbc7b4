// Failure: an injected commit fault, a real full file system (a tiny tmpfs, when the tests run as
// root), and SIGKILL of a process in the middle of appending.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <semaphore>
#include <set>
#include <thread>
#include <vector>

#include "audit/verify.h"
#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

namespace {

struct Outcome {
  int durable = 0;
  int failed = 0;
  std::vector<std::string> errors;
};

// Appends the records concurrently and waits for every done.
Outcome appendAll(AuditLog& log, std::vector<Record> records) {
  Outcome o;
  std::mutex mu;
  std::atomic<int> left{static_cast<int>(records.size())};
  std::promise<void> all;
  for (auto& r : records)
    log.append(std::move(r), [&](bool ok, std::string e) {
      {
        std::lock_guard lk(mu);
        if (ok)
          ++o.durable;
        else {
          ++o.failed;
          o.errors.push_back(e);
        }
      }
      if (--left == 0) all.set_value();
    });
  all.get_future().wait();
  return o;
}

std::vector<Record> records(int n, int first, std::size_t padding = 0) {
  std::vector<Record> out;
  for (int i = 0; i < n; ++i) {
    auto r = sampleRecord(first + i);
    if (padding) r.dataJson = R"({"pad":")" + std::string(padding, 'x') + "\"}";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

TEST_CASE("fault: a failing commit fails every record of the batch, marks the log unhealthy, and it recovers") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  std::atomic<bool> broken{false};
  Options opt;
  opt.beforeCommit = [&]() -> std::string { return broken ? "injected: disk I/O error" : ""; };
  auto log = AuditLog::open(path, opt);
  CHECK(appendAll(*log, records(5, 1)).durable == 5);
  broken = true;
  auto bad = appendAll(*log, records(20, 6));
  CHECK(bad.durable == 0);
  CHECK(bad.failed == 20);
  for (auto& e : bad.errors) CHECK(e.find("injected: disk I/O error") != std::string::npos);
  CHECK_FALSE(log->healthy());
  CHECK(log->status().lastError.find("injected") != std::string::npos);
  CHECK_THROWS_AS(log->appendSync(sampleRecord(99)), AuditError);
  broken = false;  // the next batch is the retry
  CHECK(appendAll(*log, records(3, 30)).durable == 3);
  CHECK(log->healthy());
  CHECK(log->status().lastError.empty());
  log.reset();
  auto rep = verify(path);
  CHECK(rep.ok());
  CHECK(rep.records == 8);  // nothing of the failed batches was written
}

TEST_CASE("fault: a full file system (tmpfs of 512 KiB) fails appends, and they succeed once space is freed") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  TempDir dir;
  const std::string mnt = dir.file("mnt");
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=512k,mode=0700") != 0) {
    MESSAGE("skipped: mount tmpfs failed: " << std::strerror(errno));
    return;
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string path = mnt + "/audit.db";
  const std::string filler = mnt + "/filler";
  {
    auto log = AuditLog::open(path);
    CHECK(appendAll(*log, records(10, 1)).durable == 10);
    // Fill the file system.
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string block(4096, 'f');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    ::close(fd);
    // Records of 16 KiB until one fails (the WAL may still have some room).
    Outcome full;
    for (int i = 0; i < 64 && full.failed == 0; ++i) {
      auto o = appendAll(*log, records(4, 100 + i * 4, 16 * 1024));
      full.failed += o.failed;
      for (auto& e : o.errors) full.errors.push_back(e);
    }
    REQUIRE(full.failed > 0);
    MESSAGE("disk full error: " << full.errors.front());
    CHECK(full.errors.front().find("full") != std::string::npos);
    CHECK_FALSE(log->healthy());
    std::filesystem::remove(filler);
    auto after = appendAll(*log, records(5, 1000));
    CHECK(after.durable == 5);
    CHECK(log->healthy());
  }
  auto rep = verify(path);
  CHECK_MESSAGE(rep.ok(), rep.detail);
  CHECK(rep.records >= 15);
}

TEST_CASE("fault: SIGKILL while appending: every acknowledged record survives, the chain verifies, nothing is half-written") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  std::set<std::string> acknowledged;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      try {
        auto log = AuditLog::open(path);
        std::counting_semaphore<64> slots(32);  // 32 appends in flight, like 32 connections
        for (int i = 0;; ++i) {
          slots.acquire();
          auto r = sampleRecord(i);
          r.jti = "r" + std::to_string(round) + "-" + std::to_string(i);
          std::string line = r.jti + "\n";
          log->append(std::move(r), [&slots, line, fd = fds[1]](bool ok, std::string) {
            if (ok) (void)!::write(fd, line.data(), line.size());  // < PIPE_BUF: atomic
            slots.release();
          });
        }
      } catch (...) {
      }
      ::_exit(3);
    }
    ::close(fds[1]);
    // Wait for a few hundred acknowledgements, then kill mid-flight.
    std::string buf;
    std::size_t lines = 0;
    char chunk[4096];
    while (lines < 300) {
      pollfd p{fds[0], POLLIN, 0};
      REQUIRE(::poll(&p, 1, 30'000) == 1);
      ssize_t n = ::read(fds[0], chunk, sizeof chunk);
      REQUIRE(n > 0);
      buf.append(chunk, static_cast<std::size_t>(n));
      lines = static_cast<std::size_t>(std::count(buf.begin(), buf.end(), '\n'));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    ssize_t n;
    while ((n = ::read(fds[0], chunk, sizeof chunk)) > 0) buf.append(chunk, static_cast<std::size_t>(n));
    ::close(fds[0]);
    for (std::size_t pos = 0, nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1)
      acknowledged.insert(buf.substr(pos, nl - pos));

    auto rep = verify(path);
    CHECK_MESSAGE(rep.ok(), rep.detail);
    RawDb raw(path);
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(static_cast<std::size_t>(raw.integer("SELECT count(*) FROM records")) >= acknowledged.size());
    for (auto& jti : acknowledged) {
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(raw.handle(), "SELECT 1 FROM records WHERE jti = ?1", -1, &s, nullptr);
      sqlite3_bind_text(s, 1, jti.c_str(), -1, SQLITE_TRANSIENT);
      bool found = sqlite3_step(s) == SQLITE_ROW;
      sqlite3_finalize(s);
      if (!found) FAIL("acknowledged record missing after SIGKILL: " << jti);
    }
    MESSAGE("round " << round << ": " << acknowledged.size() << " acknowledged, " << rep.records << " in the log");
  }
  // The log keeps working after the crashes.
  auto log = AuditLog::open(path);
  log->appendSync(sampleRecord(1));
  log.reset();
  CHECK(verify(path).ok());
}

namespace {

// Five records committed, then a failing batch: the writer is idle and unhealthy while a timer
// that `setTimer` sets to 500 ms falls due. It must probe about once a second, not spin on the
// past deadline, leave the timer's work (`workDone`) until it writes again, and then do it.
// False when the set-up outran the timer (the caller tries again).
bool failingIdleWriterWaitsForRecovery(const std::function<void(Options&)>& setTimer,
                                       const std::function<bool(AuditLog&, const TempDir&)>& workDone) {
  TempDir dir;
  std::atomic<bool> broken{false};
  std::atomic<int> commitsTried{0};
  Options opt;
  setTimer(opt);
  opt.beforeCommit = [&]() -> std::string {
    ++commitsTried;
    return broken ? "injected: disk I/O error" : "";
  };
  const auto opened = std::chrono::steady_clock::now();
  auto log = AuditLog::open(dir.file("audit.db"), opt);
  CHECK(appendAll(*log, records(5, 1)).durable == 5);
  broken = true;
  CHECK(appendAll(*log, records(1, 6)).failed == 1);
  REQUIRE_FALSE(log->healthy());
  const int before = commitsTried;
  if (std::chrono::steady_clock::now() - opened > std::chrono::milliseconds(400) || workDone(*log, dir)) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  // Probes at ~1 s intervals: two or three in 2.5 s (tens of thousands when the loop spun).
  const int probes = commitsTried - before;
  CHECK(probes >= 1);
  CHECK(probes <= 4);
  CHECK_FALSE(workDone(*log, dir));
  broken = false;  // recovered by the next probe; the postponed work follows
  for (int i = 0; i < 300 && !workDone(*log, dir); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(log->healthy());
  CHECK(workDone(*log, dir));
  return true;
}

}  // namespace

TEST_CASE("fault: a failing, idle writer with a WAL truncation due probes once a second, not in a loop") {
  for (int attempt = 0;; ++attempt) {
    REQUIRE(attempt < 5);
    if (failingIdleWriterWaitsForRecovery([](Options& o) { o.walTruncateInterval = std::chrono::milliseconds(500); },
                                          [](AuditLog& log, const TempDir&) { return log.status().walTruncations > 0; }))
      break;
  }
}

TEST_CASE("fault: a failing, idle writer with a checkpoint due probes once a second, not in a loop") {
  for (int attempt = 0;; ++attempt) {
    REQUIRE(attempt < 5);
    if (failingIdleWriterWaitsForRecovery([](Options& o) { o.checkpointInterval = std::chrono::milliseconds(500); },
                                          [](AuditLog&, const TempDir& dir) {
                                            return std::filesystem::exists(dir.file("audit-checkpoint.txt"));
                                          }))
      break;
  }
}
