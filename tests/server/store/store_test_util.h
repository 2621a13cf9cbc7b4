#pragma once
// Shared helpers of the store tests: temporary directories, sample entities, direct SQLite access
// to inspect the file, and child processes (standing in for the admin CLI).
#include <sqlite3.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "store/store.h"

namespace mandate::store::test {

// A fresh directory under /tmp, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mandate-store-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline Client sampleClient(const std::string& id) {
  Client c;
  c.id = id;
  c.subject = "acct-42";
  c.grants = {"client_credentials", "refresh_token"};
  c.authMethod = "client_secret_basic";
  c.secretHash = std::string(64, 'a');
  c.scope = "trade read";
  c.kind = "trading_bot";
  c.ipAllowlist = {"10.0.0.0/8", "2001:db8::/32"};
  c.tokenTtlS = 600;
  c.createdMs = 1000;
  c.updatedMs = 1000;
  return c;
}

inline RefreshToken sampleToken(const std::string& hash, const std::string& family, const std::string& client) {
  RefreshToken t;
  t.tokenHash = hash;
  t.familyId = family;
  t.clientId = client;
  t.subject = "acct-42";
  t.scope = "trade";
  t.authorizationDetailsJson = R"([{"type":"trading","actions":["trade"]}])";
  t.resource = "https://api.venue.example";
  t.issuedMs = 1'000;
  t.expiresMs = 100'000;
  t.familyExpiresMs = 1'000'000;
  return t;
}

// A raw SQLite connection to inspect or tamper with the file behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
      throw std::runtime_error("raw open failed");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("raw exec: ") + sqlite3_errmsg(db_));
  }
  // The first column of the first row, as text ("" if no row).
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("raw prepare: ") + sqlite3_errmsg(db_));
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  }
  std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

// Runs `body` in a forked child and returns the child's pid. The child never returns into the test
// runner: it leaves with _exit(body()) (or 99 on an exception). Fork only while this process has
// no store open: SQLite connections must not cross a fork, and a child reusing the parent's
// in-process lock bookkeeping would not hold the file locks it believes it holds.
inline pid_t forkChild(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

// The child's exit code, or -signal if it was killed.
inline int waitChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

// A one-shot signal between processes: the reader blocks until the writer writes.
class Pipe {
 public:
  Pipe() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe failed");
  }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void signal(int n = 1) {
    for (int i = 0; i < n; ++i) {
      char b = 1;
      while (::write(fds_[1], &b, 1) != 1) {
      }
    }
  }
  // False if nothing arrives within the timeout (a child that died before signalling).
  bool wait(int timeoutMs = 30'000) {
    pollfd p{fds_[0], POLLIN, 0};
    if (::poll(&p, 1, timeoutMs) != 1) return false;
    char b;
    return ::read(fds_[0], &b, 1) == 1;
  }

 private:
  int fds_[2];
};

}  // namespace mandate::store::test
