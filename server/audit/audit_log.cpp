#include "audit/audit_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/checkpoint.h"
#include "audit/json_check.h"
#include "audit/record_hash.h"
#include "audit/schema.h"
#include "jose/jose.h"
#include "store/sqlite_db.h"

namespace mandate::audit {

namespace sql = store::sqlite;

namespace {

constexpr std::size_t kMaxScalar = 512;
constexpr std::size_t kMaxType = 64;
constexpr std::size_t kMaxData = 1 << 20;
// Pages of a new log: a batch of token records (~1.3 KB each) fills a few 16 KiB pages rather
// than dozens of 4 KiB ones, so a commit writes fewer WAL frames (measured in docs/audit.md).
constexpr int kPageSize = 16384;
// SQLite checkpoints the WAL into the database after the commit that takes it past this many
// pages, on the committing thread: the writer, with every queued record waiting. SQLite's default,
// 1,000 pages (16 MB here), made each checkpoint a stall of tens of milliseconds (mostly the
// database file's fsync) every ~0.4 s at 25,000 records/s, and that stall was the token
// endpoint's p99 (10.6-21 ms at 64 connections); 32 pages (512 KiB) gave 6.3-6.8 ms at the same
// throughput (docs/performance.md, "Audit checkpoints").
constexpr const char* kAutoCheckpoint = "PRAGMA wal_autocheckpoint = 32";
// While failing and idle, the writer tries a write this often.
constexpr std::chrono::seconds kProbeInterval{1};
// A WAL truncation that found other connections busy is retried this much later.
constexpr std::chrono::milliseconds kWalTruncateRetry{10'000};

std::int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool printableAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// An INSERT on one of the connection's cached statements, bound through the C API: the store's
// Stmt binds text only, and the hash columns are BLOBs in STRICT tables.
class RawStmt {
 public:
  RawStmt(sql::Connection& c, const char* text) : c_(c), s_(c.statement(text)) {}
  ~RawStmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  RawStmt(const RawStmt&) = delete;
  RawStmt& operator=(const RawStmt&) = delete;
  RawStmt& text(int i, std::string_view v) {
    check(sqlite3_bind_text64(s_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  RawStmt& blob(int i, std::string_view v) {
    check(sqlite3_bind_blob64(s_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC));
    return *this;
  }
  RawStmt& integer(int i, std::int64_t v) {
    check(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  void run() {
    int rc = sqlite3_step(s_);
    if (rc != SQLITE_DONE) sql::fail(c_.handle(), rc, c_.operation(), "insert");
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) sql::fail(c_.handle(), rc, c_.operation(), "bind");
  }
  sql::Connection& c_;
  sqlite3_stmt* s_;
};

std::size_t recordBytes(const StoredRecord& r) {
  return r.type.size() + r.actorJson.size() + r.requestId.size() + r.sourceIp.size() + r.dataJson.size() +
         r.policyHash.size() + r.jti.size() + 128;
}

struct Entry {
  StoredRecord rec;  // seq, prev_hash and hash are filled in by the writer
  Done done;
  std::chrono::steady_clock::time_point queuedAt;
  std::uint64_t* seqOut = nullptr;  // appendSync reads the sequence through this
};

// The caller's record as queued; sequence, time and hashes are the writer's to fill in.
Entry toEntry(Record&& r) {
  Entry e;
  e.rec.type = std::move(r.type);
  e.rec.actorJson = actorJson(r.actor);
  e.rec.requestId = std::move(r.requestId);
  e.rec.sourceIp = std::move(r.sourceIp);
  e.rec.dataJson = std::move(r.dataJson);
  e.rec.policyHash = std::move(r.policyHash);
  e.rec.jti = std::move(r.jti);
  return e;
}

}  // namespace

std::string validate(const Record& r) {
  if (r.type.empty() || r.type.size() > kMaxType) return "invalid audit record: type must be 1-64 bytes";
  for (char c : r.type)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return "invalid audit record: type must be [a-z0-9._-]";
  const std::pair<const char*, const std::string*> scalars[] = {
      {"actor.client", &r.actor.client}, {"actor.subject", &r.actor.subject}, {"actor.admin", &r.actor.admin},
      {"request_id", &r.requestId},      {"source_ip", &r.sourceIp},          {"policy_hash", &r.policyHash},
      {"jti", &r.jti}};
  for (auto& [name, value] : scalars)
    if (value->size() > kMaxScalar || !printableAscii(*value))
      return std::string("invalid audit record: ") + name + " must be at most 512 printable ASCII bytes";
  if (r.dataJson.size() > kMaxData) return "invalid audit record: data over 1 MiB";
  // Raw control characters are never needed in compact JSON (strings escape them); refusing them
  // keeps each exported record on one line. isJsonObject refuses them.
  if (!r.dataWellFormed && !isJsonObject(r.dataJson))
    return "invalid audit record: data must be a compact JSON object (no raw control characters)";
  return {};
}

struct AuditLog::Impl {
  Options opt;
  std::string dbPath;
  std::string checkpointDir;
  jose::Key key;
  std::string publicKey;
  std::unique_ptr<sql::Connection> conn;  // the writer thread's alone once it runs

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Entry> queue;
  std::size_t queuedBytes = 0;
  bool stopping = false;
  std::int64_t lastTsUs = 0;  // timestamps never go backwards within this process
  Status st;
  std::thread writer;

  struct Completed {
    std::vector<Entry> batch;
    std::string error;  // empty: durable
  };
  std::mutex doneMu;
  std::condition_variable doneCv;
  std::deque<Completed> completed;
  bool writerDone = false;
  std::thread completer;

  void complete() {
    for (;;) {
      Completed c;
      {
        std::unique_lock lk(doneMu);
        doneCv.wait(lk, [&] { return writerDone || !completed.empty(); });
        if (completed.empty()) return;
        c = std::move(completed.front());
        completed.pop_front();
      }
      for (auto& e : c.batch) e.done(c.error.empty(), c.error);
    }
  }

  Impl(std::string path, Options o, jose::Key k)
      : opt(std::move(o)), dbPath(std::move(path)), key(std::move(k)), publicKey(publicKeyText(key)) {}

  // One transaction: the batch's records, then a checkpoint if one is due. Returns the checkpoint
  // written (to be put in the file after the commit), if any.
  std::optional<Checkpoint> writeBatch(std::vector<Entry>& batch, bool checkpointDue) {
    conn->setOperation("audit append");
    sql::WriteTx tx(*conn);
    // The head is read inside the write transaction: another process may have appended.
    std::uint64_t seq = 0;
    std::string prev(32, '\0');
    std::int64_t headTs = INT64_MIN;
    {
      sql::Stmt q(*conn, "SELECT seq, hash, ts_us FROM records ORDER BY seq DESC LIMIT 1");
      if (q.step()) {
        seq = static_cast<std::uint64_t>(q.int64(0));
        prev = q.text(1);
        headTs = q.int64(2);
      }
    }
    for (auto& e : batch) {
      // Times never decrease along the chain, which lets a time range be found by binary search
      // (there is no index on ts_us). Only another process's record, committed while this one
      // waited in the queue, can be later; this one then takes its time.
      if (e.rec.tsUs < headTs) e.rec.tsUs = headTs;
      headTs = e.rec.tsUs;
      e.rec.seq = ++seq;
      e.rec.prevHash = prev;
      e.rec.hash = recordHash(e.rec);
      prev = e.rec.hash;
      RawStmt ins(*conn,
                  "INSERT INTO records (seq, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, "
                  "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
      ins.integer(1, static_cast<std::int64_t>(e.rec.seq)).integer(2, e.rec.tsUs).text(3, e.rec.type);
      ins.text(4, e.rec.actorJson).text(5, e.rec.requestId).text(6, e.rec.sourceIp).text(7, e.rec.dataJson);
      ins.text(8, e.rec.policyHash).text(9, e.rec.jti).blob(10, e.rec.prevHash).blob(11, e.rec.hash);
      ins.run();
    }
    std::optional<Checkpoint> cp;
    std::uint64_t lastSize = 0;
    {
      sql::Stmt q(*conn, "SELECT size FROM checkpoints ORDER BY size DESC LIMIT 1");
      if (q.step()) lastSize = static_cast<std::uint64_t>(q.int64(0));
    }
    const std::int64_t now = nowUs();
    // Due when N records are unsigned, or when the oldest unsigned record is T old.
    bool due = seq > lastSize && (checkpointDue || seq >= lastSize + opt.checkpointEvery);
    if (seq > lastSize && !due) {
      sql::Stmt q(*conn, "SELECT ts_us FROM records WHERE seq = ?1");
      q.bind(1, static_cast<std::int64_t>(lastSize + 1));
      due = q.step() &&
            now - q.int64(0) >= std::chrono::duration_cast<std::chrono::microseconds>(opt.checkpointInterval).count();
    }
    if (due) {
      cp = signCheckpoint(key, seq, prev, now);
      RawStmt ins(*conn, "INSERT INTO checkpoints (size, ts_us, head, key, sig) VALUES (?1, ?2, ?3, ?4, ?5)");
      ins.integer(1, static_cast<std::int64_t>(cp->size)).integer(2, cp->timeUs).blob(3, cp->head);
      ins.text(4, cp->key).blob(5, cp->signature);
      ins.run();
    }
    if (opt.beforeCommit) {
      std::string err = opt.beforeCommit();
      if (!err.empty()) throw AuditError(err);
    }
    tx.commit();
    {
      std::lock_guard lk(mu);
      st.headSeq = seq;
    }
    return cp;
  }

  // Rewrites the schema version (same value) in a write transaction: a page to the WAL and an
  // fsync, nothing in the chain.
  void writeProbe() {
    conn->setOperation("audit probe");
    sql::WriteTx tx(*conn);
    conn->exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    if (opt.beforeCommit) {
      std::string err = opt.beforeCommit();
      if (!err.empty()) throw AuditError(err);
    }
    tx.commit();
  }

  void run() {
    const auto interval = opt.checkpointInterval;
    // Records committed and not yet signed, and since when: the timer signs them T later.
    bool pendingCheckpoint = false;
    auto pendingSince = std::chrono::steady_clock::now();
    // Committed since the WAL was last truncated, and when the next truncation is due.
    bool walDirty = false;
    auto truncateAt = std::chrono::steady_clock::now() + opt.walTruncateInterval;
    auto truncateWalIfDue = [&] {
      if (!walDirty || std::chrono::steady_clock::now() < truncateAt) return;
      bool done = false;
      std::string error;
      try {
        conn->setOperation("audit WAL truncation");
        done = conn->truncateWal(0);
      } catch (const std::exception& e) {
        error = e.what();
      }
      walDirty = !done;
      truncateAt = std::chrono::steady_clock::now() + (done ? opt.walTruncateInterval
                                                            : std::min(opt.walTruncateInterval, kWalTruncateRetry));
      std::lock_guard lk(mu);
      if (done) {
        ++st.walTruncations;
      } else {
        ++st.walTruncateRetries;
        if (!error.empty()) st.walTruncateError = error;
      }
    };
    for (;;) {
      std::vector<Entry> batch;
      bool stop = false;
      bool probe = false;
      {
        std::unique_lock lk(mu);
        auto wake = [&] { return stopping || !queue.empty(); };
        // Woken by a record, or by the checkpoint timer, or (failing) to probe now and then.
        // Failing, the checkpoint and truncation timers do not count: the probe path does
        // neither, so a deadline already past would wake this loop again at once, and again.
        auto deadline = std::chrono::steady_clock::time_point::max();
        if (pendingCheckpoint && st.healthy) deadline = pendingSince + interval;
        if (walDirty && st.healthy) deadline = std::min(deadline, truncateAt);
        if (!st.healthy) deadline = std::min(deadline, std::chrono::steady_clock::now() + kProbeInterval);
        if (deadline == std::chrono::steady_clock::time_point::max())
          cv.wait(lk, wake);
        else
          cv.wait_until(lk, deadline, wake);
        if (opt.commitDelay.count() > 0 && !stopping && !queue.empty() && queue.size() < opt.commitTarget) {
          const auto deadline = queue.front().queuedAt + opt.commitDelay;
          auto full = [&] { return stopping || queue.size() >= opt.commitTarget; };
          for (std::size_t seen = queue.size();; seen = queue.size()) {
            auto until = std::min(deadline, std::chrono::steady_clock::now() + opt.commitGap);
            if (cv.wait_until(lk, until, full)) break;
            // The delay is over, or arrivals paused: what is queued is all that is coming soon.
            if (std::chrono::steady_clock::now() >= deadline || queue.size() == seen) break;
          }
        }
        batch.reserve(queue.size());
        while (!queue.empty()) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        queuedBytes = 0;
        stop = stopping;
        probe = batch.empty() && !stop && !st.healthy;
      }
      if (probe) {
        // Failing and idle: a small write transaction tells whether the store writes again, so
        // /readyz recovers without waiting for a request (which a load balancer may withhold
        // from an instance that is not ready).
        std::string error;
        try {
          writeProbe();
        } catch (const std::exception& e) {
          error = e.what();
        }
        std::lock_guard lk(mu);
        if (error.empty()) {
          st.healthy = true;
          st.lastError.clear();
        } else {
          st.lastError = error;
        }
        continue;
      }
      const bool timerDue = pendingCheckpoint && std::chrono::steady_clock::now() >= pendingSince + interval;
      // On close, sign what is unsigned (checkpointDue), once.
      const bool closing = stop && pendingCheckpoint;
      if (batch.empty() && !timerDue && !closing) {
        if (stop) return;
        truncateWalIfDue();  // woken for it, or it is due while idle
        continue;
      }
      std::optional<Checkpoint> cp;
      std::string error;
      try {
        cp = writeBatch(batch, timerDue || stop);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (error.empty()) {
        walDirty = true;
        if (cp || (batch.empty() && timerDue)) {
          // Signed, or the timer found nothing unsigned (another process signed it).
          pendingCheckpoint = false;
        } else if (!batch.empty() && !pendingCheckpoint) {
          pendingCheckpoint = true;
          pendingSince = std::chrono::steady_clock::now();
        }
        if (cp) {
          std::string fileError;
          try {
            writeCheckpointFile(checkpointDir, *cp);
          } catch (const std::exception& e) {
            fileError = e.what();
          }
          std::lock_guard lk(mu);
          st.checkpointFileError = fileError;
        }
      } else if (timerDue) {
        pendingSince = std::chrono::steady_clock::now();  // retry the checkpoint a period later
      }
      {
        std::lock_guard lk(mu);
        if (error.empty()) {
          st.healthy = true;
          st.lastError.clear();
          st.appended += batch.size();
          ++st.batches;
        } else {
          st.healthy = false;
          st.lastError = error;
          st.failed += batch.size();
        }
      }
      for (auto& e : batch)
        if (e.seqOut && error.empty()) *e.seqOut = e.rec.seq;
      if (!batch.empty()) {
        // The callbacks run on the completion thread so that this one starts the next batch at
        // once: waking hundreds of waiting requests takes longer than writing their records.
        {
          std::lock_guard lk(doneMu);
          completed.push_back({std::move(batch), error});
        }
        doneCv.notify_one();
      }
      // After the batch's records were handed over: they do not wait for it.
      if (!stop) truncateWalIfDue();
      if (stop) {
        // Closing: one more pass drains what was queued meanwhile; a failing store gives up.
        if (!error.empty()) return;
        pendingCheckpoint = false;
        std::lock_guard lk(mu);
        if (queue.empty()) return;
      }
    }
  }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<AuditLog> AuditLog::open(const std::string& dbPath, Options options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::absolute(dbPath, ec);
  if (ec) throw AuditError("audit: " + dbPath + ": " + ec.message());
  const std::string dir = abs.parent_path().string();
  // The file is created here, not by SQLite, so that it never exists with a wider mode.
  int fd = ::open(abs.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw AuditError("audit: open " + abs.string() + ": " + std::strerror(errno));
  ::close(fd);
  jose::Key key = loadOrCreateKey(dir);
  auto impl = std::make_unique<Impl>(abs.string(), std::move(options), std::move(key));
  impl->checkpointDir = impl->opt.checkpointDir.empty() ? dir : impl->opt.checkpointDir;
  if (impl->opt.queueCapacity == 0 || impl->opt.queueBytes < (1u << 21) || impl->opt.checkpointEvery == 0 ||
      impl->opt.checkpointInterval.count() <= 0 || impl->opt.commitTarget == 0 || impl->opt.commitDelay.count() < 0 || impl->opt.commitGap.count() <= 0 ||
      impl->opt.walTruncateInterval.count() <= 0)
    throw AuditError(
        "audit: queueCapacity, checkpointEvery, checkpointInterval, commitTarget, commitGap and walTruncateInterval "
        "must be positive, "
        "queueBytes >= 2 MiB, commitDelay >= 0");
  try {
    impl->conn = std::make_unique<sql::Connection>(impl->dbPath, kPageSize);
    impl->conn->exec(kAutoCheckpoint);
    ensureSchema(*impl->conn);
    sql::WriteTx tx(*impl->conn);
    std::string stored;
    {
      sql::Stmt q(*impl->conn, "SELECT value FROM audit_meta WHERE key = 'checkpoint_key'");
      if (q.step()) stored = q.text(0);
    }
    if (stored.empty()) {
      sql::Stmt(*impl->conn, "INSERT INTO audit_meta (key, value) VALUES ('checkpoint_key', ?1)")
          .bind(1, impl->publicKey)
          .run();
      tx.commit();
    } else if (stored != impl->publicKey) {
      throw AuditError("audit: " + std::string(kKeyFileName) + " is not the key this log's checkpoints are signed with");
    }
    sql::Stmt q(*impl->conn, "SELECT seq, ts_us FROM records ORDER BY seq DESC LIMIT 1");
    if (q.step()) {
      impl->st.headSeq = static_cast<std::uint64_t>(q.int64(0));
      impl->lastTsUs = q.int64(1);
    }
  } catch (const store::StoreError& e) {
    throw AuditError(std::string("audit: ") + e.what());
  }
  Impl* raw = impl.get();
  raw->completer = std::thread([raw] {
    pthread_setname_np(pthread_self(), "audit-complete");  // for top -H and perf
    raw->complete();
  });
  raw->writer = std::thread([raw] {
    pthread_setname_np(pthread_self(), "audit-writer");
    raw->run();
  });
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->writer.join();
  {
    std::lock_guard lk(impl_->doneMu);
    impl_->writerDone = true;
  }
  impl_->doneCv.notify_one();
  impl_->completer.join();
  // Anything queued after the writer's last look (a race with stopping) is refused.
  for (auto& e : impl_->queue) e.done(false, "audit log closed");
}

void AuditLog::append(Record r, Done done) {
  std::string err = validate(r);
  if (!err.empty()) {
    {
      std::lock_guard lk(impl_->mu);
      ++impl_->st.failed;
    }
    done(false, err);
    return;
  }
  Entry e = toEntry(std::move(r));
  e.done = std::move(done);
  const char* refused = nullptr;
  bool wakeWriter = false;
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopping)
      refused = "audit log closed";
    else if (impl_->queue.size() >= impl_->opt.queueCapacity ||
             impl_->queuedBytes + recordBytes(e.rec) > impl_->opt.queueBytes)
      refused = "audit queue full";
    if (refused) {
      ++impl_->st.failed;
    } else {
      impl_->queuedBytes += recordBytes(e.rec);
      impl_->lastTsUs = std::max(impl_->lastTsUs, nowUs());
      e.rec.tsUs = impl_->lastTsUs;
      e.queuedAt = std::chrono::steady_clock::now();
      impl_->queue.push_back(std::move(e));
      // The writer waits for the first record, then (with a commit delay) for commitTarget of
      // them: only those two events need to wake it.
      wakeWriter = impl_->queue.size() == 1 || impl_->queue.size() == impl_->opt.commitTarget;
    }
  }
  if (refused) {
    e.done(false, refused);
    return;
  }
  if (wakeWriter) impl_->cv.notify_one();
}

std::uint64_t AuditLog::appendSync(Record r) {
  std::string err = validate(r);
  if (!err.empty()) throw AuditError(err);
  std::promise<std::string> result;
  auto fut = result.get_future();
  std::uint64_t seq = 0;
  Entry e = toEntry(std::move(r));
  e.done = [&result](bool ok, std::string error) { result.set_value(ok ? std::string() : error.empty() ? "failed" : error); };
  e.seqOut = &seq;
  // queuedAt stays at the clock's epoch: a synchronous append (an admin change) is not delayed.
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopping) throw AuditError("audit log closed");
    impl_->lastTsUs = std::max(impl_->lastTsUs, nowUs());
    e.rec.tsUs = impl_->lastTsUs;
    impl_->queuedBytes += recordBytes(e.rec);
    impl_->queue.push_back(std::move(e));
  }
  impl_->cv.notify_one();
  std::string error = fut.get();
  if (!error.empty()) throw AuditError(error);
  return seq;
}

bool AuditLog::healthy() const {
  std::lock_guard lk(impl_->mu);
  return impl_->st.healthy;
}

Status AuditLog::status() const {
  std::lock_guard lk(impl_->mu);
  Status s = impl_->st;
  s.queued = impl_->queue.size();
  return s;
}

const std::string& AuditLog::checkpointPublicKey() const { return impl_->publicKey; }

}  // namespace mandate::audit
