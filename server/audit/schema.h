#pragma once
// The audit database's schema (docs/audit.md, "Database"). Versioned with PRAGMA user_version.
#include "store/sqlite_db.h"

namespace mandate::audit {

// 2: no index on ts_us (times never decrease along the chain, so a time range is found by
// binary search on seq; the index's page was rewritten by every commit). A version-1 log keeps
// its index and is marked 2 when opened for writing.
inline constexpr int kSchemaVersion = 2;

// Creates the schema on a new database, upgrades a version-1 one; refuses (AuditError) others.
void ensureSchema(store::sqlite::Connection& c);

}  // namespace mandate::audit
