#pragma once
// Read-only access to an audit database for verify, export and show: opened with
// SQLITE_OPEN_READONLY so that inspecting a log (or an auditor's copy) can never change it.
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/audit_log.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mandate::audit {

class ReadDb {
 public:
  explicit ReadDb(const std::string& path);  // throws AuditError
  ~ReadDb();
  ReadDb(const ReadDb&) = delete;
  ReadDb& operator=(const ReadDb&) = delete;
  sqlite3* handle() const { return db_; }
  // Everything read through this connection comes from one snapshot (a read transaction), so a
  // writer appending meanwhile cannot make a scan see half a batch.
  void beginSnapshot();

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Query {
 public:
  Query(ReadDb& db, const char* sql);  // throws AuditError
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& bind(int index, std::string_view text);
  Query& bind(int index, std::int64_t value);
  bool step();  // throws AuditError on failure
  std::string text(int col) const;   // bytes of any column (text or blob)
  std::int64_t int64(int col) const;
  bool isInteger(int col) const;

 private:
  ReadDb& db_;
  sqlite3_stmt* s_ = nullptr;
};

// Reads the record columns in the order of kRecordColumns into `r`.
inline constexpr const char* kRecordColumns =
    "seq, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, prev_hash, hash";
void readRecord(const Query& q, StoredRecord& r);

}  // namespace mandate::audit
