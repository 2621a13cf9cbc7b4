#pragma once
// A pool of SQLite connections to one file, one per concurrently calling thread. The mutex is held
// only to take or return a connection, never during a query, so readers on several worker threads
// run in parallel (WAL lets them read while one writer commits).
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite_db.h"

namespace mandate::store::sqlite {

class ConnectionPool {
 public:
  // Connections beyond this many idle ones are closed when returned.
  static constexpr std::size_t kMaxIdle = 16;

  explicit ConnectionPool(std::string path) : path_(std::move(path)) {}

  // Exclusive use of a connection for the duration of one Store call.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    ~Lease() { pool_.release(std::move(c_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *c_; }
    Connection* operator->() const { return c_.get(); }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<Connection> c_;
  };

  // `op` names the Store method in error messages. Opens a new connection if none is idle; a new
  // connection is checked against the schema version (see checkConnection).
  Lease acquire(const char* op);

  // Called on every newly opened connection (after its pragmas); throws to refuse it.
  void setConnectionCheck(void (*check)(Connection&)) { check_ = check; }

 private:
  void release(std::unique_ptr<Connection> c);

  std::string path_;
  void (*check_)(Connection&) = nullptr;
  std::mutex mu_;
  std::mutex writeLock_;  // see WriteTx
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace mandate::store::sqlite
