#pragma once
// Read-only access to an audit database for verify, export and show: opened with
// SQLITE_OPEN_READONLY so that inspecting a log (or an auditor's copy) can never change it.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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
  void reset();  // to step again from the start; bindings stay
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

// The smallest and largest sequence numbers whose records can lie in [since, until) (UTC
// microseconds; either open): lo > hi when none can. Scans then run over that span in sequence
// order and still test each record's time. Times never decrease along a log's chain (the writer
// keeps them so), so both ends are found by binary search over seq, O(log n) lookups; a log
// created by schema version 1 has an index on ts_us instead, which is used.
std::pair<std::int64_t, std::int64_t> seqSpan(ReadDb& db, std::optional<std::int64_t> sinceUs,
                                              std::optional<std::int64_t> untilUs);

}  // namespace mandate::audit
