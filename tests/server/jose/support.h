#pragma once
// Helpers shared by the JOSE tests: the RFC vectors on disk, and forging tokens the way an
// attacker would (any header, any signature bytes) without going through the library's signer.
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "jose/jose.h"

namespace jose_test {

inline nlohmann::json vector(const std::string& name) {
  std::ifstream in(std::string(MANDATE_SOURCE_DIR) + "/tests/server/jose/vectors/" + name);
  REQUIRE_MESSAGE(in.good(), "missing vector file " << name);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

inline mandate::jose::Key privateKeyOf(const nlohmann::json& jwk) {
  std::string error;
  auto key = mandate::jose::Key::fromPrivateJwk(jwk, error);
  REQUIRE_MESSAGE(key.has_value(), error);
  return *key;
}

inline mandate::jose::Key publicKeyOf(const nlohmann::json& jwk) {
  std::string error;
  auto key = mandate::jose::Key::fromPublicJwk(jwk, error);
  REQUIRE_MESSAGE(key.has_value(), error);
  return *key;
}

inline mandate::jose::Key generated(mandate::jose::Alg alg) {
  std::string error;
  auto key = mandate::jose::Key::generate(alg, error);
  REQUIRE_MESSAGE(key.has_value(), error);
  return *key;
}

// "<b64 header>.<b64 payload>": the signing input of a token with this exact header text.
inline std::string signingInput(const std::string& headerJson, const std::string& payload) {
  return mandate::jose::b64urlEncode(headerJson) + "." + mandate::jose::b64urlEncode(payload);
}

inline std::string withSignature(const std::string& input, const std::string& signature) {
  return input + "." + mandate::jose::b64urlEncode(signature);
}

// parse + verify, the way a caller uses them; false whichever step refuses.
inline bool accepts(const std::string& compact, const mandate::jose::Key& key,
                    std::initializer_list<mandate::jose::Alg> allowed, std::string* why = nullptr) {
  std::string error;
  auto jws = mandate::jose::parse(compact, error);
  const std::vector<mandate::jose::Alg> algs(allowed);
  const bool ok = jws.has_value() && mandate::jose::verify(*jws, key, algs, error);
  if (why != nullptr) *why = error;
  return ok;
}

inline const std::initializer_list<mandate::jose::Alg> kAll = {mandate::jose::Alg::ES256, mandate::jose::Alg::EdDSA,
                                                               mandate::jose::Alg::PS256};

}  // namespace jose_test
