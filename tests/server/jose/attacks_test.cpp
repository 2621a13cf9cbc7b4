// Tokens built by an attacker: each must be refused by parse or verify, and where the forgery
// would verify under a lax library the test says so.
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "support.h"

using namespace mandate::jose;
using namespace jose_test;

namespace {

const std::string kClaims = R"({"iss":"attacker","sub":"victim","aud":"https://auth.venue.example"})";

std::string hmacSha256(const std::string& secret, const std::string& data) {
  unsigned char out[32];
  size_t len = 0;
  REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                    reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out, &len) != nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// An ECDSA signature as OpenSSL makes it: DER, not the JWS R||S form.
std::string derEcdsa(const Key& key, const std::string& input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[80];
  size_t len = sizeof sig;
  REQUIRE(EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key.evp(), nullptr) == 1);
  REQUIRE(EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<const char*>(sig), len);
}

std::string pssSignature(const Key& key, const std::string& input, int saltLen) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  unsigned char sig[512];
  size_t len = sizeof sig;
  REQUIRE(EVP_DigestSignInit_ex(ctx, &pctx, "SHA256", nullptr, nullptr, key.evp(), nullptr) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltLen) == 1);
  REQUIRE(EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<const char*>(sig), len);
}

std::string validToken(const Key& key, const nlohmann::json& extra = nlohmann::json::object()) {
  std::string error;
  auto t = sign(extra, kClaims, key, error);
  REQUIRE_MESSAGE(t.has_value(), error);
  return *t;
}

// Replaces the part `index` (0 header, 1 payload, 2 signature) of a compact token.
std::string withPart(const std::string& token, int index, const std::string& text) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  std::string parts[3] = {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1)};
  parts[index] = text;
  return parts[0] + "." + parts[1] + "." + parts[2];
}

std::string partOf(const std::string& token, int index) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  return index == 0 ? token.substr(0, d1) : index == 1 ? token.substr(d1 + 1, d2 - d1 - 1) : token.substr(d2 + 1);
}

}  // namespace

TEST_SUITE("jose attacks") {
  TEST_CASE("alg none with an empty signature, and none with any signature") {
    const Key victim = generated(Alg::ES256);
    const std::string input = signingInput(R"({"alg":"none"})", kClaims);
    std::string error;
    CHECK_FALSE(parse(input + ".", error).has_value());
    CHECK_FALSE(parse(withSignature(input, "x"), error).has_value());
    CHECK_FALSE(accepts(input + ".", victim, kAll));
    // Even a Jws put together by hand is refused by verify on its own.
    Jws forged{{{"alg", "none"}}, kClaims, input, ""};
    CHECK_FALSE(verify(forged, victim, std::vector<Alg>(kAll), error));
  }

  TEST_CASE("HS256 signed with the public key's bytes as the HMAC secret") {
    for (Alg alg : kAll) {
      const Key victim = generated(alg);
      const std::string input = signingInput(R"({"alg":"HS256"})", kClaims);
      for (const std::string& secret : {victim.publicPem(), victim.publicJwk().dump(), victim.thumbprint()}) {
        const std::string token = withSignature(input, hmacSha256(secret, input));
        std::string error;
        CHECK_FALSE(parse(token, error).has_value());
        CHECK(error.find("not supported") != std::string::npos);
        CHECK_FALSE(accepts(token, victim, kAll));
        Jws forged{{{"alg", "HS256"}}, kClaims, input, hmacSha256(secret, input)};
        CHECK_FALSE(verify(forged, victim, std::vector<Alg>(kAll), error));
      }
    }
  }

  TEST_CASE("a jwk / jku / x5u / x5c header carrying the attacker's key does not pick the key") {
    const Key victim = generated(Alg::ES256);
    const Key attacker = generated(Alg::ES256);
    const nlohmann::json embedded[] = {
        {{"jwk", attacker.publicJwk()}},
        {{"jku", "https://attacker.example/jwks.json"}},
        {{"x5u", "https://attacker.example/cert.pem"}},
        {{"x5c", nlohmann::json::array({"MIIB"})}},
    };
    for (const auto& extra : embedded) {
      CAPTURE(extra.dump());
      const std::string token = validToken(attacker, extra);
      // The token is genuine for the attacker's key (so a library that trusted the header would
      // accept it) but never for the victim's key, which is the only one verify uses.
      CHECK(accepts(token, attacker, {Alg::ES256}));
      std::string why;
      CHECK_FALSE(accepts(token, victim, {Alg::ES256}, &why));
      CHECK(why.find("does not verify") != std::string::npos);
      // Headers naming keys are ignored, not refused: the victim's own tokens still verify.
      CHECK(accepts(validToken(victim, extra), victim, {Alg::ES256}));
    }
  }

  TEST_CASE("the header's alg must be the key's alg and in the allowed list") {
    const Key victim = generated(Alg::ES256);
    const Key ed = generated(Alg::EdDSA);
    // Signed with an Ed25519 key, presented for the ES256 key.
    const std::string token = validToken(ed);
    std::string why;
    CHECK_FALSE(accepts(token, victim, kAll, &why));
    CHECK(why.find("does not match the key") != std::string::npos);
    // A valid ES256 token is refused where only EdDSA is allowed.
    CHECK_FALSE(accepts(validToken(victim), victim, {Alg::EdDSA}, &why));
    CHECK(why.find("not allowed") != std::string::npos);
    CHECK_FALSE(accepts(validToken(victim), victim, {}, &why));
    // Case and near-miss names are unknown algorithms.
    for (const char* name : {"es256", "ES256 ", "ES384", "ES512", "RS256", "PS384", "Ed25519", "EDDSA", ""}) {
      const std::string input = signingInput(nlohmann::json{{"alg", name}}.dump(), kClaims);
      std::string error;
      CHECK_FALSE(parse(withSignature(input, std::string(64, 'a')), error).has_value());
    }
    // What the attacker wrote is echoed in the error only bounded and without control characters
    // (errors get logged).
    std::string error;
    const std::string hostile = "x\n2026-11-26 INFO login ok user=admin" + std::string(5000, 'A');
    CHECK_FALSE(parse(withSignature(signingInput(nlohmann::json{{"alg", hostile}}.dump(), kClaims), "sig"), error));
    CHECK(error.find('\n') == std::string::npos);
    CHECK(error.size() < 120);
    // alg must be a string.
    CHECK_FALSE(parse(withSignature(signingInput(R"({"alg":["ES256"]})", kClaims), "sig"), error).has_value());
    CHECK_FALSE(parse(withSignature(signingInput(R"({"typ":"JWT"})", kClaims), "sig"), error).has_value());
  }

  TEST_CASE("empty, truncated, extended and DER signatures") {
    for (Alg alg : kAll) {
      CAPTURE(algName(alg));
      const Key key = generated(alg);
      const std::string token = validToken(key);
      REQUIRE(accepts(token, key, {alg}));
      std::string sig;
      REQUIRE(b64urlDecode(partOf(token, 2), sig));
      CHECK_FALSE(accepts(withPart(token, 2, ""), key, {alg}));
      std::string error;
      CHECK_FALSE(parse(withPart(token, 2, ""), error).has_value());  // refused before any key is involved
      CHECK(error.find("empty") != std::string::npos);
      CHECK_FALSE(accepts(withPart(token, 2, b64urlEncode(sig.substr(0, sig.size() - 1))), key, {alg}));
      CHECK_FALSE(accepts(withPart(token, 2, b64urlEncode(sig + '\0')), key, {alg}));
      CHECK_FALSE(accepts(withPart(token, 2, b64urlEncode('\0' + sig)), key, {alg}));
      CHECK_FALSE(accepts(withPart(token, 2, b64urlEncode(std::string(sig.size(), '\0'))), key, {alg}));
    }
    const Key ec = generated(Alg::ES256);
    const std::string input = signingInput(R"({"alg":"ES256"})", kClaims);
    const std::string der = derEcdsa(ec, input);
    std::string why;
    CHECK_FALSE(accepts(withSignature(input, der), ec, {Alg::ES256}, &why));
    CHECK(why.find("64 bytes") != std::string::npos);
  }

  TEST_CASE("PS256 with another salt length or PKCS#1 v1.5 padding is refused") {
    const Key rsa = generated(Alg::PS256);
    const std::string input = signingInput(R"({"alg":"PS256"})", kClaims);
    CHECK(accepts(withSignature(input, pssSignature(rsa, input, 32)), rsa, {Alg::PS256}));
    CHECK_FALSE(accepts(withSignature(input, pssSignature(rsa, input, 20)), rsa, {Alg::PS256}));
    CHECK_FALSE(accepts(withSignature(input, pssSignature(rsa, input, RSA_PSS_SALTLEN_MAX)), rsa, {Alg::PS256}));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t len = sizeof sig;
    REQUIRE(EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, rsa.evp(), nullptr) == 1);
    REQUIRE(EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
    EVP_MD_CTX_free(ctx);
    CHECK_FALSE(accepts(withSignature(input, std::string(reinterpret_cast<char*>(sig), len)), rsa, {Alg::PS256}));
  }

  TEST_CASE("base64url variants of a valid token are refused") {
    const auto v = vector("rfc7515_a3.json");
    const std::string token = v["jws"].get<std::string>();
    nlohmann::json pub = v["jwk"];
    pub.erase("d");
    const Key key = publicKeyOf(pub);
    REQUIRE(accepts(token, key, {Alg::ES256}));
    const std::string sig = partOf(token, 2);  // 86 characters, contains '-'
    REQUIRE(sig.find('-') != std::string::npos);
    std::string plusSlash = sig;
    for (char& c : plusSlash) c = c == '-' ? '+' : c == '_' ? '/' : c;
    // The last character of 64 bytes carries 4 unused bits: 'Q' (010000) and 'R' (010001) would
    // decode to the same byte in a lax decoder.
    REQUIRE(sig.back() == 'Q');
    std::string trailing = sig;
    trailing.back() = 'R';
    for (const std::string& bad : {sig + "==", sig + "=", plusSlash, trailing, " " + sig, sig + "\n",
                                   sig.substr(0, 40) + " " + sig.substr(40), sig.substr(0, 40) + "\r\n" + sig.substr(40),
                                   sig + "A" /* length % 4 == 3 but different bytes */}) {
      CAPTURE(bad);
      CHECK_FALSE(accepts(withPart(token, 2, bad), key, {Alg::ES256}));
    }
    for (int part : {0, 1}) {
      CHECK_FALSE(accepts(withPart(token, part, partOf(token, part) + "="), key, {Alg::ES256}));
      CHECK_FALSE(accepts(withPart(token, part, std::string(" ").append(partOf(token, part))), key, {Alg::ES256}));
    }
  }

  TEST_CASE("wrong number of parts") {
    const Key key = generated(Alg::EdDSA);
    const std::string token = validToken(key);
    std::string error;
    CHECK(parse(token, error).has_value());
    CHECK_FALSE(parse(token + "." + partOf(token, 2), error).has_value());          // 4 parts
    CHECK_FALSE(parse(token + ".a.b", error).has_value());                          // 5 parts, a JWE shape
    CHECK_FALSE(parse(partOf(token, 0) + "." + partOf(token, 1), error).has_value());  // 2 parts
    CHECK_FALSE(parse(partOf(token, 0), error).has_value());
    CHECK_FALSE(parse("", error).has_value());
    CHECK_FALSE(parse("..", error).has_value());
    CHECK_FALSE(parse(std::string(".").append(partOf(token, 1)).append(".").append(partOf(token, 2)), error).has_value());
  }

  TEST_CASE("header not an object, not JSON, duplicate members, crit, b64") {
    for (const char* header : {R"(["ES256"])", R"("ES256")", "123", "null", R"({"alg":"ES256")", R"({"alg":"ES256"} x)",
                               "{'alg':'ES256'}", R"({"alg":"ES256",})", R"({"alg":"ES256"}{})",
                               // nlohmann would keep the last value of a duplicate member: refuse both orders
                               R"({"alg":"ES256","alg":"none"})", R"({"alg":"none","alg":"ES256"})",
                               R"({"alg":"ES256","kid":"a","kid":"b"})",
                               R"({"alg":"ES256","jwk":{"kty":"EC","kty":"oct"}})",
                               R"({"alg":"ES256","crit":["exp"],"exp":1})", R"({"alg":"ES256","crit":[]})",
                               R"({"alg":"ES256","b64":false,"crit":["b64"]})", R"({"alg":"ES256","b64":true})",
                               "{\"alg\":\"ES256\",\"kid\":\"\xff\"}" /* invalid UTF-8 */}) {
      CAPTURE(header);
      // parse checks no signature, so these refusals come from the header alone.
      std::string error;
      CHECK_FALSE(parse(withSignature(signingInput(header, kClaims), std::string(64, 'x')), error).has_value());
      CHECK_FALSE(error.empty());
    }
    // The same shape with a clean header parses: the cases above fail for their defect only.
    std::string ok;
    CHECK(parse(withSignature(signingInput(R"({"alg":"ES256","kid":"a"})", kClaims), std::string(64, 'x')), ok).has_value());
    // Nesting is bounded.
    std::string deep = R"({"alg":"ES256","x":)";
    for (int i = 0; i < 40; ++i) deep += "[";
    for (int i = 0; i < 40; ++i) deep += "]";
    deep += "}";
    std::string error;
    CHECK_FALSE(parse(withSignature(signingInput(deep, kClaims), "sig"), error).has_value());
    CHECK(error.find("deep") != std::string::npos);
  }

  TEST_CASE("size limits") {
    const Key key = generated(Alg::ES256);
    std::string error;
    const std::string big(20000, 'a');
    auto token = sign(nlohmann::json::object(), big, key, error);
    REQUIRE(token.has_value());
    CHECK_FALSE(parse(*token, error).has_value());  // default limit 16384
    CHECK(error.find("larger") != std::string::npos);
    CHECK(parse(*token, error, token->size()).has_value());
    CHECK_FALSE(parse(*token, error, token->size() - 1).has_value());
    // Sign refuses absurd inputs rather than allocating for them.
    CHECK_FALSE(sign(nlohmann::json::object(), std::string(2 << 20, 'a'), key, error).has_value());
    CHECK_FALSE(sign({{"kid", std::string(5000, 'k')}}, "x", key, error).has_value());
  }

  TEST_CASE("signing needs a private key and a well-formed encoded header") {
    const Key priv = generated(Alg::ES256);
    std::string error;
    auto pub = Key::fromPublicJwk(priv.publicJwk(), error);
    REQUIRE(pub.has_value());
    CHECK_FALSE(sign(nlohmann::json::object(), "x", *pub, error).has_value());
    auto header = encodeHeader(nlohmann::json::object(), priv, error);
    REQUIRE(header.has_value());
    CHECK(signWithEncodedHeader(*header, "x", priv, error).has_value());
    CHECK_FALSE(signWithEncodedHeader(*header, "x", *pub, error).has_value());
    for (const std::string& bad : {std::string(), std::string("."), header->substr(0, header->size() - 1),
                                   "a." + *header, std::string("eyJ=."), std::string("eyJ hbGc.")}) {
      CAPTURE(bad);
      CHECK_FALSE(signWithEncodedHeader(bad, "x", priv, error).has_value());
    }
    // extra headers cannot change the algorithm or smuggle crit.
    CHECK_FALSE(encodeHeader({{"alg", "none"}}, priv, error).has_value());
    CHECK_FALSE(encodeHeader({{"alg", "EdDSA"}}, priv, error).has_value());
    CHECK(encodeHeader({{"alg", "ES256"}}, priv, error).has_value());
    CHECK_FALSE(encodeHeader({{"crit", {"exp"}}}, priv, error).has_value());
    CHECK_FALSE(encodeHeader(nlohmann::json::array(), priv, error).has_value());
    CHECK_FALSE(encodeHeader({{"kid", "\xff"}}, priv, error).has_value());
  }
}
