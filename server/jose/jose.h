#pragma once
// JOSE on OpenSSL EVP: strict base64url, keys (JWK / PEM), JWS compact sign and verify.
// Only ES256, EdDSA (Ed25519) and PS256 exist here: `none` and HS* cannot even be named, so an
// algorithm-confusion attack has nothing to confuse. Every function reports failure through its
// return value and an error string; nothing throws.
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

typedef struct evp_pkey_st EVP_PKEY;

namespace mandate::jose {

namespace detail {
struct KeyState;
struct KeyAccess;
}  // namespace detail

// RFC 4648 §5 without padding. Decoding is strict: only the url-safe alphabet, no '=' padding,
// no whitespace, length % 4 != 1, and the unused trailing bits must be zero (one encoding per
// byte string).
std::string b64urlEncode(std::string_view bytes);
bool b64urlDecode(std::string_view text, std::string& out);

enum class Alg { ES256, EdDSA, PS256 };
std::optional<Alg> algFromName(std::string_view name);  // exact, case-sensitive
const char* algName(Alg a);

// A public or private key. Copyable (shares the EVP_PKEY).
class Key {
 public:
  // EC P-256 for ES256, Ed25519 for EdDSA, RSA-3072 for PS256.
  static std::optional<Key> generate(Alg alg, std::string& error);
  // A public JWK (kty EC/crv P-256, OKP/crv Ed25519, RSA >= 2048 bits). Refuses private members
  // ("d", "p", ...), symmetric keys (kty oct), unknown kty/crv, points not on the curve, RSA
  // moduli that are even, padded or over 8192 bits. Optional members must agree with our use:
  // "alg" (if any) names this key's algorithm (so an RS256 JWK is refused), "use" is "sig",
  // "key_ops" includes "verify".
  static std::optional<Key> fromPublicJwk(const nlohmann::json& jwk, std::string& error);
  // A private JWK (EC P-256 with d, OKP Ed25519 with d, RSA with d, p, q, dp, dq, qi and no
  // "oth"): for keys kept as JWK and for the RFC test vectors. The private part must match the
  // public members (pairwise check), else it is refused.
  static std::optional<Key> fromPrivateJwk(const nlohmann::json& jwk, std::string& error);
  // PKCS#8 private key or SubjectPublicKeyInfo public key, PEM.
  static std::optional<Key> fromPem(std::string_view pem, std::string& error);

  Alg alg() const { return alg_; }      // the one algorithm this key is used with
  bool hasPrivate() const { return private_; }
  std::string privatePem() const;       // PKCS#8; empty for a public key
  std::string publicPem() const;
  nlohmann::json publicJwk() const;     // the required members only (kty, crv, x, y / n, e)
  std::string thumbprint() const;       // RFC 7638, SHA-256, base64url
  EVP_PKEY* evp() const { return key_.get(); }

  // ES256 private keys: computes, at most `batch` at a time, the message-independent part of
  // future signatures (the nonce k, k^-1 and r: ~95% of the cost) until the key (shared by its
  // copies) holds `target`. Each is used by exactly one later signature, then erased; a signature
  // with none left is computed whole, as always. For a thread that runs on idle CPU
  // (oauth::SignAhead). Returns how many it computed: 0 when the key holds `target` already, or
  // is not an ES256 private key.
  std::size_t precomputeSignatures(std::size_t target, std::size_t batch) const;
  std::size_t precomputedSignatures() const;

 private:
  friend struct detail::KeyAccess;
  Key() = default;
  // key_ aliases state_->pkey; the state also pools initialised EVP_PKEY_CTXs so that signing
  // and verifying do not fetch algorithms and build contexts on every call.
  std::shared_ptr<EVP_PKEY> key_;
  std::shared_ptr<detail::KeyState> state_;
  Alg alg_ = Alg::ES256;
  bool private_ = false;
};

// A parsed, not yet verified, compact JWS.
struct Jws {
  nlohmann::json header;   // a JSON object
  std::string payload;     // decoded bytes
  std::string signingInput;  // "<b64 header>.<b64 payload>"
  std::string signature;   // decoded bytes
};

// Strict parse: exactly three parts, strict base64url, header a JSON object (no duplicate member
// names, nesting <= 16) with a string "alg" naming one of the three algorithms, no "crit" (we
// understand no extension) and no "b64", a non-empty signature, size <= maxBytes. The payload is
// returned as bytes and need not be JSON. Embedded keys (jwk, jku, x5u, x5c) are left in `header`
// for the caller to read; verify never looks at them.
// `jws.signingInput` is what verify checks: pass verify only a Jws that parse produced.
std::optional<Jws> parse(std::string_view compact, std::string& error, std::size_t maxBytes = 16384);

// Verifies `jws` with `key`: header alg must be in `allowed` AND equal key.alg(); ES256
// signatures are 64-byte R||S (RFC 7518 §3.4), PS256 uses salt length 32 (= hash length).
bool verify(const Jws& jws, const Key& key, std::span<const Alg> allowed, std::string& error);

// Signs: header = {"alg": key.alg(), plus `extraHeader` members (typ, kid, ...)}.
std::optional<std::string> sign(const nlohmann::json& extraHeader, std::string_view payload, const Key& key,
                                std::string& error);

// The encoded header for `key`, computed once per key for signWithEncodedHeader:
// b64url({"alg": key.alg(), plus extraHeader members}) + ".". Refuses a non-object extraHeader,
// an "alg" member naming another algorithm, and "crit"/"b64" (tokens we would refuse ourselves).
std::optional<std::string> encodeHeader(const nlohmann::json& extraHeader, const Key& key, std::string& error);

// Fast path for the token endpoint: signs with a header already encoded once per key.
// signingInputPrefix = b64url(header) + "."; returns prefix + b64url(payload) + "." + b64url(sig).
// Only the prefix's shape is checked per call (base64url then '.'); make it with encodeHeader.
// Thread-safe; contexts are pooled per key, so reuse one Key rather than reloading it.
std::optional<std::string> signWithEncodedHeader(std::string_view encodedHeaderWithDot, std::string_view payload,
                                                 const Key& key, std::string& error);

// A JWK Set: {"keys":[...]}; members without a usable public key are reported as errors (the
// whole set is refused, naming the member), as are a repeated "kid" and more than 64 keys.
struct JwkEntry {
  std::string kid;  // may be empty
  Key key;
};
std::optional<std::vector<JwkEntry>> parseJwks(const nlohmann::json& jwks, std::string& error);

std::string sha256(std::string_view bytes);            // raw 32 bytes
std::string randomBytes(std::size_t n);                // CSPRNG (RAND_bytes); aborts never: empty on failure
// The same, for small draws on a hot path: from a per-thread buffer refilled by RAND_bytes 4 KiB
// at a time (OpenSSL takes two locks per call). Each byte is handed out once. Empty on failure
// (n > 0). Not for a process that forks.
std::string bufferedRandomBytes(std::size_t n);
bool constantTimeEqual(std::string_view a, std::string_view b);

}  // namespace mandate::jose
