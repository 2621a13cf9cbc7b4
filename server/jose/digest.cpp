// SHA-256, the CSPRNG, constant-time comparison, algorithm names and OpenSSL error text.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <climits>

#include "jose/internal/ossl.h"
#include "jose/jose.h"

namespace mandate::jose {

const EVP_MD* detail::sha256Md() {
  // Never freed: it lives as long as the process, like the default provider it comes from.
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

std::string detail::sslFailure(const char* what) {
  std::string out = what;
  const unsigned long code = ERR_peek_error();
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) {
      out += " (";
      out += reason;
      out += ")";
    }
  }
  ERR_clear_error();
  return out;
}

std::string detail::echo(std::string_view untrusted) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (char c : untrusted.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (untrusted.size() > kMax) out += "...";
  return out;
}

std::string sha256(std::string_view bytes) {
  // One context per thread, reinitialised per call: no allocation and no fetch per hash.
  thread_local detail::MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || detail::sha256Md() == nullptr || EVP_DigestInit_ex2(ctx.get(), detail::sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 || len != 32) {
    ERR_clear_error();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string randomBytes(std::size_t n) {
  if (n > static_cast<std::size_t>(INT_MAX)) return {};
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    ERR_clear_error();
    return {};
  }
  return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  // The length is not secret (it is the length of a public format); the content is.
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<Alg> algFromName(std::string_view name) {
  if (name == "ES256") return Alg::ES256;
  if (name == "EdDSA") return Alg::EdDSA;
  if (name == "PS256") return Alg::PS256;
  return std::nullopt;
}

const char* algName(Alg a) {
  switch (a) {
    case Alg::ES256: return "ES256";
    case Alg::EdDSA: return "EdDSA";
    case Alg::PS256: return "PS256";
  }
  return "";
}

}  // namespace mandate::jose
