#pragma once
// The audit database's schema (docs/audit.md, "Database"). Versioned with PRAGMA user_version.
#include "store/sqlite_db.h"

namespace mandate::audit {

inline constexpr int kSchemaVersion = 1;

// Creates the schema on a new database; refuses (AuditError) one of another version.
void ensureSchema(store::sqlite::Connection& c);

}  // namespace mandate::audit
