// Keys: generation, PEM and JWK in and out, what fromPublicJwk / fromPem / parseJwks refuse.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <thread>

#include "support.h"

using namespace mandate::jose;
using namespace jose_test;

namespace {

// The text written to a memory BIO; frees the BIO.
std::string drain(BIO* bio) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio, &p);
  std::string out(p, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string pemOf(EVP_PKEY* pkey, bool priv) {
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE((priv ? PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
                : PEM_write_bio_PUBKEY(bio, pkey)) == 1);
  return drain(bio);
}

std::string bnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(pkey, name, &bn) == 1);
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

}  // namespace

TEST_SUITE("jose keys") {
  TEST_CASE("generated keys sign, and their public forms verify") {
    for (Alg alg : kAll) {
      CAPTURE(algName(alg));
      const Key key = generated(alg);
      CHECK(key.alg() == alg);
      CHECK(key.hasPrivate());
      std::string error;
      auto token = sign({{"typ", "at+jwt"}, {"kid", key.thumbprint()}}, R"({"sub":"acct-42"})", key, error);
      REQUIRE_MESSAGE(token.has_value(), error);

      auto fromJwk = Key::fromPublicJwk(key.publicJwk(), error);
      REQUIRE_MESSAGE(fromJwk.has_value(), error);
      CHECK_FALSE(fromJwk->hasPrivate());
      CHECK(fromJwk->thumbprint() == key.thumbprint());
      CHECK(fromJwk->privatePem().empty());
      CHECK(accepts(*token, *fromJwk, {alg}));

      const std::string pubPem = key.publicPem();
      CHECK(pubPem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
      auto fromPub = Key::fromPem(pubPem, error);
      REQUIRE_MESSAGE(fromPub.has_value(), error);
      CHECK_FALSE(fromPub->hasPrivate());
      CHECK(fromPub->thumbprint() == key.thumbprint());
      CHECK(accepts(*token, *fromPub, {alg}));

      const std::string privPem = key.privatePem();
      CHECK(privPem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);  // PKCS#8
      auto fromPriv = Key::fromPem(privPem, error);
      REQUIRE_MESSAGE(fromPriv.has_value(), error);
      CHECK(fromPriv->hasPrivate());
      CHECK(fromPriv->alg() == alg);
      CHECK(fromPriv->thumbprint() == key.thumbprint());
      auto again = sign(nlohmann::json::object(), "x", *fromPriv, error);
      REQUIRE(again.has_value());
      CHECK(accepts(*again, key, {alg}));

      // Another key of the same type does not verify it.
      CHECK_FALSE(accepts(*token, generated(alg), {alg}));
    }
  }

  TEST_CASE("public JWK shapes") {
    const Key ec = generated(Alg::ES256);
    const auto jwk = ec.publicJwk();
    CHECK(jwk.size() == 4);
    CHECK(jwk["kty"] == "EC");
    CHECK(jwk["crv"] == "P-256");
    CHECK(jwk["x"].get<std::string>().size() == 43);
    CHECK(jwk["y"].get<std::string>().size() == 43);
    const Key rsa = generated(Alg::PS256);
    CHECK(EVP_PKEY_get_bits(rsa.evp()) == 3072);
    CHECK(rsa.publicJwk()["e"] == "AQAB");
    CHECK(rsa.thumbprint().size() == 43);
  }

  TEST_CASE("fromPublicJwk refuses private members, symmetric keys, bad curves and points") {
    const auto v = vector("rfc7515_a3.json");
    const nlohmann::json priv = v["jwk"];
    nlohmann::json pub = priv;
    pub.erase("d");
    std::string error;
    REQUIRE(Key::fromPublicJwk(pub, error).has_value());

    CHECK_FALSE(Key::fromPublicJwk(priv, error).has_value());
    CHECK(error.find("private") != std::string::npos);
    for (const char* m : {"p", "q", "dp", "dq", "qi", "oth", "k"}) {
      nlohmann::json j = pub;
      j[m] = "AQAB";
      CHECK_FALSE(Key::fromPublicJwk(j, error).has_value());
    }
    CHECK_FALSE(Key::fromPublicJwk({{"kty", "oct"}, {"k", "c2VjcmV0"}}, error).has_value());
    CHECK_FALSE(Key::fromPublicJwk({{"kty", "oct"}}, error).has_value());
    CHECK(error.find("oct") != std::string::npos);

    auto with = [&](const char* member, nlohmann::json value) {
      nlohmann::json j = pub;
      j[member] = std::move(value);
      return Key::fromPublicJwk(j, error).has_value();
    };
    CHECK_FALSE(with("crv", "P-384"));
    CHECK_FALSE(with("crv", "secp256k1"));
    CHECK_FALSE(with("kty", "ec"));
    CHECK_FALSE(with("kty", 1));
    CHECK_FALSE(with("x", pub["x"].get<std::string>() + "="));
    CHECK_FALSE(with("x", pub["x"].get<std::string>().substr(1)));       // 31.x bytes
    CHECK_FALSE(with("x", b64urlEncode(std::string(33, '\x01'))));       // wrong length
    CHECK_FALSE(with("alg", "ES384"));
    CHECK_FALSE(with("alg", "none"));
    CHECK(with("alg", "ES256"));
    CHECK_FALSE(with("use", "enc"));
    CHECK(with("use", "sig"));
    CHECK_FALSE(with("key_ops", nlohmann::json::array({"sign"})));
    CHECK(with("key_ops", nlohmann::json::array({"verify"})));

    // A point off the curve: y changed by one bit.
    std::string y;
    REQUIRE(b64urlDecode(pub["y"].get<std::string>(), y));
    y[31] ^= 1;
    CHECK_FALSE(with("y", b64urlEncode(y)));
    // The point at infinity has no affine encoding; all-zero coordinates are not on the curve.
    nlohmann::json zero = pub;
    zero["x"] = b64urlEncode(std::string(32, '\0'));
    zero["y"] = b64urlEncode(std::string(32, '\0'));
    CHECK_FALSE(Key::fromPublicJwk(zero, error).has_value());

    const auto ed = vector("rfc8037_a.json")["public_jwk"];
    nlohmann::json okp = ed;
    okp["crv"] = "Ed448";
    CHECK_FALSE(Key::fromPublicJwk(okp, error).has_value());
    okp["crv"] = "X25519";
    CHECK_FALSE(Key::fromPublicJwk(okp, error).has_value());
    CHECK_FALSE(Key::fromPublicJwk(nlohmann::json::array(), error).has_value());
    CHECK_FALSE(Key::fromPublicJwk("EC", error).has_value());
  }

  TEST_CASE("RSA keys under 2048 bits are refused, as JWK and as PEM") {
    EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
    REQUIRE(small != nullptr);
    const nlohmann::json jwk = {{"kty", "RSA"},
                                {"n", b64urlEncode(bnParam(small, OSSL_PKEY_PARAM_RSA_N))},
                                {"e", b64urlEncode(bnParam(small, OSSL_PKEY_PARAM_RSA_E))}};
    std::string error;
    CHECK_FALSE(Key::fromPublicJwk(jwk, error).has_value());
    CHECK(error.find("2048") != std::string::npos);
    CHECK_FALSE(Key::fromPem(pemOf(small, false), error).has_value());
    CHECK(error.find("2048") != std::string::npos);
    CHECK_FALSE(Key::fromPem(pemOf(small, true), error).has_value());
    EVP_PKEY_free(small);

    // Leading zero bytes and even moduli are malformed.
    const auto big = generated(Alg::PS256).publicJwk();
    std::string n;
    REQUIRE(b64urlDecode(big["n"].get<std::string>(), n));
    nlohmann::json padded = big;
    padded["n"] = b64urlEncode('\0' + n);
    CHECK_FALSE(Key::fromPublicJwk(padded, error).has_value());
    nlohmann::json even = big;
    n.back() = static_cast<char>(n.back() & ~1);
    even["n"] = b64urlEncode(n);
    CHECK_FALSE(Key::fromPublicJwk(even, error).has_value());
    nlohmann::json e1 = big;
    e1["e"] = "AQ";
    CHECK_FALSE(Key::fromPublicJwk(e1, error).has_value());
  }

  TEST_CASE("fromPrivateJwk refuses a private part that does not match") {
    auto v = vector("rfc7515_a3.json")["jwk"];
    std::string error;
    REQUIRE(Key::fromPrivateJwk(v, error).has_value());
    std::string d;
    REQUIRE(b64urlDecode(v["d"].get<std::string>(), d));
    d[5] ^= 1;
    v["d"] = b64urlEncode(d);
    CHECK_FALSE(Key::fromPrivateJwk(v, error).has_value());
    auto ed = vector("rfc8037_a.json")["private_jwk"];
    ed["x"] = generated(Alg::EdDSA).publicJwk()["x"];
    CHECK_FALSE(Key::fromPrivateJwk(ed, error).has_value());
    auto rsa = vector("rfc7520.json")["rsa_private_jwk"];
    rsa["qi"] = rsa["dp"];
    CHECK_FALSE(Key::fromPrivateJwk(rsa, error).has_value());
    rsa = vector("rfc7520.json")["rsa_private_jwk"];
    rsa.erase("q");
    CHECK_FALSE(Key::fromPrivateJwk(rsa, error).has_value());
  }

  TEST_CASE("fromPem accepts PKCS#8 and SubjectPublicKeyInfo only") {
    const Key ec = generated(Alg::ES256);
    std::string error;
    const std::string pub = ec.publicPem();
    CHECK(Key::fromPem(pub + "\n\n", error).has_value());
    CHECK(Key::fromPem("\n\n" + pub, error).has_value());
    CHECK_FALSE(Key::fromPem(pub + "junk", error).has_value());
    CHECK_FALSE(Key::fromPem("junk\n" + pub, error).has_value());
    CHECK_FALSE(Key::fromPem(pub + pub, error).has_value());
    CHECK_FALSE(Key::fromPem("", error).has_value());
    CHECK_FALSE(Key::fromPem("not a pem", error).has_value());
    CHECK_FALSE(Key::fromPem(std::string(20000, 'a'), error).has_value());
    // Traditional "EC PRIVATE KEY" and encrypted PKCS#8 are refused (the latter without ever
    // asking for a password).
    BIO* bio = BIO_new(BIO_s_mem());
    REQUIRE(PEM_write_bio_PrivateKey_traditional(bio, ec.evp(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
    const std::string traditional = drain(bio);
    REQUIRE(traditional.find("EC PRIVATE KEY") != std::string::npos);
    CHECK_FALSE(Key::fromPem(traditional, error).has_value());
    bio = BIO_new(BIO_s_mem());
    REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio, ec.evp(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                          const_cast<char*>("password")) == 1);
    const std::string encrypted = drain(bio);
    REQUIRE(encrypted.find("ENCRYPTED PRIVATE KEY") != std::string::npos);
    CHECK_FALSE(Key::fromPem(encrypted, error).has_value());
    // A P-384 key is refused whatever its encoding.
    EVP_PKEY* p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    REQUIRE(p384 != nullptr);
    CHECK_FALSE(Key::fromPem(pemOf(p384, false), error).has_value());
    CHECK(error.find("P-256") != std::string::npos);
    CHECK_FALSE(Key::fromPem(pemOf(p384, true), error).has_value());
    EVP_PKEY_free(p384);
  }

  TEST_CASE("parseJwks") {
    const Key a = generated(Alg::ES256);
    const Key b = generated(Alg::EdDSA);
    nlohmann::json ja = a.publicJwk();
    ja["kid"] = "a";
    nlohmann::json jb = b.publicJwk();
    jb["kid"] = "b";
    std::string error;
    auto set = parseJwks({{"keys", {ja, jb, a.publicJwk()}}}, error);
    REQUIRE_MESSAGE(set.has_value(), error);
    REQUIRE(set->size() == 3);
    CHECK((*set)[0].kid == "a");
    CHECK((*set)[0].key.thumbprint() == a.thumbprint());
    CHECK((*set)[1].key.alg() == Alg::EdDSA);
    CHECK((*set)[2].kid.empty());

    CHECK_FALSE(parseJwks({{"keys", {ja, ja}}}, error).has_value());  // duplicate kid
    CHECK(error.find("duplicate kid") != std::string::npos);
    nlohmann::json withD = vector("rfc8037_a.json")["private_jwk"];
    CHECK_FALSE(parseJwks({{"keys", {ja, withD}}}, error).has_value());
    CHECK(error.find("keys[1]") != std::string::npos);
    CHECK_FALSE(parseJwks({{"keys", {ja, {{"kty", "oct"}, {"k", "AAAA"}}}}}, error).has_value());
    CHECK_FALSE(parseJwks({{"keys", ja}}, error).has_value());
    CHECK_FALSE(parseJwks(nlohmann::json::array({ja}), error).has_value());
    CHECK_FALSE(parseJwks(nlohmann::json::object(), error).has_value());
    nlohmann::json many = {{"keys", nlohmann::json::array()}};
    for (int i = 0; i < 65; ++i) many["keys"].push_back(a.publicJwk());
    CHECK_FALSE(parseJwks(many, error).has_value());
    auto empty = parseJwks({{"keys", nlohmann::json::array()}}, error);
    REQUIRE(empty.has_value());
    CHECK(empty->empty());
  }

  TEST_CASE("one key shared by threads signs and verifies concurrently") {
    for (Alg alg : {Alg::ES256, Alg::PS256, Alg::EdDSA}) {
      const Key key = generated(alg);
      std::string error;
      const auto header = encodeHeader({{"typ", "at+jwt"}}, key, error);
      REQUIRE(header.has_value());
      std::vector<std::vector<std::string>> tokens(4);
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 25; ++i) {
            std::string e;
            auto tok = signWithEncodedHeader(*header, "{\"n\":" + std::to_string(t * 100 + i) + "}", key, e);
            tokens[t].push_back(tok.value_or(""));
          }
        });
      }
      for (auto& th : threads) th.join();
      for (const auto& list : tokens)
        for (const auto& tok : list) CHECK(accepts(tok, key, {alg}));
    }
  }
}
