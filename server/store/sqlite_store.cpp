// The SQLite backend of Store. Each call takes a connection from the pool (one per concurrently
// calling thread), runs cached prepared statements on it, and gives it back. Every write runs in a
// BEGIN IMMEDIATE transaction, which SQLite serialises across threads and processes, so the
// read-check-write sequences (refresh rotation, jti replay) are atomic against the admin CLI too.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "store/connection_pool.h"
#include "store/json_list.h"
#include "store/migrations.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace mandate::store {

namespace {

using sqlite::changes;
using sqlite::ConnectionPool;
using sqlite::Stmt;
using sqlite::WriteTx;

// Bounded purge work per insert: amortised, each insert removes more expired rows than it adds.
constexpr std::int64_t kPurgeBatch = 64;
constexpr std::int64_t kFamilyPurgeBatch = 16;
// Revoked access tokens are kept this long past their expiry, for verifiers whose clocks lag.
constexpr std::int64_t kRevokedAccessGraceMs = 3600 * 1000;

std::int64_t wallNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The store holds the signing keys' private PEM: the file is created readable by its owner only
// (SQLite gives its -wal and -shm files the same mode). An existing file keeps its mode.
void createPrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  if (errno != EEXIST) throw StoreError("store: create " + path + ": " + std::strerror(errno));
}

// Column lists as macros so statements stay string literals (the statement cache is keyed by the
// literal's address).
#define CLIENT_COLUMNS                                                                                 \
  "id, subject, grants_json, auth_method, secret_hash, jwks_json, scope, kind, ip_allowlist_json, " \
  "token_ttl_s, disabled, created_ms, updated_ms"
#define REFRESH_COLUMNS                                                                                 \
  "t.token_hash, t.family_id, t.client_id, t.subject, t.scope, t.authorization_details_json, t.resource, " \
  "t.issued_ms, t.expires_ms, t.family_expires_ms"
#define REFRESH_FROM "FROM refresh_tokens t JOIN refresh_families f USING (family_id)"

Subject readSubject(const Stmt& q) {
  return Subject{q.text(0), q.text(1), q.int64(2), q.int64(3)};
}

Client readClient(const Stmt& q) {
  Client c;
  c.id = q.text(0);
  c.subject = q.text(1);
  c.grants = sqlite::decodeStringList(q.text(2), "grants of client " + c.id);
  c.authMethod = q.text(3);
  c.secretHash = q.text(4);
  c.jwksJson = q.text(5);
  c.scope = q.text(6);
  c.kind = q.text(7);
  c.ipAllowlist = sqlite::decodeStringList(q.text(8), "ip allowlist of client " + c.id);
  c.tokenTtlS = q.int64(9);
  c.disabled = q.int64(10) != 0;
  c.createdMs = q.int64(11);
  c.updatedMs = q.int64(12);
  return c;
}

SigningKey readKey(const Stmt& q) {
  return SigningKey{q.text(0), q.text(1), q.text(2), q.int64(3), q.int64(4), q.int64(5), q.int64(6)};
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : pool_(path) {
    createPrivateFile(path);
    {
      auto c = pool_.acquire("open");
      sqlite::migrate(*c);
    }
    pool_.setConnectionCheck(&sqlite::checkSchemaVersion);
  }

  // ---- Subjects

  void putSubject(const Subject& s) override {
    auto c = pool_.acquire("putSubject");
    WriteTx tx(*c);
    Stmt(*c,
         "INSERT INTO subjects (id, attrs_json, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (id) DO UPDATE SET attrs_json = excluded.attrs_json, updated_ms = excluded.updated_ms")
        .bind(1, s.id)
        .bind(2, s.attrsJson)
        .bind(3, s.createdMs)
        .bind(4, s.updatedMs)
        .run();
    tx.commit();
  }

  std::optional<Subject> getSubject(const std::string& id) override {
    auto c = pool_.acquire("getSubject");
    Stmt q(*c, "SELECT id, attrs_json, created_ms, updated_ms FROM subjects WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return readSubject(q);
  }

  std::vector<Subject> listSubjects() override {
    auto c = pool_.acquire("listSubjects");
    Stmt q(*c, "SELECT id, attrs_json, created_ms, updated_ms FROM subjects ORDER BY id");
    std::vector<Subject> out;
    while (q.step()) out.push_back(readSubject(q));
    return out;
  }

  // ---- Clients

  bool insertClient(const Client& cl) override {
    auto c = pool_.acquire("insertClient");
    WriteTx tx(*c);
    Stmt q(*c,
           "INSERT INTO clients (id, subject, grants_json, auth_method, secret_hash, jwks_json, scope, kind, "
           "ip_allowlist_json, token_ttl_s, disabled, created_ms, updated_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (id) DO NOTHING");
    bindClient(q, cl);
    q.bind(12, cl.createdMs).bind(13, cl.updatedMs).run();
    bool inserted = changes(*c) == 1;
    tx.commit();
    return inserted;
  }

  void updateClient(const Client& cl) override {
    auto c = pool_.acquire("updateClient");
    WriteTx tx(*c);
    Stmt q(*c,
           "UPDATE clients SET subject = ?2, grants_json = ?3, auth_method = ?4, secret_hash = ?5, "
           "jwks_json = ?6, scope = ?7, kind = ?8, ip_allowlist_json = ?9, token_ttl_s = ?10, disabled = ?11, "
           "updated_ms = ?12 WHERE id = ?1");
    bindClient(q, cl);
    q.bind(12, cl.updatedMs).run();
    if (changes(*c) != 1) throw StoreError("store: updateClient: no client with id '" + cl.id + "'");
    tx.commit();
  }

  std::optional<Client> getClient(const std::string& id) override {
    auto c = pool_.acquire("getClient");
    Stmt q(*c, "SELECT " CLIENT_COLUMNS " FROM clients WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return readClient(q);
  }

  std::vector<Client> listClients() override {
    auto c = pool_.acquire("listClients");
    Stmt q(*c, "SELECT " CLIENT_COLUMNS " FROM clients ORDER BY id");
    std::vector<Client> out;
    while (q.step()) out.push_back(readClient(q));
    return out;
  }

  // ---- Signing keys

  void insertKey(const SigningKey& k) override {
    auto c = pool_.acquire("insertKey");
    WriteTx tx(*c);
    Stmt(*c,
         "INSERT INTO signing_keys (kid, alg, private_pem, created_ms, active_from_ms, retired_at_ms, "
         "remove_after_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(1, k.kid)
        .bind(2, k.alg)
        .bind(3, k.privatePem)
        .bind(4, k.createdMs)
        .bind(5, k.activeFromMs)
        .bind(6, k.retiredAtMs)
        .bind(7, k.removeAfterMs)
        .run();
    tx.commit();
  }

  void updateKey(const SigningKey& k) override {
    auto c = pool_.acquire("updateKey");
    WriteTx tx(*c);
    Stmt(*c,
         "UPDATE signing_keys SET alg = ?2, private_pem = ?3, active_from_ms = ?4, retired_at_ms = ?5, "
         "remove_after_ms = ?6 WHERE kid = ?1")
        .bind(1, k.kid)
        .bind(2, k.alg)
        .bind(3, k.privatePem)
        .bind(4, k.activeFromMs)
        .bind(5, k.retiredAtMs)
        .bind(6, k.removeAfterMs)
        .run();
    if (changes(*c) != 1) throw StoreError("store: updateKey: no key with kid '" + k.kid + "'");
    tx.commit();
  }

  std::vector<SigningKey> listKeys() override {
    auto c = pool_.acquire("listKeys");
    Stmt q(*c,
           "SELECT kid, alg, private_pem, created_ms, active_from_ms, retired_at_ms, remove_after_ms "
           "FROM signing_keys ORDER BY created_ms, rowid");
    std::vector<SigningKey> out;
    while (q.step()) out.push_back(readKey(q));
    return out;
  }

  // ---- Refresh tokens

  void insertRefresh(const RefreshToken& t) override {
    auto c = pool_.acquire("insertRefresh");
    WriteTx tx(*c);
    // Families past their absolute lifetime can never yield a live token again; deleting them
    // (their tokens go by ON DELETE CASCADE) keeps the tables bounded. issuedMs serves as "now".
    Stmt(*c,
         "DELETE FROM refresh_families WHERE family_id IN "
         "(SELECT family_id FROM refresh_families WHERE expires_ms <= ?1 LIMIT ?2)")
        .bind(1, t.issuedMs)
        .bind(2, kFamilyPurgeBatch)
        .run();
    // An existing family keeps its revoked flag: a rotation that lost the race with a reuse
    // inserts a token that is revoked from birth.
    Stmt(*c,
         "INSERT INTO refresh_families (family_id, expires_ms) VALUES (?1, ?2) "
         "ON CONFLICT (family_id) DO UPDATE SET expires_ms = max(expires_ms, excluded.expires_ms)")
        .bind(1, t.familyId)
        .bind(2, t.familyExpiresMs)
        .run();
    Stmt(*c,
         "INSERT INTO refresh_tokens (token_hash, family_id, client_id, subject, scope, "
         "authorization_details_json, resource, issued_ms, expires_ms, family_expires_ms) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        .bind(1, t.tokenHash)
        .bind(2, t.familyId)
        .bind(3, t.clientId)
        .bind(4, t.subject)
        .bind(5, t.scope)
        .bind(6, t.authorizationDetailsJson)
        .bind(7, t.resource)
        .bind(8, t.issuedMs)
        .bind(9, t.expiresMs)
        .bind(10, t.familyExpiresMs)
        .run();
    tx.commit();
  }

  // `out` is filled whenever the token exists (every result but Unknown), so the caller can audit
  // which client and subject a reuse or an expired token belongs to.
  RefreshUse consumeRefresh(const std::string& tokenHash, std::int64_t nowMs, RefreshToken& out) override {
    auto c = pool_.acquire("consumeRefresh");
    // The write lock is taken before the token is read: a concurrent use (thread or process)
    // waits here and then sees this one's outcome.
    WriteTx tx(*c);
    bool used = false, revoked = false;
    {
      Stmt q(*c, "SELECT " REFRESH_COLUMNS ", t.used_ms IS NOT NULL, f.revoked " REFRESH_FROM " WHERE t.token_hash = ?1");
      q.bind(1, tokenHash);
      if (!q.step()) return RefreshUse::Unknown;
      out = readRefresh(q);
      used = q.int64(10) != 0;
      revoked = q.int64(11) != 0;
    }
    if (revoked) return RefreshUse::Revoked;
    if (used) {
      // Checked before expiry: presenting a rotated token is evidence of theft even when late.
      Stmt(*c, "UPDATE refresh_families SET revoked = 1 WHERE family_id = ?1").bind(1, out.familyId).run();
      tx.commit();
      return RefreshUse::Reused;
    }
    if (nowMs >= out.expiresMs || nowMs >= out.familyExpiresMs) return RefreshUse::Expired;
    Stmt(*c, "UPDATE refresh_tokens SET used_ms = ?2 WHERE token_hash = ?1").bind(1, tokenHash).bind(2, nowMs).run();
    tx.commit();
    return RefreshUse::Ok;
  }

  std::optional<RefreshToken> getRefresh(const std::string& tokenHash) override {
    auto c = pool_.acquire("getRefresh");
    Stmt q(*c, "SELECT " REFRESH_COLUMNS " " REFRESH_FROM " WHERE t.token_hash = ?1");
    q.bind(1, tokenHash);
    if (!q.step()) return std::nullopt;
    return readRefresh(q);
  }

  bool isRefreshLive(const std::string& tokenHash, std::int64_t nowMs) override {
    auto c = pool_.acquire("isRefreshLive");
    Stmt q(*c,
           "SELECT 1 " REFRESH_FROM " WHERE t.token_hash = ?1 AND t.used_ms IS NULL AND f.revoked = 0 "
           "AND ?2 < t.expires_ms AND ?2 < t.family_expires_ms");
    q.bind(1, tokenHash).bind(2, nowMs);
    return q.step();
  }

  void revokeRefresh(const std::string& tokenHash) override {
    auto c = pool_.acquire("revokeRefresh");
    WriteTx tx(*c);
    Stmt(*c,
         "UPDATE refresh_families SET revoked = 1 "
         "WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1)")
        .bind(1, tokenHash)
        .run();
    tx.commit();
  }

  void revokeFamily(const std::string& familyId) override {
    auto c = pool_.acquire("revokeFamily");
    WriteTx tx(*c);
    Stmt(*c, "UPDATE refresh_families SET revoked = 1 WHERE family_id = ?1").bind(1, familyId).run();
    tx.commit();
  }

  // A purged family (past its absolute lifetime) reads as not revoked: its tokens are all expired.
  bool isFamilyRevoked(const std::string& familyId) override {
    auto c = pool_.acquire("isFamilyRevoked");
    Stmt q(*c, "SELECT revoked FROM refresh_families WHERE family_id = ?1");
    q.bind(1, familyId);
    return q.step() && q.int64(0) != 0;
  }

  // ---- Assertion jtis

  bool recordAssertionJti(const std::string& clientId, const std::string& jti, std::int64_t expiresMs,
                          std::int64_t nowMs) override {
    auto c = pool_.acquire("recordAssertionJti");
    WriteTx tx(*c);
    Stmt(*c,
         "DELETE FROM assertion_jtis WHERE (client_id, jti) IN "
         "(SELECT client_id, jti FROM assertion_jtis WHERE expires_ms <= ?1 LIMIT ?2)")
        .bind(1, nowMs)
        .bind(2, kPurgeBatch)
        .run();
    // A row still present but expired (not yet reached by the purge) is taken over; a live one
    // makes the upsert change nothing, which is the replay.
    Stmt(*c,
         "INSERT INTO assertion_jtis (client_id, jti, expires_ms) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (client_id, jti) DO UPDATE SET expires_ms = excluded.expires_ms "
         "WHERE assertion_jtis.expires_ms <= ?4")
        .bind(1, clientId)
        .bind(2, jti)
        .bind(3, expiresMs)
        .bind(4, nowMs)
        .run();
    bool fresh = changes(*c) == 1;
    tx.commit();
    return fresh;
  }

  // ---- Revoked access tokens

  void revokeAccessToken(const std::string& jti, std::int64_t expiresMs) override {
    auto c = pool_.acquire("revokeAccessToken");
    WriteTx tx(*c);
    // No caller time here: the wall clock decides which entries are long past their token's exp.
    Stmt(*c,
         "DELETE FROM revoked_access_tokens WHERE jti IN "
         "(SELECT jti FROM revoked_access_tokens WHERE expires_ms < ?1 LIMIT ?2)")
        .bind(1, wallNowMs() - kRevokedAccessGraceMs)
        .bind(2, kPurgeBatch)
        .run();
    Stmt(*c,
         "INSERT INTO revoked_access_tokens (jti, expires_ms) VALUES (?1, ?2) "
         "ON CONFLICT (jti) DO UPDATE SET expires_ms = max(expires_ms, excluded.expires_ms)")
        .bind(1, jti)
        .bind(2, expiresMs)
        .run();
    tx.commit();
  }

  bool isAccessTokenRevoked(const std::string& jti) override {
    auto c = pool_.acquire("isAccessTokenRevoked");
    Stmt q(*c, "SELECT 1 FROM revoked_access_tokens WHERE jti = ?1");
    q.bind(1, jti);
    return q.step();
  }

  bool truncateJournal() override {
    auto c = pool_.acquire("truncateJournal");
    return c->truncateWal(0);
  }

  std::int64_t configVersion() override {
    auto c = pool_.acquire("configVersion");
    Stmt q(*c, "SELECT version FROM config_version WHERE id = 1");
    if (!q.step()) throw StoreError("store: configVersion: the config_version row is missing");
    return q.int64(0);
  }

 private:
  static void bindClient(Stmt& q, const Client& cl) {
    q.bind(1, cl.id)
        .bind(2, cl.subject)
        .bind(3, sqlite::encodeStringList(cl.grants, "grants"))
        .bind(4, cl.authMethod)
        .bind(5, cl.secretHash)
        .bind(6, cl.jwksJson)
        .bind(7, cl.scope)
        .bind(8, cl.kind)
        .bind(9, sqlite::encodeStringList(cl.ipAllowlist, "ip allowlist"))
        .bind(10, cl.tokenTtlS)
        .bind(11, std::int64_t{cl.disabled ? 1 : 0});
  }

  static RefreshToken readRefresh(const Stmt& q) {
    RefreshToken t;
    t.tokenHash = q.text(0);
    t.familyId = q.text(1);
    t.clientId = q.text(2);
    t.subject = q.text(3);
    t.scope = q.text(4);
    t.authorizationDetailsJson = q.text(5);
    t.resource = q.text(6);
    t.issuedMs = q.int64(7);
    t.expiresMs = q.int64(8);
    t.familyExpiresMs = q.int64(9);
    return t;
  }

  ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<Store> openSqliteStore(const std::string& path) { return std::make_unique<SqliteStore>(path); }

}  // namespace mandate::store
