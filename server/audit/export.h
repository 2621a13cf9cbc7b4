#pragma once
// Reading the audit trail: export a range of records as JSON lines or CSV, streaming row by row
// (constant memory, whatever the size of the log), and show one record.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "audit/audit_log.h"

namespace mandate::audit {

enum class Format { Jsonl, Csv };

struct ExportFilter {
  std::optional<std::int64_t> sinceUs;  // ts_us >= since (UTC microseconds)
  std::optional<std::int64_t> untilUs;  // ts_us < until
  std::string subject;                  // actor.subject equals this; empty = any
  std::string type;                     // event type equals this; empty = any
};

// Writes the matching records in sequence order; returns how many. Throws AuditError.
std::uint64_t exportRecords(const std::string& dbPath, const ExportFilter& filter, Format format, std::ostream& out);

// The record with sequence `seq`, or nullopt. Throws AuditError.
std::optional<StoredRecord> show(const std::string& dbPath, std::uint64_t seq);

// One JSON object on one line (no newline): seq, ts (RFC 3339, microseconds, Z), ts_us, type,
// actor, request_id, source_ip, policy_hash, jti, data, prev_hash, hash (hex).
std::string toJsonLine(const StoredRecord& r);

// RFC 3339 UTC with microseconds: 2026-11-26T10:00:00.123456Z.
std::string formatTimestamp(std::int64_t tsUs);

}  // namespace mandate::audit
