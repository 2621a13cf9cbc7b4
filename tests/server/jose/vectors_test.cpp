// Known answers from the RFCs (files under vectors/, each naming its section).
#include "support.h"

using namespace mandate::jose;
using namespace jose_test;

TEST_SUITE("jose vectors") {
  TEST_CASE("RFC 7515 A.3: the ES256 example verifies with the example key") {
    const auto v = vector("rfc7515_a3.json");
    nlohmann::json pub = v["jwk"];
    pub.erase("d");
    const Key key = publicKeyOf(pub);
    CHECK(key.alg() == Alg::ES256);
    CHECK_FALSE(key.hasPrivate());

    std::string error;
    auto jws = parse(v["jws"].get<std::string>(), error);
    REQUIRE_MESSAGE(jws.has_value(), error);
    CHECK(jws->header == nlohmann::json{{"alg", "ES256"}});
    CHECK(jws->payload == v["payload"].get<std::string>());
    CHECK(jws->signature.size() == 64);
    const Alg es256[] = {Alg::ES256};
    CHECK_MESSAGE(verify(*jws, key, es256, error), error);

    // One flipped bit anywhere in the signed bytes and it no longer verifies.
    Jws tampered = *jws;
    tampered.signingInput[tampered.signingInput.size() - 1] ^= 1;
    CHECK_FALSE(verify(tampered, key, es256, error));
    tampered = *jws;
    tampered.signature[10] ^= 1;
    CHECK_FALSE(verify(tampered, key, es256, error));

    // The private half of A.3.1 is the same key: it signs, the public half verifies.
    const Key priv = privateKeyOf(v["jwk"]);
    CHECK(priv.thumbprint() == key.thumbprint());
    auto token = sign({{"typ", "JWT"}}, "hello", priv, error);
    REQUIRE_MESSAGE(token.has_value(), error);
    CHECK(accepts(*token, key, {Alg::ES256}));
  }

  TEST_CASE("RFC 8037 A.1-A.5: Ed25519 key, thumbprint, deterministic signature, verification") {
    const auto v = vector("rfc8037_a.json");
    const Key priv = privateKeyOf(v["private_jwk"]);  // A.1
    const Key pub = publicKeyOf(v["public_jwk"]);     // A.2
    CHECK(priv.alg() == Alg::EdDSA);
    CHECK(priv.publicJwk() == v["public_jwk"]);       // A.2 is the public part of A.1
    CHECK(pub.publicJwk() == v["public_jwk"]);
    CHECK(pub.thumbprint() == v["thumbprint"].get<std::string>());  // A.3
    CHECK(priv.thumbprint() == v["thumbprint"].get<std::string>());

    // A.4: Ed25519 is deterministic, so signing must reproduce the RFC's token byte for byte.
    std::string error;
    auto token = sign(nlohmann::json::object(), v["payload"].get<std::string>(), priv, error);
    REQUIRE_MESSAGE(token.has_value(), error);
    CHECK(*token == v["jws"].get<std::string>());
    auto header = encodeHeader(nullptr, priv, error);
    REQUIRE(header.has_value());
    CHECK(*header == b64urlEncode(v["header"].get<std::string>()) + ".");
    auto fast = signWithEncodedHeader(*header, v["payload"].get<std::string>(), priv, error);
    REQUIRE(fast.has_value());
    CHECK(*fast == v["jws"].get<std::string>());

    // A.5: it verifies; its payload is a sentence, not JSON, and parse does not mind.
    auto jws = parse(v["jws"].get<std::string>(), error);
    REQUIRE_MESSAGE(jws.has_value(), error);
    CHECK(jws->payload == v["payload"].get<std::string>());
    const Alg eddsa[] = {Alg::EdDSA};
    CHECK_MESSAGE(verify(*jws, pub, eddsa, error), error);
    Jws tampered = *jws;
    tampered.signingInput.back() ^= 1;
    CHECK_FALSE(verify(tampered, pub, eddsa, error));
  }

  TEST_CASE("RFC 7638 3.1: thumbprint of the RSA example key") {
    const auto v = vector("rfc7638_3_1.json");
    std::string error;
    // As printed, the key says "alg":"RS256": it may not be used for PS256, so it is refused...
    CHECK_FALSE(Key::fromPublicJwk(v["jwk"], error).has_value());
    CHECK(error.find("alg") != std::string::npos);
    // ...and without that member it loads; optional members do not change the thumbprint.
    nlohmann::json jwk = v["jwk"];
    jwk.erase("alg");
    const Key key = publicKeyOf(jwk);
    CHECK(key.alg() == Alg::PS256);
    CHECK(key.thumbprint() == v["thumbprint"].get<std::string>());
    CHECK(key.publicJwk() == nlohmann::json{{"kty", "RSA"}, {"n", jwk["n"]}, {"e", "AQAB"}});
  }

  TEST_CASE("RFC 7520 3.4 key: PS256 sign and verify round trip, wrong key refused") {
    const auto v = vector("rfc7520.json");
    const Key priv = privateKeyOf(v["rsa_private_jwk"]);
    CHECK(priv.alg() == Alg::PS256);
    CHECK(priv.hasPrivate());
    nlohmann::json pubJwk = priv.publicJwk();
    CHECK(pubJwk["n"] == v["rsa_private_jwk"]["n"]);
    const Key pub = publicKeyOf(pubJwk);

    std::string payload;
    REQUIRE(b64urlDecode(v["payload_b64"].get<std::string>(), payload));
    std::string error;
    auto token = sign({{"kid", "bilbo.baggins@hobbiton.example"}}, payload, priv, error);
    REQUIRE_MESSAGE(token.has_value(), error);
    auto jws = parse(*token, error);
    REQUIRE(jws.has_value());
    CHECK(jws->header["alg"] == "PS256");
    CHECK(jws->signature.size() == 256);
    CHECK(jws->payload == payload);
    CHECK(accepts(*token, pub, {Alg::PS256}));
    // PSS is randomised: a second signature differs and verifies too.
    auto again = sign({{"kid", "bilbo.baggins@hobbiton.example"}}, payload, priv, error);
    REQUIRE(again.has_value());
    CHECK(*again != *token);
    CHECK(accepts(*again, pub, {Alg::PS256}));
    CHECK_FALSE(accepts(*token, generated(Alg::PS256), {Alg::PS256}));
  }

  TEST_CASE("RFC 7520 4.1 (RS256) and 4.2 (PS384) are refused: neither algorithm is allowed") {
    const auto v = vector("rfc7520.json");
    nlohmann::json pubJwk = v["rsa_private_jwk"];
    for (const char* m : {"d", "p", "q", "dp", "dq", "qi"}) pubJwk.erase(m);
    const Key pub = publicKeyOf(pubJwk);
    for (const char* name : {"rs256_jws", "ps384_jws"}) {
      CAPTURE(name);
      std::string error;
      CHECK_FALSE(parse(v[name].get<std::string>(), error).has_value());
      CHECK(error.find("not supported") != std::string::npos);
      CHECK_FALSE(accepts(v[name].get<std::string>(), pub, kAll));
    }
  }
}
