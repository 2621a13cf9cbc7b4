#pragma once
// The storage interface of the authorization server. Endpoint code sees only this; the SQLite
// backend (sqlite_store.h) is the embedded default and a PostgreSQL backend can implement the
// same interface later. Every method is safe to call from several threads at once, and from
// several processes on the same data (the admin CLI writes while the server runs).
// Failures of the underlying database throw StoreError (disk full, I/O error, corrupt file).
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mandate::store {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An account holder (the `sub` of tokens) with the KYC attributes the policies read, as the
// JSON object text of the policy schema's `subject` section (validated by the caller).
struct Subject {
  std::string id;
  std::string attrsJson;  // e.g. {"kyc_tier":2,"residence":"DE",...}
  std::int64_t createdMs = 0, updatedMs = 0;
};

struct Client {
  std::string id;
  std::string subject;                  // the account it acts for
  std::vector<std::string> grants;      // "client_credentials", "refresh_token", ...
  std::string authMethod;               // client_secret_basic | client_secret_post | private_key_jwt
  std::string secretHash;               // hex SHA-256 of the secret; empty for private_key_jwt
  std::string jwksJson;                 // registered public keys for private_key_jwt; empty otherwise
  std::string scope;                    // maximum scope, space separated; empty = no scope allowed
  std::string kind = "trading_bot";     // the schema's ClientKind
  std::vector<std::string> ipAllowlist; // CIDRs; empty = any address
  std::int64_t tokenTtlS = 300;         // access token lifetime (obligations may cap it further)
  bool disabled = false;
  std::int64_t createdMs = 0, updatedMs = 0;
};

// A token signing key. Rotation: a new key is added with publishAtMs = now (it appears in
// /jwks) and activeFromMs = now + propagation delay (it signs from then on); the old key is
// retired (stops signing) when the new one becomes active and stays published until
// removeAfterMs (its last tokens have expired).
struct SigningKey {
  std::string kid;
  std::string alg;          // ES256 | EdDSA | PS256
  std::string privatePem;   // PKCS#8
  std::int64_t createdMs = 0;
  std::int64_t activeFromMs = 0;
  std::int64_t retiredAtMs = 0;    // 0 = not retired
  std::int64_t removeAfterMs = 0;  // 0 = keep; otherwise no longer published after this time
};

struct RefreshToken {
  std::string tokenHash;      // hex SHA-256 of the token; the token itself is never stored
  std::string familyId;
  std::string clientId;
  std::string subject;
  std::string scope;
  std::string authorizationDetailsJson;  // what was requested, re-evaluated on refresh
  std::string resource;
  std::int64_t issuedMs = 0;
  std::int64_t expiresMs = 0;        // this token
  std::int64_t familyExpiresMs = 0;  // absolute lifetime of the family
};

enum class RefreshUse {
  Ok,        // token was live and unused; it is now used (rotated)
  Unknown,   // no such token
  Expired,   // token or family past its lifetime
  Revoked,   // token or family was revoked
  Reused,    // token had been used before: the whole family is now revoked
};

class Store {
 public:
  virtual ~Store() = default;

  // Subjects.
  virtual void putSubject(const Subject& s) = 0;  // insert or replace (createdMs kept)
  virtual std::optional<Subject> getSubject(const std::string& id) = 0;
  virtual std::vector<Subject> listSubjects() = 0;

  // Clients.
  virtual bool insertClient(const Client& c) = 0;  // false if the id exists
  virtual void updateClient(const Client& c) = 0;  // replaces every field but createdMs
  virtual std::optional<Client> getClient(const std::string& id) = 0;
  virtual std::vector<Client> listClients() = 0;

  // Signing keys.
  virtual void insertKey(const SigningKey& k) = 0;
  virtual void updateKey(const SigningKey& k) = 0;
  virtual std::vector<SigningKey> listKeys() = 0;  // oldest first

  // Refresh tokens. consumeRefresh is atomic: two concurrent uses of one token give one Ok and
  // one Reused (which revokes the family, including the token the Ok use was just issued).
  virtual void insertRefresh(const RefreshToken& t) = 0;
  virtual RefreshUse consumeRefresh(const std::string& tokenHash, std::int64_t nowMs, RefreshToken& out) = 0;
  virtual std::optional<RefreshToken> getRefresh(const std::string& tokenHash) = 0;
  virtual bool isRefreshLive(const std::string& tokenHash, std::int64_t nowMs) = 0;  // unused, unrevoked, unexpired
  virtual void revokeRefresh(const std::string& tokenHash) = 0;  // revokes its family
  virtual void revokeFamily(const std::string& familyId) = 0;
  // True once the family was revoked (revokeRefresh, revokeFamily, or a Reused consume): the
  // introspection endpoint then reports the family's access tokens inactive too.
  virtual bool isFamilyRevoked(const std::string& familyId) = 0;

  // Single-use client assertion ids (RFC 7523 §3 jti): false if (clientId, jti) was seen and
  // has not expired; expired entries are purged.
  virtual bool recordAssertionJti(const std::string& clientId, const std::string& jti, std::int64_t expiresMs,
                                  std::int64_t nowMs) = 0;

  // Revoked access tokens (by jti), kept until they would have expired anyway.
  virtual void revokeAccessToken(const std::string& jti, std::int64_t expiresMs) = 0;
  virtual bool isAccessTokenRevoked(const std::string& jti) = 0;

  // A number that changes whenever subjects, clients or keys change, from this process or
  // another (the admin CLI): the server polls it to refresh its caches.
  virtual std::int64_t configVersion() = 0;

  // Housekeeping the server runs periodically: SQLite checkpoints its WAL into the database and
  // truncates it to zero bytes (see sqlite::Connection::truncateWal). Never waits for other
  // connections: false when they were busy, to be retried soon.
  virtual bool truncateJournal() = 0;
};

// Opens (creating if needed) the SQLite store at `path` (WAL, synchronous=FULL, busy timeout),
// running pending migrations. Throws StoreError.
std::unique_ptr<Store> openSqliteStore(const std::string& path);

}  // namespace mandate::store
