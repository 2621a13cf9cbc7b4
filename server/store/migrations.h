#pragma once
// Versioned schema migrations. The schema is an ordered list of SQL scripts compiled into the
// binary; schema_migrations(version, applied_at) records which ones a database has had. Each
// pending script runs once, in its own write transaction, so a crash leaves the database at a
// whole version and two processes opening a new database at once apply each script once.
#include "store/sqlite_db.h"

namespace mandate::store::sqlite {

// The newest schema version this build knows.
int latestSchemaVersion();

// Applies the pending migrations. Throws StoreError if the database was written by a newer build
// (its version is above latestSchemaVersion()): running old code on it could lose data.
void migrate(Connection& c);

// For connections opened after migrate(): throws StoreError unless the database is exactly at
// latestSchemaVersion() (another process with newer code may have migrated it meanwhile).
void checkSchemaVersion(Connection& c);

}  // namespace mandate::store::sqlite
