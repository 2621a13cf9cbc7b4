// JWS compact serialization (RFC 7515 §7.1): strict parse, verify, sign.
#include <algorithm>

#include "jose/internal/ossl.h"
#include "jose/internal/signer.h"
#include "jose/internal/strict_json.h"
#include "jose/jose.h"

namespace mandate::jose {
namespace {

constexpr std::size_t kMaxEncodedHeader = 4096;
constexpr std::size_t kMaxSignPayload = 1 << 20;

// The checks on a header that parse and verify both apply.
bool checkHeader(const nlohmann::json& header, std::string& error) {
  if (!header.is_object()) {
    error = "JWS header is not a JSON object";
    return false;
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    error = "JWS header has no string \"alg\"";
    return false;
  }
  if (!algFromName(alg->get_ref<const std::string&>())) {
    error = "JWS algorithm \"" + detail::echo(alg->get_ref<const std::string&>()) + "\" is not supported";
    return false;
  }
  // RFC 7515 §4.1.11: an extension listed in crit must be understood; we implement none.
  if (header.contains("crit")) {
    error = "JWS header \"crit\" lists extensions this server does not implement";
    return false;
  }
  // RFC 7797 unencoded payloads change what is signed; not implemented, so not accepted.
  if (header.contains("b64")) {
    error = "JWS header \"b64\" is not supported";
    return false;
  }
  return true;
}

bool isB64urlText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

std::optional<Jws> parse(std::string_view compact, std::string& error, std::size_t maxBytes) {
  if (compact.size() > maxBytes) {
    error = "JWS larger than " + std::to_string(maxBytes) + " bytes";
    return std::nullopt;
  }
  const auto dot1 = compact.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos) {
    error = "JWS compact serialization must have exactly three parts";
    return std::nullopt;
  }
  const auto headerText = compact.substr(0, dot1);
  const auto payloadText = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signatureText = compact.substr(dot2 + 1);
  if (signatureText.empty()) {
    error = "JWS signature is empty";
    return std::nullopt;
  }
  Jws jws;
  std::string headerJson;
  if (!b64urlDecode(headerText, headerJson)) {
    error = "JWS header is not valid base64url";
    return std::nullopt;
  }
  std::string why;
  if (!detail::parseStrictObject(headerJson, jws.header, why)) {
    error = "JWS header: " + why;
    return std::nullopt;
  }
  if (!checkHeader(jws.header, error)) return std::nullopt;
  if (!b64urlDecode(payloadText, jws.payload)) {
    error = "JWS payload is not valid base64url";
    return std::nullopt;
  }
  if (!b64urlDecode(signatureText, jws.signature)) {
    error = "JWS signature is not valid base64url";
    return std::nullopt;
  }
  jws.signingInput.assign(compact.substr(0, dot2));
  return jws;
}

bool verify(const Jws& jws, const Key& key, std::span<const Alg> allowed, std::string& error) {
  if (!checkHeader(jws.header, error)) return false;
  const Alg alg = *algFromName(jws.header["alg"].get_ref<const std::string&>());
  if (std::find(allowed.begin(), allowed.end(), alg) == allowed.end()) {
    error = std::string("JWS algorithm ") + algName(alg) + " is not allowed here";
    return false;
  }
  // The key decides the algorithm, never the token: a header naming another algorithm than the
  // key's is refused before any cryptography runs.
  if (alg != key.alg()) {
    error = std::string("JWS algorithm ") + algName(alg) + " does not match the key (" + algName(key.alg()) + ")";
    return false;
  }
  return detail::rawVerify(key, jws.signingInput, jws.signature, error);
}

std::optional<std::string> encodeHeader(const nlohmann::json& extraHeader, const Key& key, std::string& error) {
  if (!extraHeader.is_null() && !extraHeader.is_object()) {
    error = "extra header is not a JSON object";
    return std::nullopt;
  }
  nlohmann::json header = extraHeader.is_object() ? extraHeader : nlohmann::json::object();
  if (auto alg = header.find("alg"); alg != header.end() && *alg != algName(key.alg())) {
    error = std::string("extra header \"alg\" conflicts with the key's algorithm ") + algName(key.alg());
    return std::nullopt;
  }
  if (header.contains("crit") || header.contains("b64")) {
    error = "extra header must not contain \"crit\" or \"b64\"";
    return std::nullopt;
  }
  header["alg"] = algName(key.alg());
  std::string text;
  try {
    text = header.dump();  // throws on invalid UTF-8 in a string
  } catch (const nlohmann::json::exception&) {
    error = "extra header contains invalid UTF-8";
    return std::nullopt;
  }
  std::string out = b64urlEncode(text);
  if (out.size() > kMaxEncodedHeader) {
    error = "JWS header too large";
    return std::nullopt;
  }
  out.push_back('.');
  return out;
}

std::optional<std::string> sign(const nlohmann::json& extraHeader, std::string_view payload, const Key& key,
                                std::string& error) {
  auto header = encodeHeader(extraHeader, key, error);
  if (!header) return std::nullopt;
  return signWithEncodedHeader(*header, payload, key, error);
}

std::optional<std::string> signWithEncodedHeader(std::string_view encodedHeaderWithDot, std::string_view payload,
                                                 const Key& key, std::string& error) {
  // Cheap shape checks only: the header was made by encodeHeader, once per key.
  if (encodedHeaderWithDot.size() < 2 || encodedHeaderWithDot.size() > kMaxEncodedHeader + 1 ||
      encodedHeaderWithDot.back() != '.' || !isB64urlText(encodedHeaderWithDot.substr(0, encodedHeaderWithDot.size() - 1))) {
    error = "encoded header must be base64url followed by '.'";
    return std::nullopt;
  }
  if (payload.size() > kMaxSignPayload) {
    error = "payload too large to sign";
    return std::nullopt;
  }
  std::string out;
  // Header, payload, dot and up to 1366 characters of signature (8192-bit RSA): one allocation.
  out.reserve(encodedHeaderWithDot.size() + (payload.size() + 2) / 3 * 4 + 1 + 1368);
  out.append(encodedHeaderWithDot);
  detail::b64urlAppend(out, payload);
  std::string signature;
  if (!detail::rawSign(key, out, signature, error)) return std::nullopt;
  out.push_back('.');
  detail::b64urlAppend(out, signature);
  return out;
}

}  // namespace mandate::jose
