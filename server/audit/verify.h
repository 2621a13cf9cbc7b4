#pragma once
// The verifier: recomputes the hash chain of an audit database and checks its signed checkpoints
// (and, optionally, a checkpoint file anchored elsewhere), naming the first bad sequence number
// and the kind of tampering. Reads the file read-only, in one snapshot, in constant memory
// (apart from the list of checkpoints).
#include <cstdint>
#include <string>

namespace mandate::audit {

enum class Tamper {
  None,
  Modified,       // a record's fields do not match its hash, or it was altered and re-hashed
  Deleted,        // a sequence number is missing, or a record's predecessor is gone
  Inserted,       // records that are not in the original chain sit between two that are
  Reordered,      // a record's predecessor appears later in the log
  Truncated,      // fewer records than a checkpoint covers, or a different head at its size
  BadCheckpoint,  // a checkpoint's signature, key or order is wrong; or the checkpoint file is unreadable
};
const char* tamperName(Tamper t);  // "none", "modified", "deleted", ...

struct VerifyOptions {
  std::string checkpointFile;  // an anchored audit-checkpoint.txt; empty = none
  // The checkpoint public key to trust (base64url, as on the file's "key" line). Empty = the key
  // recorded in the database, which an attacker with write access could have replaced: pin it
  // (or keep the anchored file, which names it) for a real audit.
  std::string trustedKey;
};

struct VerifyReport {
  Tamper kind = Tamper::None;
  std::uint64_t firstBadSeq = 0;  // 0 when kind == None
  std::string detail;             // one sentence for a person
  std::uint64_t records = 0;      // records whose hash and link were checked and found good
  std::uint64_t checkpoints = 0;  // checkpoints whose signature was checked and found good
  std::string head;               // raw 32-byte hash of the last good record
  bool ok() const { return kind == Tamper::None; }
};

// Throws AuditError only when the file cannot be read as an audit log at all.
VerifyReport verify(const std::string& dbPath, const VerifyOptions& options = {});

}  // namespace mandate::audit
