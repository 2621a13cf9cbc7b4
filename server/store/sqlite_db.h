#pragma once
// Thin RAII layer over the SQLite C API: one connection, its cached prepared statements, and
// write transactions. Every failure becomes a StoreError naming the operation and SQLite's
// message. A Connection is used by one thread at a time (the pool hands it out), so it is opened
// without SQLite's per-connection mutex.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mandate::store::sqlite {

// Throws StoreError("store: <op>: <what>: <sqlite message> (<code name>)").
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view op, std::string_view what);

class Connection {
 public:
  // Opens `path` (creating it if needed) and applies the per-connection settings: WAL, synchronous=FULL,
  // foreign_keys=ON, busy timeout, defensive mode. Throws StoreError (e.g. the file is not a database).
  // `newPageSize` (bytes, a power of two 512-65536; 0 = SQLite's default) applies only when the
  // file is created: the page size of a WAL database is fixed once it exists.
  explicit Connection(const std::string& path, int newPageSize = 0);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }

  // The public Store method being served, for error messages.
  void setOperation(const char* op) { op_ = op; }
  const char* operation() const { return op_; }

  // A cached prepared statement for `sql`, keyed by the address of the text: pass string literals
  // or other static strings only.
  sqlite3_stmt* statement(const char* sql);

  // Runs one or more statements without results (migrations, pragmas). `what` names it in errors
  // (default: the start of the text).
  void exec(const char* sql, const char* what = nullptr);

  // True when no transaction is open; a connection left inside one is not reused.
  bool idle() const;

  // wal_checkpoint(TRUNCATE): copies every WAL frame into the database, syncs it and truncates
  // the WAL file to zero bytes. SQLite's automatic checkpoints are passive: a reader on an older
  // snapshot stops them short of the WAL's end, and they never shrink the file, so under steady
  // reads the WAL can only grow (security.md, Durability). Waits at most `waitMs` for other
  // writers and for readers of older snapshots, holding this process's write mutex meanwhile;
  // returns false if they were still busy (the WAL is then checkpointed as far as they allowed
  // and keeps its size). Throws StoreError on any other failure.
  bool truncateWal(int waitMs);

  // Shared by the connections of one pool: see WriteTx.
  void setWriteLock(std::mutex* m) { writeLock_ = m; }
  std::mutex* writeLock() const { return writeLock_; }

 private:
  sqlite3* db_ = nullptr;
  const char* op_ = "open";
  std::mutex* writeLock_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// One use of a cached statement: binds parameters, steps, reads columns, and resets the statement
// (clearing its bindings) when it goes out of scope.
class Stmt {
 public:
  Stmt(Connection& c, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are 1-based, as in SQL (?1, ?2...). Text is copied.
  Stmt& bind(int index, std::string_view text);
  Stmt& bind(int index, std::int64_t value);

  bool step();  // true: a row is available; false: done
  void run();   // steps a statement that returns no rows

  std::string text(int col) const;
  std::int64_t int64(int col) const;
  bool isNull(int col) const;

 private:
  Connection& c_;
  sqlite3_stmt* s_;
};

// BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock up front (waiting up to the busy
// timeout for other writers, in this process or another) so a read-then-write sequence inside the
// transaction cannot be interleaved with another writer and never fails with a lock upgrade error.
// Rolled back on destruction unless committed.
//
// Writers of one process first queue on the pool's write mutex. SQLite's busy handler polls with
// growing sleeps and no fairness, so under sustained write load from several threads one of them
// could lose every poll until its busy timeout expires ("database is locked"); the mutex makes
// threads wait their turn instead, leaving the busy timeout to other processes (the admin CLI).
class WriteTx {
 public:
  explicit WriteTx(Connection& c);
  ~WriteTx();
  WriteTx(const WriteTx&) = delete;
  WriteTx& operator=(const WriteTx&) = delete;
  void commit();

 private:
  std::unique_lock<std::mutex> lock_;
  Connection& c_;
  bool open_ = true;
};

// Number of rows changed by the last INSERT/UPDATE/DELETE on the connection.
std::int64_t changes(const Connection& c);

}  // namespace mandate::store::sqlite
