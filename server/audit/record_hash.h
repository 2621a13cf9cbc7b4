#pragma once
// The canonical encoding of a record and its hash (docs/audit.md, "Canonical encoding"): the
// writer computes it when appending, the verifier recomputes it. Changing it breaks every
// existing log: a new encoding needs a new version tag.
#include <string>
#include <string_view>

#include "audit/audit_log.h"

namespace mandate::audit {

inline constexpr std::string_view kRecordTag = "mandate-audit-record/v1";

// Fields in this order, each as an 8-byte big-endian length followed by its bytes: the tag,
// seq (8 bytes BE), ts_us (8 bytes BE, two's complement), type, actor, request_id, source_ip,
// data, policy_hash, jti, prev_hash (32 raw bytes).
std::string canonicalEncoding(const StoredRecord& r);

// SHA-256 of canonicalEncoding(r); raw 32 bytes. Ignores r.hash.
std::string recordHash(const StoredRecord& r);

std::string toHex(std::string_view bytes);

// The actor as stored: {"admin":..,"client":..,"subject":..} with empty members left out, keys sorted.
std::string actorJson(const Actor& a);

}  // namespace mandate::audit
