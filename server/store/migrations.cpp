#include "store/migrations.h"

#include <chrono>
#include <span>
#include <string>

namespace mandate::store::sqlite {

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released script is never edited, since databases in the field already ran it.
// Conventions: STRICT tables (types enforced); times are Unix milliseconds; 0 means "not set".
constexpr Migration kMigrations[] = {
    {1, R"sql(
-- Bumped by the triggers below on every change to subjects, clients and signing keys, from any
-- process; the server polls it (Store::configVersion) to refresh its caches.
CREATE TABLE config_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO config_version (id, version) VALUES (1, 1);

CREATE TABLE subjects (
  id         TEXT PRIMARY KEY,
  attrs_json TEXT NOT NULL CHECK (json_valid(attrs_json) AND json_type(attrs_json) = 'object'),
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- No foreign key to subjects: KYC attributes may arrive after the client is registered, and the
-- token endpoint refuses a client whose subject is unknown.
CREATE TABLE clients (
  id                TEXT PRIMARY KEY,
  subject           TEXT NOT NULL,
  grants_json       TEXT NOT NULL CHECK (json_valid(grants_json) AND json_type(grants_json) = 'array'),
  auth_method       TEXT NOT NULL,
  secret_hash       TEXT NOT NULL,
  jwks_json         TEXT NOT NULL CHECK (jwks_json = '' OR json_valid(jwks_json)),
  scope             TEXT NOT NULL,
  kind              TEXT NOT NULL,
  ip_allowlist_json TEXT NOT NULL CHECK (json_valid(ip_allowlist_json) AND json_type(ip_allowlist_json) = 'array'),
  token_ttl_s       INTEGER NOT NULL,
  disabled          INTEGER NOT NULL CHECK (disabled IN (0, 1)),
  created_ms        INTEGER NOT NULL,
  updated_ms        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A rowid table: the rowid orders keys created in the same millisecond by insertion.
CREATE TABLE signing_keys (
  kid             TEXT NOT NULL UNIQUE,
  alg             TEXT NOT NULL,
  private_pem     TEXT NOT NULL,
  created_ms      INTEGER NOT NULL,
  active_from_ms  INTEGER NOT NULL,
  retired_at_ms   INTEGER NOT NULL,
  remove_after_ms INTEGER NOT NULL
) STRICT;

CREATE TRIGGER subjects_ins AFTER INSERT ON subjects BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER subjects_upd AFTER UPDATE ON subjects BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER subjects_del AFTER DELETE ON subjects BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER clients_ins AFTER INSERT ON clients BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER clients_upd AFTER UPDATE ON clients BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER clients_del AFTER DELETE ON clients BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER keys_ins AFTER INSERT ON signing_keys BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER keys_upd AFTER UPDATE ON signing_keys BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER keys_del AFTER DELETE ON signing_keys BEGIN UPDATE config_version SET version = version + 1; END;

-- Revocation is a property of the family, so a token inserted into a family after it was revoked
-- (the rotation that raced with a reuse) is born revoked. expires_ms is the family's absolute
-- lifetime; expired families are purged with their tokens.
CREATE TABLE refresh_families (
  family_id  TEXT PRIMARY KEY,
  expires_ms INTEGER NOT NULL,
  revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_families_expiry ON refresh_families (expires_ms);

CREATE TABLE refresh_tokens (
  token_hash                 TEXT NOT NULL UNIQUE,
  family_id                  TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
  client_id                  TEXT NOT NULL REFERENCES clients (id),
  subject                    TEXT NOT NULL,
  scope                      TEXT NOT NULL,
  authorization_details_json TEXT NOT NULL CHECK (authorization_details_json = '' OR json_valid(authorization_details_json)),
  resource                   TEXT NOT NULL,
  issued_ms                  INTEGER NOT NULL,
  expires_ms                 INTEGER NOT NULL,
  family_expires_ms          INTEGER NOT NULL,
  used_ms                    INTEGER  -- NULL: unused; set when rotated (consumeRefresh)
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);

-- RFC 7523 §3: a jti is accepted once per client until it expires.
CREATE TABLE assertion_jtis (
  client_id  TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX assertion_jtis_expiry ON assertion_jtis (expires_ms);

CREATE TABLE revoked_access_tokens (
  jti        TEXT PRIMARY KEY,
  expires_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_ms);
)sql"},
};

std::int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t currentVersion(Connection& c) {
  Stmt q(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
  q.step();
  return q.int64(0);
}

[[noreturn]] void refuseNewer(std::int64_t found) {
  throw StoreError("store: the database has schema version " + std::to_string(found) +
                   " but this build knows versions up to " + std::to_string(latestSchemaVersion()) +
                   "; it was written by a newer Mandate: upgrade this binary (refusing to open it)");
}

}  // namespace

int latestSchemaVersion() { return std::span(kMigrations).back().version; }

void migrate(Connection& c) {
  c.setOperation("migrate");
  c.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
  if (auto v = currentVersion(c); v > latestSchemaVersion()) refuseNewer(v);
  for (const Migration& m : kMigrations) {
    WriteTx tx(c);
    // Read again under the write lock: another process may have applied it meanwhile.
    auto v = currentVersion(c);
    if (v > latestSchemaVersion()) refuseNewer(v);
    if (v >= m.version) continue;
    const std::string what = "migration " + std::to_string(m.version);
    c.exec(m.sql, what.c_str());
    Stmt(c, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)")
        .bind(1, std::int64_t{m.version})
        .bind(2, nowMs())
        .run();
    tx.commit();
  }
}

void checkSchemaVersion(Connection& c) {
  auto v = currentVersion(c);
  if (v > latestSchemaVersion()) refuseNewer(v);
  if (v < latestSchemaVersion())
    throw StoreError("store: the database schema version " + std::to_string(v) + " is older than expected (" +
                     std::to_string(latestSchemaVersion()) + ")");
}

}  // namespace mandate::store::sqlite
