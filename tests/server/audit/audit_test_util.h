#pragma once
// Shared helpers of the audit tests: temporary directories, sample records, a raw SQLite handle
// to tamper with a copy of the log, and appending N records durably.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <string>

#include "audit/audit_log.h"

namespace mandate::audit::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mandate-audit-test-XXXXXX";
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
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline Record sampleRecord(int i, const std::string& subject = "acct-42") {
  Record r;
  r.type = i % 5 == 0 ? "token.denied" : "token.issued";
  r.actor.client = "bot-" + std::to_string(i % 7);
  r.actor.subject = subject;
  r.requestId = "req-" + std::to_string(i);
  r.sourceIp = "10.0.0." + std::to_string(i % 250);
  r.dataJson = R"({"permissions":[{"action":"trade","class":"spot"}],"denied":[],"n":)" + std::to_string(i) + "}";
  r.policyHash = "sha256:b52c";
  r.jti = "jti-" + std::to_string(i);
  return r;
}

// Appends n records (numbered from `first`) and waits until every one is durable.
inline void appendN(AuditLog& log, int n, int first = 1) {
  std::atomic<int> left{n};
  std::atomic<int> failures{0};
  std::promise<void> all;
  for (int i = 0; i < n; ++i)
    log.append(sampleRecord(first + i), [&](bool ok, std::string) {
      if (!ok) ++failures;
      if (--left == 0) all.set_value();
    });
  if (n > 0) all.get_future().wait();
  if (failures) throw std::runtime_error("appendN: " + std::to_string(failures.load()) + " failed");
}

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
  // Returns SQLite's error message, or "" on success.
  std::string tryExec(const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) == SQLITE_OK) return {};
    std::string out = msg ? msg : "error";
    sqlite3_free(msg);
    return out;
  }
  void exec(const std::string& sql) {
    auto err = tryExec(sql);
    if (!err.empty()) throw std::runtime_error("raw exec: " + err + " in " + sql);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("raw prepare: ") + sqlite3_errmsg(db_));
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_blob(s, 0))
      out.assign(static_cast<const char*>(sqlite3_column_blob(s, 0)), static_cast<std::size_t>(sqlite3_column_bytes(s, 0)));
    sqlite3_finalize(s);
    return out;
  }
  std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  sqlite3* handle() { return db_; }
  // What an attacker with file access does first.
  void dropTriggers() {
    exec("DROP TRIGGER records_no_update; DROP TRIGGER records_no_delete; DROP TRIGGER records_append_only; "
         "DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete; DROP TRIGGER checkpoints_append_only");
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace mandate::audit::test
