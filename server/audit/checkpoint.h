#pragma once
// Signed checkpoints: Ed25519 over (size, head hash, time) in a fixed text form, kept in the
// checkpoints table and written to audit-checkpoint.txt for anchoring elsewhere (docs/audit.md).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jose/jose.h"

namespace mandate::audit {

inline constexpr const char* kCheckpointFileName = "audit-checkpoint.txt";
inline constexpr const char* kKeyFileName = "audit-checkpoint-key.pem";

struct Checkpoint {
  std::uint64_t size = 0;   // records covered: seq 1..size
  std::string head;         // raw 32-byte hash of record `size`
  std::int64_t timeUs = 0;  // UTC microseconds when signed
  std::string key;          // base64url raw Ed25519 public key
  std::string signature;    // raw 64 bytes
};

// The exact bytes signed: "mandate-audit-checkpoint/v1\nsize N\nhead HEX\ntime_us T\n".
std::string checkpointMessage(std::uint64_t size, std::string_view head, std::int64_t timeUs);

// Signs with an Ed25519 private key; throws AuditError on failure.
Checkpoint signCheckpoint(const jose::Key& key, std::uint64_t size, std::string_view head, std::int64_t timeUs);

// True when `cp.signature` is a valid Ed25519 signature by `publicKey` (base64url raw key, which
// must be `cp.key` unless the caller pins another) over checkpointMessage(cp).
bool checkCheckpointSignature(const Checkpoint& cp, std::string_view publicKey);

// The file form: the message, then "key B64URL\n" and "sig B64URL\n".
std::string checkpointFileText(const Checkpoint& cp);
// Strict parse of the file form; nullopt with `error` set when it is not exactly that.
std::optional<Checkpoint> parseCheckpointFile(std::string_view text, std::string& error);
// Reads and parses the file at `path` (at most one byte past the parser's 4 KiB limit);
// nullopt with `error` ("cannot be read", or the parser's reason).
std::optional<Checkpoint> readCheckpointFile(const std::string& path, std::string& error);

// Writes the file atomically (temporary file, fsync, rename, fsync of the directory); throws
// AuditError. A checkpoint of more records already in the file, signed by the same key, is kept
// (processes sharing the log write it in any order); the directory's flock serialises writers.
void writeCheckpointFile(const std::string& dir, const Checkpoint& cp);

// The key in `dir`/audit-checkpoint-key.pem, generated (mode 0600) if absent. Two processes
// opening at once agree on one key (the file is linked into place, never overwritten).
jose::Key loadOrCreateKey(const std::string& dir);

// base64url of the raw 32-byte public key of an Ed25519 key.
std::string publicKeyText(const jose::Key& key);

}  // namespace mandate::audit
