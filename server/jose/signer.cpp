// Signing and verifying bytes. ES256 and PS256 hash first and then use a pooled, already
// initialised EVP_PKEY_CTX: EVP_DigestSignInit would fetch the algorithms and duplicate the key
// context on every token. Ed25519 (PureEdDSA) cannot be given a hash, so it runs one-shot.
#include <openssl/err.h>

#include "jose/internal/key_state.h"
#include "jose/internal/ossl.h"
#include "jose/internal/signer.h"

namespace mandate::jose::detail {
namespace {

constexpr std::size_t kEcCoordinate = 32;

bool digest(std::string_view input, unsigned char (&out)[32], std::string& error) {
  thread_local MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), input.data(), input.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 ||
      len != 32) {
    error = sslFailure("SHA-256 failed");
    return false;
  }
  return true;
}

}  // namespace

bool ecdsaDerToRaw(const unsigned char* der, std::size_t len, std::string& raw) {
  const unsigned char* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig || p != der + len) {
    ERR_clear_error();
    return false;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  raw.assign(2 * kEcCoordinate, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  return BN_bn2binpad(r, out, kEcCoordinate) == static_cast<int>(kEcCoordinate) &&
         BN_bn2binpad(s, out + kEcCoordinate, kEcCoordinate) == static_cast<int>(kEcCoordinate);
}

bool ecdsaRawToDer(std::string_view raw, std::string& der) {
  if (raw.size() != 2 * kEcCoordinate) return false;
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(in, kEcCoordinate, nullptr));
  BnPtr s(BN_bin2bn(in + kEcCoordinate, kEcCoordinate, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
  r.release();  // owned by sig now
  s.release();
  unsigned char* out = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &out);
  if (len <= 0) return false;
  der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return true;
}

bool rawSign(const Key& key, std::string_view input, std::string& signature, std::string& error) {
  if (!key.hasPrivate()) {
    error = "a public key cannot sign";
    return false;
  }
  if (key.alg() == Alg::EdDSA) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    unsigned char sig[64];
    size_t len = sizeof sig;
    if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key.evp(), nullptr) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1 ||
        len != sizeof sig) {
      error = sslFailure("Ed25519 signing failed");
      return false;
    }
    signature.assign(reinterpret_cast<const char*>(sig), len);
    return true;
  }
  unsigned char dgst[32];
  if (!digest(input, dgst, error)) return false;
  if (key.alg() == Alg::ES256 && signAhead(KeyAccess::state(key), dgst, signature)) return true;
  PooledCtx ctx(key, true, error);
  if (ctx.get() == nullptr) return false;
  unsigned char buf[1024];  // an 8192-bit RSA signature, or a DER ECDSA one (<= 72 bytes)
  size_t len = sizeof buf;
  if (EVP_PKEY_sign(ctx.get(), buf, &len, dgst, sizeof dgst) != 1) {
    ctx.discard();
    error = sslFailure("signing failed");
    return false;
  }
  if (key.alg() == Alg::ES256) {
    if (!ecdsaDerToRaw(buf, len, signature)) {
      error = "ECDSA signature conversion failed";
      return false;
    }
    return true;
  }
  signature.assign(reinterpret_cast<const char*>(buf), len);
  return true;
}

bool rawVerify(const Key& key, std::string_view input, std::string_view signature, std::string& error) {
  const auto* sigBytes = reinterpret_cast<const unsigned char*>(signature.data());
  if (key.alg() == Alg::EdDSA) {
    if (signature.size() != 64) {
      error = "EdDSA signature must be 64 bytes";
      return false;
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key.evp(), nullptr) != 1) {
      error = sslFailure("cannot initialise verification");
      return false;
    }
    if (EVP_DigestVerify(ctx.get(), sigBytes, signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                         input.size()) != 1) {
      error = sslFailure("signature does not verify");
      return false;
    }
    return true;
  }
  std::string der;
  if (key.alg() == Alg::ES256) {
    // RFC 7518 §3.4: exactly R||S. A DER signature (70-72 bytes) is a different encoding of the
    // same value and is refused, as is anything else that is not 64 bytes.
    if (signature.size() != 2 * kEcCoordinate || !ecdsaRawToDer(signature, der)) {
      error = "ES256 signature must be 64 bytes (R||S)";
      return false;
    }
    sigBytes = reinterpret_cast<const unsigned char*>(der.data());
  } else if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.evp()))) {
    error = "PS256 signature length differs from the modulus length";
    return false;
  }
  const std::size_t sigLen = der.empty() ? signature.size() : der.size();
  unsigned char dgst[32];
  if (!digest(input, dgst, error)) return false;
  PooledCtx ctx(key, false, error);
  if (ctx.get() == nullptr) return false;
  if (EVP_PKEY_verify(ctx.get(), sigBytes, sigLen, dgst, sizeof dgst) != 1) {
    error = sslFailure("signature does not verify");
    return false;
  }
  return true;
}

}  // namespace mandate::jose::detail
