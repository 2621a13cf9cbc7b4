#pragma once
// The audit trail's writer: an append-only, hash-chained log in its own SQLite database (WAL,
// synchronous=FULL; triggers refuse UPDATE and DELETE). Records are appended by a single writer
// thread that commits everything queued in one transaction (group commit), so many concurrent
// requests share one fsync. A record is durable when its `done(true, "")` runs: never before the
// COMMIT returned. docs/audit.md describes the format, the hash chain and the checkpoints.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace mandate::audit {

struct AuditError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Who acted: the OAuth client, the subject it acts for, an administrator (CLI user). Empty = none.
struct Actor {
  std::string client;
  std::string subject;
  std::string admin;
};

// One event, as the caller supplies it. Scalar fields are printable ASCII (0x20-0x7E), at most
// 512 bytes (type: 1-64 bytes of [a-z0-9._-]); `dataJson` is a compact JSON object (no raw
// control characters), at most 1 MiB. Sequence, timestamp and hashes are assigned by the log.
struct Record {
  std::string type;            // e.g. "token.issued", "token.denied", "client.updated"
  Actor actor;
  std::string requestId;
  std::string sourceIp;
  std::string dataJson = "{}"; // the decision: permissions, denials with reasons, obligations, errors, input frame
  std::string policyHash;      // "sha256:..." of the bundle that decided
  std::string jti;             // of the token issued; never the token itself
  // Set by a producer whose data is a compact JSON object by construction (the token endpoint's
  // decision records: tests/server/oauth/decision_data_test.cpp feeds its builder hostile
  // strings): append then skips the JSON syntax check, ~1.5 us of a token's CPU. The size limit
  // and the scalar fields are still checked.
  bool dataWellFormed = false;
};

// A record as stored.
struct StoredRecord {
  std::uint64_t seq = 0;
  std::int64_t tsUs = 0;       // UTC, microseconds since the Unix epoch
  std::string type;
  std::string actorJson;       // {"admin":..,"client":..,"subject":..}, empty members omitted
  std::string requestId;
  std::string sourceIp;
  std::string dataJson;
  std::string policyHash;
  std::string jti;
  std::string prevHash;        // raw 32 bytes
  std::string hash;            // raw 32 bytes
};

// Called once per append, on the log's completion thread (or at once on the caller's thread when
// refused before queueing), in sequence order. durable = true only after the record's transaction
// committed. Keep it short (hand the response to its connection): it delays later callbacks.
using Done = std::function<void(bool durable, std::string error)>;

struct Options {
  std::size_t queueCapacity = 16384;                       // records; beyond it append refuses at once
  std::size_t queueBytes = 64 << 20;                       // and the same for their bytes
  // Commit delay: once a record is queued, the writer waits up to this long for more (or until
  // commitTarget are queued) before it writes the batch. Fewer, larger transactions cost less
  // CPU per record (each commit is an fsync and wakes every waiter); each record waits at most
  // this much longer. 0: write as soon as anything is queued.
  std::chrono::microseconds commitDelay{0};
  std::size_t commitTarget = 256;
  // ... and stops waiting as soon as no record arrived for this long: a few clients (whose
  // requests are all queued already) never wait the whole delay; a steady stream does.
  std::chrono::microseconds commitGap{100};
  std::uint64_t checkpointEvery = 1000;                    // records between signed checkpoints
  std::chrono::milliseconds checkpointInterval{60'000};    // or this long, if anything was appended
  std::string checkpointDir;                               // audit-checkpoint.txt; default: the db's directory
  // After a commit, the writer truncates the WAL (wal_checkpoint(TRUNCATE)) once this long has
  // passed since it last did; it never waits for readers or another process's writer: when they
  // are busy it tries again 10 s (at most this interval) later.
  std::chrono::milliseconds walTruncateInterval{300'000};
  // Test hook, run by the writer inside each transaction (a batch, or the probe it writes every
  // second while failing and idle) just before COMMIT: a non-empty return value fails it with
  // that error (fault injection); it may also block.
  std::function<std::string()> beforeCommit;
};

struct Status {
  bool healthy = true;         // false from a failed batch until a batch (or an idle probe) succeeds
  std::string lastError;
  std::uint64_t appended = 0;  // records made durable by this process
  std::uint64_t failed = 0;    // records refused or failed (any reason)
  std::uint64_t batches = 0;   // committed transactions
  std::size_t queued = 0;
  std::uint64_t headSeq = 0;   // last sequence this process saw committed
  std::string checkpointFileError;  // last failure to write audit-checkpoint.txt (records unaffected)
  std::uint64_t walTruncations = 0;     // completed WAL truncations
  std::uint64_t walTruncateRetries = 0; // attempts that found other connections busy or failed
  std::string walTruncateError;         // the last failure other than busy (records unaffected)
};

class AuditLog {
 public:
  // Opens or creates the log at `dbPath` (file mode 0600) and its checkpoint signing key
  // (audit-checkpoint-key.pem in the same directory, mode 0600, generated on first open), and
  // starts the writer. Several processes may open one log: each batch reads the head inside its
  // write transaction, so the chain stays continuous. Throws AuditError.
  static std::unique_ptr<AuditLog> open(const std::string& dbPath, Options options = {});

  // Commits what is queued (and a final checkpoint if records arrived since the last), then stops.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues the record; `done` reports its fate. Refused at once (done(false, ...)) when the
  // record is malformed, the queue is full ("audit queue full") or the log is closing.
  void append(Record record, Done done);

  // Appends and waits until durable; for rare events (admin changes). Ignores the queue bound.
  // Returns the sequence number; throws AuditError if the record could not be made durable.
  std::uint64_t appendSync(Record record);

  bool healthy() const;
  Status status() const;

  // The public key checkpoints are signed with: base64url of the raw 32-byte Ed25519 key.
  const std::string& checkpointPublicKey() const;

  struct Impl;

 private:
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Validates a record as append does; returns the reason it is refused, or "" if acceptable.
std::string validate(const Record& r);

}  // namespace mandate::audit
