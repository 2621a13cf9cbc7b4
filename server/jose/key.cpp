// Key: generation, PEM in and out, the public JWK and its RFC 7638 thumbprint, and the pooled
// contexts signing and verifying reuse.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

#include "jose/internal/key_state.h"
#include "jose/internal/ossl.h"

namespace mandate::jose {
namespace detail {
namespace {

constexpr std::size_t kMaxPemBytes = 16 * 1024;
constexpr std::size_t kMaxPooledContexts = 64;  // per key and direction: bounds memory, not threads
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;  // verifying with larger moduli is a cheap way to burn our CPU

void freeAll(std::vector<EVP_PKEY_CTX*>& pool) {
  for (EVP_PKEY_CTX* c : pool) EVP_PKEY_CTX_free(c);
  pool.clear();
}

std::string bnBytes(const BIGNUM* bn, int width) {
  std::string out(static_cast<std::size_t>(width > 0 ? width : BN_num_bytes(bn)), '\0');
  const int n = width > 0 ? BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width)
                          : BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  if (n < 0) return {};
  return out;
}

std::string bnParam(EVP_PKEY* pkey, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    ERR_clear_error();
    return {};
  }
  BnPtr bn(raw);
  return bnBytes(bn.get(), width);
}

bool isWhitespace(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (std::strchr(" \t\r\n", p[i]) == nullptr) return false;
  return true;
}

// Sets the algorithm parameters on a context just through EVP_PKEY_{sign,verify}_init.
bool configure(EVP_PKEY_CTX* ctx, Alg alg) {
  if (alg == Alg::EdDSA) return true;
  if (EVP_PKEY_CTX_set_signature_md(ctx, sha256Md()) != 1) return false;
  if (alg == Alg::PS256) {
    // RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash; an explicit salt length
    // also makes verification refuse signatures made with any other.
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256Md()) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) == 1;
  }
  return true;
}

}  // namespace

KeyState::~KeyState() {
  freeAll(signPool);
  freeAll(verifyPool);
  freeAhead(*this);
  EVP_PKEY_free(pkey);
}

Key KeyAccess::make(EVP_PKEY* pkey, Alg alg, bool hasPrivate) {
  Key key;
  key.state_ = std::make_shared<KeyState>(pkey);
  key.key_ = std::shared_ptr<EVP_PKEY>(key.state_, pkey);
  key.alg_ = alg;
  key.private_ = hasPrivate;
  return key;
}

std::optional<Alg> classify(EVP_PKEY* pkey, std::string& error) {
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
      error = sslFailure("EC key without a named curve");
      return std::nullopt;
    }
    if (std::strcmp(group, "prime256v1") != 0 && std::strcmp(group, "P-256") != 0) {
      error = std::string("EC curve ") + group + " is not supported (P-256 only)";
      return std::nullopt;
    }
    return Alg::ES256;
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) return Alg::EdDSA;
  if (EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "RSA-PSS")) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < kMinRsaBits) {
      error = "RSA key of " + std::to_string(bits) + " bits is too small (at least 2048)";
      return std::nullopt;
    }
    if (bits > kMaxRsaBits) {
      error = "RSA key of " + std::to_string(bits) + " bits is too large (at most 8192)";
      return std::nullopt;
    }
    return Alg::PS256;
  }
  error = std::string("unsupported key type ") + (EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
  return std::nullopt;
}

PooledCtx::PooledCtx(const Key& key, bool sign, std::string& error) : state_(KeyAccess::state(key)), sign_(sign) {
  {
    std::lock_guard lock(state_.mu);
    auto& pool = sign ? state_.signPool : state_.verifyPool;
    if (!pool.empty()) {
      ctx_ = pool.back();
      pool.pop_back();
      return;
    }
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, state_.pkey, nullptr));
  if (!ctx || (sign ? EVP_PKEY_sign_init(ctx.get()) : EVP_PKEY_verify_init(ctx.get())) != 1 ||
      !configure(ctx.get(), key.alg())) {
    error = sslFailure(sign ? "cannot initialise signing" : "cannot initialise verification");
    return;
  }
  ctx_ = ctx.release();
}

PooledCtx::~PooledCtx() {
  if (ctx_ == nullptr) return;
  {
    std::lock_guard lock(state_.mu);
    auto& pool = sign_ ? state_.signPool : state_.verifyPool;
    if (pool.size() < kMaxPooledContexts) {
      pool.push_back(ctx_);
      return;
    }
  }
  EVP_PKEY_CTX_free(ctx_);
}

void PooledCtx::discard() {
  EVP_PKEY_CTX_free(ctx_);
  ctx_ = nullptr;
}

}  // namespace detail

using detail::BioPtr;
using detail::PkeyPtr;

std::optional<Key> Key::generate(Alg alg, std::string& error) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::ES256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case Alg::EdDSA: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Alg::PS256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072)); break;
  }
  if (raw == nullptr) {
    error = detail::sslFailure("key generation failed");
    return std::nullopt;
  }
  return detail::KeyAccess::make(raw, alg, true);
}

std::optional<Key> Key::fromPem(std::string_view pem, std::string& error) {
  if (pem.size() > detail::kMaxPemBytes) {
    error = "PEM too large";
    return std::nullopt;
  }
  // PEM_read_bio skips any text before the BEGIN line; only whitespace may be there.
  const auto begin = pem.find("-----BEGIN ");
  if (begin == std::string_view::npos || !detail::isWhitespace(pem.data(), begin)) {
    error = "not a single PEM block";
    return std::nullopt;
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  // PEM_read_bio gives the label and the DER without guessing formats or asking a terminal for a
  // password, which PEM_read_bio_PrivateKey would do for an encrypted key.
  if (!bio || PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    error = detail::sslFailure("not a PEM block");
    return std::nullopt;
  }
  const std::string label = name;
  const bool headerEmpty = header[0] == '\0';
  OPENSSL_free(name);
  OPENSSL_free(header);
  struct DerFree {
    unsigned char* p;
    long n;
    ~DerFree() { OPENSSL_clear_free(p, static_cast<size_t>(n)); }
  } derGuard{data, len};

  char rest[256];
  int got = 0;
  while ((got = BIO_read(bio.get(), rest, sizeof rest)) > 0) {
    if (!detail::isWhitespace(rest, static_cast<std::size_t>(got))) {
      error = "unexpected data after the PEM block";
      return std::nullopt;
    }
  }
  if (!headerEmpty) {
    error = "encrypted or annotated PEM is not supported";
    return std::nullopt;
  }

  const unsigned char* p = data;
  PkeyPtr pkey;
  bool hasPrivate = false;
  if (label == "PRIVATE KEY") {
    PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, len);
    if (p8 != nullptr && p == data + len) pkey.reset(EVP_PKCS82PKEY(p8));
    PKCS8_PRIV_KEY_INFO_free(p8);
    hasPrivate = true;
  } else if (label == "PUBLIC KEY") {
    EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, len);
    if (k != nullptr && p != data + len) {
      EVP_PKEY_free(k);
      k = nullptr;
    }
    pkey.reset(k);
  } else {
    error = "PEM label \"" + detail::echo(label) + "\" is not supported (PRIVATE KEY or PUBLIC KEY)";
    return std::nullopt;
  }
  if (!pkey) {
    error = detail::sslFailure("malformed key in PEM");
    return std::nullopt;
  }
  auto alg = detail::classify(pkey.get(), error);
  if (!alg) return std::nullopt;
  detail::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  // Public keys: the EC point must be on the curve (RSA is checked by classify and at use).
  // Private keys: the private half must match the public one.
  const int ok = !check ? 0
                 : hasPrivate ? EVP_PKEY_pairwise_check(check.get())
                 : *alg == Alg::ES256 ? EVP_PKEY_public_check(check.get())
                                      : 1;
  if (ok != 1) {
    error = detail::sslFailure("key check failed");
    return std::nullopt;
  }
  return detail::KeyAccess::make(pkey.release(), *alg, hasPrivate);
}

std::string Key::privatePem() const {
  if (!private_) return {};
  // Secure-heap memory BIO: the PEM text of the key is cleansed when freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return n > 0 ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::string Key::publicPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return n > 0 ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

nlohmann::json Key::publicJwk() const {
  nlohmann::json jwk = nlohmann::json::object();
  EVP_PKEY* k = key_.get();
  switch (alg_) {
    case Alg::ES256:
      jwk["kty"] = "EC";
      jwk["crv"] = "P-256";
      jwk["x"] = b64urlEncode(detail::bnParam(k, OSSL_PKEY_PARAM_EC_PUB_X, 32));
      jwk["y"] = b64urlEncode(detail::bnParam(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
      break;
    case Alg::EdDSA: {
      unsigned char x[32];
      size_t len = sizeof x;
      if (EVP_PKEY_get_raw_public_key(k, x, &len) != 1 || len != 32) {
        ERR_clear_error();
        return nlohmann::json::object();
      }
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = b64urlEncode(std::string_view(reinterpret_cast<const char*>(x), len));
      break;
    }
    case Alg::PS256:
      jwk["kty"] = "RSA";
      jwk["n"] = b64urlEncode(detail::bnParam(k, OSSL_PKEY_PARAM_RSA_N, 0));
      jwk["e"] = b64urlEncode(detail::bnParam(k, OSSL_PKEY_PARAM_RSA_E, 0));
      break;
  }
  return jwk;
}

std::string Key::thumbprint() const {
  detail::KeyState& st = *state_;
  std::call_once(st.thumbprintOnce, [&] {
    // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace. Values are
    // base64url or fixed names, so no JSON escaping can occur.
    const nlohmann::json jwk = publicJwk();
    const char* const ec[] = {"crv", "kty", "x", "y"};
    const char* const okp[] = {"crv", "kty", "x"};
    const char* const rsa[] = {"e", "kty", "n"};
    const std::span<const char* const> names = alg_ == Alg::ES256   ? std::span<const char* const>(ec)
                                               : alg_ == Alg::EdDSA ? std::span<const char* const>(okp)
                                                                    : std::span<const char* const>(rsa);
    std::string canonical = "{";
    for (const char* name : names) {
      if (canonical.size() > 1) canonical += ',';
      canonical.append("\"").append(name).append("\":\"").append(jwk.value(name, std::string())).append("\"");
    }
    canonical += '}';
    st.thumbprint = b64urlEncode(sha256(canonical));
  });
  return st.thumbprint;
}

}  // namespace mandate::jose
