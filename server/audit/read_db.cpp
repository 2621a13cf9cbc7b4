#include "audit/read_db.h"

#include <sqlite3.h>

namespace mandate::audit {

namespace {
[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw AuditError("audit: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}
}  // namespace

ReadDb::ReadDb(const std::string& path) : path_(path) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "audit: open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw AuditError(msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  // Reading schema here makes "not a database" fail at open, naming the file.
  if (sqlite3_exec(db_, "SELECT 1 FROM records LIMIT 1", nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::string msg = "audit: " + path + " is not an audit log: " + sqlite3_errmsg(db_);
    sqlite3_close(db_);
    db_ = nullptr;
    throw AuditError(msg);
  }
}

ReadDb::~ReadDb() { sqlite3_close(db_); }

void ReadDb::beginSnapshot() {
  if (sqlite3_exec(db_, "BEGIN; SELECT count(*) FROM records", nullptr, nullptr, nullptr) != SQLITE_OK)
    fail(db_, "begin read on " + path_);
}

Query::Query(ReadDb& db, const char* sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql, -1, &s_, nullptr) != SQLITE_OK) fail(db.handle(), "prepare");
}

Query::~Query() { sqlite3_finalize(s_); }

Query& Query::bind(int index, std::string_view text) {
  if (sqlite3_bind_text64(s_, index, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
      SQLITE_OK)
    fail(db_.handle(), "bind");
  return *this;
}

Query& Query::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(s_, index, value) != SQLITE_OK) fail(db_.handle(), "bind");
  return *this;
}

bool Query::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_.handle(), "read");
}

void Query::reset() { sqlite3_reset(s_); }

std::string Query::text(int col) const {
  // Blob access keeps the stored bytes exactly (no text conversion) for hashing.
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

std::int64_t Query::int64(int col) const { return sqlite3_column_int64(s_, col); }

bool Query::isInteger(int col) const { return sqlite3_column_type(s_, col) == SQLITE_INTEGER; }

void readRecord(const Query& q, StoredRecord& r) {
  r.seq = static_cast<std::uint64_t>(q.int64(0));
  r.tsUs = q.int64(1);
  r.type = q.text(2);
  r.actorJson = q.text(3);
  r.requestId = q.text(4);
  r.sourceIp = q.text(5);
  r.dataJson = q.text(6);
  r.policyHash = q.text(7);
  r.jti = q.text(8);
  r.prevHash = q.text(9);
  r.hash = q.text(10);
}

namespace {

bool hasTsIndex(ReadDb& db) {
  Query q(db, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'records_ts'");
  return q.step();
}

// The first sequence number whose record's time is >= tsUs, or head + 1 when none is:
// records are found with seq >= mid rather than = mid, so a missing one (a damaged log) does
// not stop the search.
std::int64_t firstAtOrAfter(ReadDb& db, std::int64_t head, std::int64_t tsUs) {
  Query q(db, "SELECT seq, ts_us FROM records WHERE seq >= ?1 ORDER BY seq LIMIT 1");
  std::int64_t lo = 1, hi = head + 1;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    q.bind(1, mid);
    if (!q.step() || q.int64(1) >= tsUs)
      hi = mid;
    else
      lo = q.int64(0) + 1;
    q.reset();
  }
  return lo;
}

}  // namespace

std::pair<std::int64_t, std::int64_t> seqSpan(ReadDb& db, std::optional<std::int64_t> sinceUs,
                                              std::optional<std::int64_t> untilUs) {
  std::int64_t lo = 1, hi = INT64_MAX;
  if (!sinceUs && !untilUs) return {lo, hi};
  if (hasTsIndex(db)) {
    if (sinceUs) {
      Query q(db, "SELECT min(seq) FROM records WHERE ts_us >= ?1");
      q.bind(1, *sinceUs);
      lo = q.step() && q.isInteger(0) ? q.int64(0) : INT64_MAX;
    }
    if (untilUs) {
      Query q(db, "SELECT max(seq) FROM records WHERE ts_us < ?1");
      q.bind(1, *untilUs);
      hi = q.step() && q.isInteger(0) ? q.int64(0) : 0;
    }
    return {lo, hi};
  }
  std::int64_t head = 0;
  {
    Query q(db, "SELECT max(seq) FROM records");
    if (q.step() && q.isInteger(0)) head = q.int64(0);
  }
  if (sinceUs) lo = firstAtOrAfter(db, head, *sinceUs);
  if (untilUs) hi = firstAtOrAfter(db, head, *untilUs) - 1;
  return {lo, hi};
}

}  // namespace mandate::audit
