#include "audit/schema.h"

#include "audit/audit_log.h"

namespace mandate::audit {

namespace {

// The triggers make the tables append-only for every SQL client, including the sqlite3 shell: an
// attacker must drop them first, which the hash chain and the signed checkpoints then expose.
constexpr const char* kSchema = R"sql(
CREATE TABLE audit_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE records (
  seq         INTEGER PRIMARY KEY CHECK (seq >= 1),
  ts_us       INTEGER NOT NULL,
  type        TEXT NOT NULL,
  actor       TEXT NOT NULL,
  request_id  TEXT NOT NULL,
  source_ip   TEXT NOT NULL,
  data        TEXT NOT NULL,
  policy_hash TEXT NOT NULL,
  jti         TEXT NOT NULL,
  prev_hash   BLOB NOT NULL CHECK (length(prev_hash) = 32),
  hash        BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TABLE checkpoints (
  size  INTEGER PRIMARY KEY CHECK (size >= 1),
  ts_us INTEGER NOT NULL,
  head  BLOB NOT NULL CHECK (length(head) = 32),
  key   TEXT NOT NULL,
  sig   BLOB NOT NULL
) STRICT;

-- An insert must extend the chain: the next sequence number, linked to the current head. This
-- also stops INSERT OR REPLACE, whose implicit delete does not fire the DELETE trigger.
CREATE TRIGGER records_append_only BEFORE INSERT ON records
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM records)
  OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM records ORDER BY seq DESC LIMIT 1), zeroblob(32))
BEGIN SELECT RAISE(ABORT, 'audit records are append-only: an insert must extend the chain'); END;
CREATE TRIGGER checkpoints_append_only BEFORE INSERT ON checkpoints
WHEN NEW.size <= (SELECT coalesce(max(size), 0) FROM checkpoints)
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER meta_append_only BEFORE INSERT ON audit_meta
WHEN EXISTS (SELECT 1 FROM audit_meta WHERE key = NEW.key)
BEGIN SELECT RAISE(ABORT, 'audit metadata is append-only'); END;
CREATE TRIGGER records_no_update BEFORE UPDATE ON records BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER meta_no_update BEFORE UPDATE ON audit_meta BEGIN SELECT RAISE(ABORT, 'audit metadata is append-only'); END;
CREATE TRIGGER meta_no_delete BEFORE DELETE ON audit_meta BEGIN SELECT RAISE(ABORT, 'audit metadata is append-only'); END;
PRAGMA user_version = 2;
)sql";

}  // namespace

void ensureSchema(store::sqlite::Connection& c) {
  store::sqlite::WriteTx tx(c);
  std::int64_t version = 0;
  {
    store::sqlite::Stmt q(c, "PRAGMA user_version");
    if (q.step()) version = q.int64(0);
  }
  if (version == kSchemaVersion) return;  // rolled back: nothing written
  if (version == 1) {
    // Same tables; its records_ts index stays, and export and replay keep using it (its times
    // were not kept in order along the chain).
    c.exec("PRAGMA user_version = 2", "upgrade audit schema 1 to 2");
    tx.commit();
    return;
  }
  if (version != 0)
    throw AuditError("audit: database schema version " + std::to_string(version) + " is not " +
                     std::to_string(kSchemaVersion) + " (written by another build?)");
  c.exec(kSchema, "create audit schema");
  tx.commit();
}

}  // namespace mandate::audit
