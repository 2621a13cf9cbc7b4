#pragma once
// What a Key shares between its copies: the EVP_PKEY and pools of initialised contexts.
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "jose/jose.h"
#include "jose/internal/ossl.h"

struct ec_key_st;  // OpenSSL's EC_KEY (its typedef is among the deprecated declarations)

namespace mandate::jose::detail {

struct KeyState {
  explicit KeyState(EVP_PKEY* owned) : pkey(owned) {}
  ~KeyState();
  KeyState(const KeyState&) = delete;
  KeyState& operator=(const KeyState&) = delete;

  EVP_PKEY* pkey;
  // EVP_PKEY_CTXs already through EVP_PKEY_{sign,verify}_init with the algorithm's parameters.
  // A context is used by one thread at a time: taken from the pool, returned after use.
  std::mutex mu;
  std::vector<EVP_PKEY_CTX*> signPool;
  std::vector<EVP_PKEY_CTX*> verifyPool;
  std::once_flag thumbprintOnce;
  std::string thumbprint;

  // ES256 signatures computed ahead (Key::precomputeSignatures): (k^-1 mod n, r = x(kG) mod n)
  // pairs, as secret as the private key. Each is taken out under the mutex for exactly one
  // signature and cleared when freed. The legacy EC_KEY view of pkey is what OpenSSL's
  // ECDSA_sign_setup / ECDSA_do_sign_ex take; it is made once, on the first precomputation.
  std::mutex aheadMu;
  std::vector<std::pair<BIGNUM*, BIGNUM*>> ahead;
  std::once_flag ecOnce;
  ::ec_key_st* ec = nullptr;
};

// ES256 with one of the key's precomputed pairs, if it has one: the 64-byte R||S signature of
// the SHA-256 `dgst`. False when none is left (or the pair could not sign, and is then dropped):
// the caller signs the ordinary way.
bool signAhead(KeyState& state, const unsigned char (&dgst)[32], std::string& signature);
// Clears and frees the precomputed pairs and the EC_KEY view (the key state's destructor).
void freeAhead(KeyState& state);

struct KeyAccess {
  // Takes ownership of `pkey` (also on failure). `alg` must already be checked against the key.
  static Key make(EVP_PKEY* pkey, Alg alg, bool hasPrivate);
  static KeyState& state(const Key& key) { return *key.state_; }
};

// The algorithm a key can be used with, or nullopt with `error`: EC on P-256, Ed25519, RSA with
// a modulus of 2048..8192 bits. Everything else (P-384, Ed448, X25519, RSA-PSS-restricted keys,
// DSA, DH, small RSA) is refused.
std::optional<Alg> classify(EVP_PKEY* pkey, std::string& error);

// A pooled context for signing (sign = true) or verifying with `key`; returned to the pool on
// destruction unless release() was called (after an error its state is unknown).
class PooledCtx {
 public:
  PooledCtx(const Key& key, bool sign, std::string& error);
  ~PooledCtx();
  PooledCtx(const PooledCtx&) = delete;
  PooledCtx& operator=(const PooledCtx&) = delete;
  EVP_PKEY_CTX* get() const { return ctx_; }
  void discard();

 private:
  KeyState& state_;
  bool sign_;
  EVP_PKEY_CTX* ctx_ = nullptr;
};

}  // namespace mandate::jose::detail
