// JWK import (RFC 7517 / 7518 §6 / 8037 §2) and JWK Sets. Keys come from clients (JWKS, DPoP
// proofs, private_key_jwt registrations), so every member is checked before OpenSSL sees it.
#include <openssl/core_names.h>
#include <openssl/err.h>

#include <cstring>
#include <set>

#include "jose/internal/key_state.h"
#include "jose/internal/ossl.h"

namespace mandate::jose {
namespace {

using nlohmann::json;
using detail::BnPtr;
using detail::ParamBldPtr;
using detail::ParamsPtr;
using detail::PkeyCtxPtr;
using detail::PkeyPtr;

constexpr std::size_t kMaxMemberChars = 1400;  // an 8192-bit modulus is 1366 characters
constexpr std::size_t kMaxJwksKeys = 64;

// Private members of every key type (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
constexpr const char* kPrivateMembers[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

struct Reader {
  const json& jwk;
  std::string& error;

  // A required base64url member, strictly decoded; `size` 0 accepts any non-empty length.
  bool bytes(const char* name, std::size_t size, std::string& out) {
    auto it = jwk.find(name);
    if (it == jwk.end() || !it->is_string()) {
      error = std::string("JWK member \"") + name + "\" missing or not a string";
      return false;
    }
    const auto& text = it->get_ref<const std::string&>();
    if (text.size() > kMaxMemberChars || !b64urlDecode(text, out) || out.empty()) {
      error = std::string("JWK member \"") + name + "\" is not valid base64url";
      return false;
    }
    if (size != 0 && out.size() != size) {
      error = std::string("JWK member \"") + name + "\" must be " + std::to_string(size) + " bytes";
      return false;
    }
    return true;
  }

  bool string(const char* name, std::string& out) {
    auto it = jwk.find(name);
    if (it == jwk.end() || !it->is_string()) {
      error = std::string("JWK member \"") + name + "\" missing or not a string";
      return false;
    }
    out = it->get<std::string>();
    return true;
  }
};

// A big-endian unsigned integer member (RFC 7518 §2 "Base64urlUInt": minimum length, so no
// leading zero byte).
bool uintMember(Reader& r, const char* name, BnPtr& out) {
  std::string raw;
  if (!r.bytes(name, 0, raw)) return false;
  if (raw.size() > 1 && raw[0] == '\0') {
    r.error = std::string("JWK member \"") + name + "\" has a leading zero byte";
    return false;
  }
  out.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()), nullptr));
  OPENSSL_cleanse(raw.data(), raw.size());
  if (!out) {
    r.error = "out of memory";
    return false;
  }
  return true;
}

// Members every JWK may carry that constrain its use: they must agree with what we do with it.
bool checkUse(const json& jwk, Alg alg, std::string& error) {
  if (auto it = jwk.find("alg"); it != jwk.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>() != algName(alg)) {
      error = std::string("JWK \"alg\" does not allow ") + algName(alg);
      return false;
    }
  }
  if (auto it = jwk.find("use"); it != jwk.end() && (!it->is_string() || it->get_ref<const std::string&>() != "sig")) {
    error = "JWK \"use\" is not \"sig\"";
    return false;
  }
  if (auto it = jwk.find("key_ops"); it != jwk.end()) {
    bool verifyAllowed = false;
    if (it->is_array())
      for (const auto& op : *it) verifyAllowed = verifyAllowed || (op.is_string() && op == "verify");
    if (!verifyAllowed) {
      error = "JWK \"key_ops\" does not allow \"verify\"";
      return false;
    }
  }
  return true;
}

PkeyPtr fromParams(const char* type, OSSL_PARAM_BLD* bld, bool priv, std::string& error) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    error = detail::sslFailure("invalid key");
    return nullptr;
  }
  return PkeyPtr(raw);
}

bool check(EVP_PKEY* pkey, bool pairwise, std::string& error) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  const int ok = !ctx ? 0 : pairwise ? EVP_PKEY_pairwise_check(ctx.get()) : EVP_PKEY_public_check(ctx.get());
  if (ok != 1) {
    error = detail::sslFailure(pairwise ? "private key does not match the public key" : "invalid public key");
    return false;
  }
  return true;
}

PkeyPtr ecKey(Reader& r, bool priv) {
  std::string crv, x, y;
  if (!r.string("crv", crv)) return nullptr;
  if (crv != "P-256") {
    r.error = "EC curve \"" + detail::echo(crv) + "\" is not supported (P-256 only)";
    return nullptr;
  }
  // RFC 7518 §6.2.1.2: coordinates are the full 32 bytes of the field size.
  if (!r.bytes("x", 32, x) || !r.bytes("y", 32, y)) return nullptr;
  const std::string point = "\x04" + x + y;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  BnPtr d;
  if (priv) {
    std::string dRaw;
    if (!r.bytes("d", 32, dRaw)) return nullptr;
    d.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(dRaw.data()), 32, nullptr));
    OPENSSL_cleanse(dRaw.data(), dRaw.size());
  }
  if (!bld || (priv && !d) ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1 ||
      (priv && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1)) {
    r.error = detail::sslFailure("cannot build EC key");
    return nullptr;
  }
  PkeyPtr pkey = fromParams("EC", bld.get(), priv, r.error);
  // The point must be on the curve (invalid-curve attacks leak a private key through ECDH-like
  // oracles; for signatures an off-curve key is simply not a key).
  if (!pkey || !check(pkey.get(), false, r.error) || (priv && !check(pkey.get(), true, r.error))) return nullptr;
  return pkey;
}

PkeyPtr okpKey(Reader& r, bool priv) {
  std::string crv, x;
  if (!r.string("crv", crv)) return nullptr;
  if (crv != "Ed25519") {
    r.error = "OKP curve \"" + detail::echo(crv) + "\" is not supported (Ed25519 only)";
    return nullptr;
  }
  if (!r.bytes("x", 32, x)) return nullptr;
  const auto* xp = reinterpret_cast<const unsigned char*>(x.data());
  if (!priv) {
    PkeyPtr pkey(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, xp, 32));
    if (!pkey) r.error = detail::sslFailure("invalid Ed25519 public key");
    return pkey;
  }
  std::string d;
  if (!r.bytes("d", 32, d)) return nullptr;
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key_ex(nullptr, "ED25519", nullptr,
                                               reinterpret_cast<const unsigned char*>(d.data()), 32));
  OPENSSL_cleanse(d.data(), d.size());
  unsigned char derived[32];
  size_t len = sizeof derived;
  if (!pkey || EVP_PKEY_get_raw_public_key(pkey.get(), derived, &len) != 1 || len != 32) {
    r.error = detail::sslFailure("invalid Ed25519 private key");
    return nullptr;
  }
  if (std::memcmp(derived, xp, 32) != 0) {
    r.error = "private key does not match the public key";
    return nullptr;
  }
  return pkey;
}

PkeyPtr rsaKey(Reader& r, bool priv) {
  BnPtr n, e;
  if (!uintMember(r, "n", n) || !uintMember(r, "e", e)) return nullptr;
  // Cheap structural checks here; EVP_PKEY_public_check would also run a Miller-Rabin test on n,
  // milliseconds per key, which an attacker sending DPoP proofs could make us pay per request.
  if (!BN_is_odd(n.get()) || BN_num_bits(n.get()) < 2048) {
    r.error = "RSA modulus must be odd and at least 2048 bits";
    return nullptr;
  }
  if (!BN_is_odd(e.get()) || BN_is_one(e.get()) || BN_num_bytes(e.get()) > 8) {
    r.error = "RSA public exponent must be odd, greater than 1 and at most 64 bits";
    return nullptr;
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    r.error = detail::sslFailure("cannot build RSA key");
    return nullptr;
  }
  BnPtr d, p, q, dp, dq, qi;
  if (priv) {
    if (r.jwk.contains("oth")) {
      r.error = "multi-prime RSA keys (\"oth\") are not supported";
      return nullptr;
    }
    if (!uintMember(r, "d", d) || !uintMember(r, "p", p) || !uintMember(r, "q", q) || !uintMember(r, "dp", dp) ||
        !uintMember(r, "dq", dq) || !uintMember(r, "qi", qi))
      return nullptr;
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi.get()) != 1) {
      r.error = detail::sslFailure("cannot build RSA key");
      return nullptr;
    }
  }
  PkeyPtr pkey = fromParams("RSA", bld.get(), priv, r.error);
  if (!pkey || (priv && !check(pkey.get(), true, r.error))) return nullptr;
  return pkey;
}

std::optional<Key> importJwk(const json& jwk, bool priv, std::string& error) {
  if (!jwk.is_object()) {
    error = "JWK is not a JSON object";
    return std::nullopt;
  }
  Reader r{jwk, error};
  std::string kty;
  if (!r.string("kty", kty)) return std::nullopt;
  if (!priv) {
    for (const char* m : kPrivateMembers) {
      if (jwk.contains(m)) {
        error = std::string("JWK carries private member \"") + m + "\": refused where a public key is expected";
        return std::nullopt;
      }
    }
  }
  PkeyPtr pkey;
  if (kty == "EC") {
    pkey = ecKey(r, priv);
  } else if (kty == "OKP") {
    pkey = okpKey(r, priv);
  } else if (kty == "RSA") {
    pkey = rsaKey(r, priv);
  } else if (kty == "oct") {
    error = "symmetric JWK (kty \"oct\") refused: only asymmetric keys are used";
    return std::nullopt;
  } else {
    error = "unsupported JWK kty \"" + detail::echo(kty) + "\"";
    return std::nullopt;
  }
  if (!pkey) return std::nullopt;
  auto alg = detail::classify(pkey.get(), error);
  if (!alg || !checkUse(jwk, *alg, error)) return std::nullopt;
  return detail::KeyAccess::make(pkey.release(), *alg, priv);
}

}  // namespace

std::optional<Key> Key::fromPublicJwk(const nlohmann::json& jwk, std::string& error) {
  return importJwk(jwk, false, error);
}

std::optional<Key> Key::fromPrivateJwk(const nlohmann::json& jwk, std::string& error) {
  return importJwk(jwk, true, error);
}

std::optional<std::vector<JwkEntry>> parseJwks(const nlohmann::json& jwks, std::string& error) {
  if (!jwks.is_object()) {
    error = "JWK Set is not a JSON object";
    return std::nullopt;
  }
  auto keys = jwks.find("keys");
  if (keys == jwks.end() || !keys->is_array()) {
    error = "JWK Set has no \"keys\" array";
    return std::nullopt;
  }
  if (keys->size() > kMaxJwksKeys) {
    error = "JWK Set has more than " + std::to_string(kMaxJwksKeys) + " keys";
    return std::nullopt;
  }
  std::vector<JwkEntry> out;
  std::set<std::string> kids;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const json& member = (*keys)[i];
    std::string why;
    auto key = Key::fromPublicJwk(member, why);
    if (!key) {
      error = "keys[" + std::to_string(i) + "]: " + why;
      return std::nullopt;
    }
    std::string kid;
    if (auto it = member.find("kid"); it != member.end()) {
      if (!it->is_string()) {
        error = "keys[" + std::to_string(i) + "]: \"kid\" is not a string";
        return std::nullopt;
      }
      kid = it->get<std::string>();
    }
    // Two keys under one kid would make key selection depend on order.
    if (!kid.empty() && !kids.insert(kid).second) {
      error = "keys[" + std::to_string(i) + "]: duplicate kid \"" + detail::echo(kid) + "\"";
      return std::nullopt;
    }
    out.push_back(JwkEntry{std::move(kid), std::move(*key)});
  }
  return out;
}

}  // namespace mandate::jose
