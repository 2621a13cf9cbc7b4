#pragma once
// The binary bundle format and its verifying loader. Layout (little-endian):
//   "MANDATE\0" | u32 format version | 32-byte schema hash | u32 section count |
//   sections: u32 id, u32 length, payload (SCHEMA, CONSTANTS, CODE, RULES, DEBUG, META) |
//   HASH section: SHA-256 of every byte before it (the content hash) |
//   optional SIGNATURE section: 32-byte Ed25519 public key, 64-byte signature of the hash.
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bundle/bundle.h"

namespace mandate::bundle {

inline constexpr std::uint32_t kFormatVersion = 2;  // 2: mask conditions in the rule table
inline constexpr std::size_t kMaxBundleBytes = 64 * 1024 * 1024;

using PublicKey = std::array<std::uint8_t, 32>;

// Signs a 32-byte content hash; returns false on failure.
using Signer = std::function<bool(const std::uint8_t* hash, PublicKey& pub, std::array<std::uint8_t, 64>& sig)>;

// Serializes and fills b.contentHash / b.schemaHash / b.signerKey.
std::string serialize(Bundle& b, const Signer* signer = nullptr);

struct LoadOptions {
  bool requireSignature = false;
  std::vector<PublicKey> trustedKeys;  // when non-empty, the signer must be one of them
};

// Verifies everything before anything can run: magic, version, bounds, indices, jump
// targets, stack use and operand kinds, content hash and signature. nullptr + error on refusal.
std::unique_ptr<Bundle> load(std::string_view bytes, const LoadOptions& options, std::string& error);

// Ed25519 helpers over OpenSSL (no I/O: keys are passed as PEM text).
bool makeSigner(const std::string& privatePem, Signer& out, std::string& error);
bool publicKeyFromPem(const std::string& pem, PublicKey& out, std::string& error);
std::string hex(const std::uint8_t* p, std::size_t n);

}  // namespace mandate::bundle
