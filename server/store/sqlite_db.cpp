#include "store/sqlite_db.h"

#include <sqlite3.h>

namespace mandate::store::sqlite {

namespace {

// SQLite keeps memory statistics by default, under one global mutex taken by every allocation of
// every connection; nothing here reads them. Set before the library initializes (static
// initialization of this file runs before any connection opens; if something else opened one
// first, sqlite3_config refuses and nothing changes).
const int kNoMemStatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);

constexpr int kBusyTimeoutMs = 5000;

// Statement text in error messages: enough to tell which statement failed, never bound values.
std::string_view excerpt(std::string_view sql) {
  constexpr std::size_t kMax = 60;
  return sql.size() <= kMax ? sql : sql.substr(0, kMax);
}

}  // namespace

void fail(sqlite3* db, int rc, std::string_view op, std::string_view what) {
  std::string msg = "store: ";
  msg += op;
  msg += ": ";
  msg += what;
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (sqlite code ";
  msg += std::to_string(db ? sqlite3_extended_errcode(db) : rc);
  msg += ")";
  throw StoreError(msg);
}

Connection::Connection(const std::string& path, int newPageSize) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "store: open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(msg);
  }
  try {
    // The busy timeout comes first: switching to WAL may have to wait for another process.
    rc = sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    if (rc != SQLITE_OK) fail(db_, rc, op_, "busy_timeout");
    // Defensive mode: SQL cannot corrupt the file (writable_schema, journal_mode=OFF...).
    rc = sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    if (rc != SQLITE_OK) fail(db_, rc, op_, "defensive mode");
    if (newPageSize > 0) exec(("PRAGMA page_size=" + std::to_string(newPageSize)).c_str());
    {
      // journal_mode reports the mode actually in effect; a file system that cannot do WAL
      // (or a special path like ":memory:") would silently keep another one.
      Stmt q(*this, "PRAGMA journal_mode=WAL");
      if (!q.step() || q.text(0) != "wal") throw StoreError("store: open " + path + ": WAL journal mode unavailable");
    }
    // synchronous=FULL: a commit is on disk when it returns (revocations, used refresh tokens).
    exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
  } catch (...) {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    cache_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Connection::~Connection() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

sqlite3_stmt* Connection::statement(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    fail(db_, rc, op_, excerpt(sql));
  }
  cache_.emplace(sql, s);
  return s;
}

void Connection::exec(const char* sql, const char* what) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, op_, what ? std::string_view(what) : excerpt(sql));
}

bool Connection::idle() const { return sqlite3_get_autocommit(db_) != 0; }

bool Connection::truncateWal(int waitMs) {
  // The process's own writers queue on the mutex rather than hitting SQLITE_BUSY meanwhile.
  std::unique_lock<std::mutex> lock;
  if (writeLock_) lock = std::unique_lock(*writeLock_);
  int rc = sqlite3_busy_timeout(db_, waitMs);
  if (rc != SQLITE_OK) fail(db_, rc, op_, "busy_timeout");
  rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  const int restored = sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (restored != SQLITE_OK) fail(db_, restored, op_, "busy_timeout");
  // The primary code: with extended result codes on, busy can also come as SQLITE_BUSY_*.
  if ((rc & 0xff) == SQLITE_BUSY) return false;
  if (rc != SQLITE_OK) fail(db_, rc, op_, "wal_checkpoint(TRUNCATE)");
  return true;
}

Stmt::Stmt(Connection& c, const char* sql) : c_(c), s_(c.statement(sql)) {}

Stmt::~Stmt() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Stmt& Stmt::bind(int index, std::string_view text) {
  // A zero-length text is bound as '' (not NULL) because data() may be null for an empty view.
  int rc = sqlite3_bind_text64(s_, index, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(c_.handle(), rc, c_.operation(), excerpt(sqlite3_sql(s_)));
  return *this;
}

Stmt& Stmt::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(s_, index, value);
  if (rc != SQLITE_OK) fail(c_.handle(), rc, c_.operation(), excerpt(sqlite3_sql(s_)));
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(c_.handle(), rc, c_.operation(), excerpt(sqlite3_sql(s_)));
}

void Stmt::run() {
  while (step()) {
  }
}

std::string Stmt::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  if (!p) {
    // Columns are NOT NULL in STRICT tables, so a null pointer here is an allocation failure.
    if (sqlite3_errcode(c_.handle()) == SQLITE_NOMEM) fail(c_.handle(), SQLITE_NOMEM, c_.operation(), "column");
    return {};
  }
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(s_, col); }

bool Stmt::isNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

// BEGIN and COMMIT are cached statements: they run on every write.
WriteTx::WriteTx(Connection& c) : c_(c) {
  if (c_.writeLock()) lock_ = std::unique_lock(*c_.writeLock());
  Stmt(c_, "BEGIN IMMEDIATE").run();
}

WriteTx::~WriteTx() {
  if (open_) sqlite3_exec(c_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void WriteTx::commit() {
  Stmt(c_, "COMMIT").run();
  open_ = false;
}

std::int64_t changes(const Connection& c) { return sqlite3_changes64(c.handle()); }

}  // namespace mandate::store::sqlite
