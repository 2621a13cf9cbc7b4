// ES256 signatures from precomputed values (Key::precomputeSignatures): they verify, with this
// library and with OpenSSL directly, no nonce ever signs twice (every r differs, also with
// threads signing while another precomputes), each value is used once, and other algorithms
// are left alone.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "jose/internal/key_state.h"
#include "support.h"

using namespace mandate::jose;
using namespace jose_test;

namespace {

std::string tokenFor(const Key& key, int n) {
  std::string error;
  auto tok = sign({{"typ", "at+jwt"}}, "{\"n\":" + std::to_string(n) + "}", key, error);
  REQUIRE_MESSAGE(tok.has_value(), error);
  return *tok;
}

// The 64 signature bytes of a compact JWS.
std::string signatureOf(const std::string& compact) {
  std::string sig;
  REQUIRE(b64urlDecode(compact.substr(compact.rfind('.') + 1), sig));
  REQUIRE(sig.size() == 64);
  return sig;
}

// ES256 verification by OpenSSL alone (R||S to DER, EVP_DigestVerify with SHA-256), from the
// public key's PEM: nothing of the library's verifier or key state.
bool opensslVerifies(const std::string& publicPem, const std::string& compact) {
  const std::string sig = signatureOf(compact);
  const std::string input = compact.substr(0, compact.rfind('.'));
  BIO* bio = BIO_new_mem_buf(publicPem.data(), static_cast<int>(publicPem.size()));
  EVP_PKEY* pub = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int derLen = i2d_ECDSA_SIG(es, &der);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool ok = pub != nullptr && derLen > 0 &&
                  EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pub) == 1 &&
                  EVP_DigestVerify(md, der, static_cast<std::size_t>(derLen),
                                   reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  ECDSA_SIG_free(es);
  EVP_PKEY_free(pub);
  return ok;
}

}  // namespace

TEST_SUITE("jose precomputed ES256") {
  TEST_CASE("precomputed values sign valid tokens, each value once, then signing goes on without") {
    const Key key = generated(Alg::ES256);
    const std::string pem = key.publicPem();
    CHECK(key.precomputedSignatures() == 0);
    CHECK(key.precomputeSignatures(100, 30) == 30);  // a batch at a time
    CHECK(key.precomputeSignatures(100, 1000) == 70);  // up to the target
    CHECK(key.precomputeSignatures(100, 1000) == 0);
    const Key copy = key;  // copies share the stock
    CHECK(copy.precomputedSignatures() == 100);

    std::set<std::string> rs;
    for (int i = 0; i < 150; ++i) {
      const std::string tok = tokenFor(i % 2 ? key : copy, i);
      CHECK(accepts(tok, key, {Alg::ES256}));
      CHECK(opensslVerifies(pem, tok));
      rs.insert(signatureOf(tok).substr(0, 32));
      CHECK(key.precomputedSignatures() == static_cast<std::size_t>(std::max(0, 99 - i)));
    }
    CHECK(rs.size() == 150);  // no r twice: no nonce signed two messages

    // The same message twice: two different signatures (fresh nonces), both valid.
    key.precomputeSignatures(2, 2);
    const std::string a = tokenFor(key, 7), b = tokenFor(key, 7);
    CHECK(signatureOf(a) != signatureOf(b));
    CHECK(opensslVerifies(pem, a));
    CHECK(opensslVerifies(pem, b));
  }

  TEST_CASE("threads signing while another precomputes: every token valid, no r twice") {
    const Key key = generated(Alg::ES256);
    const std::string pem = key.publicPem();
    std::atomic<bool> done{false};
    std::thread filler([&] {
      while (!done) key.precomputeSignatures(64, 8);
    });
    std::vector<std::vector<std::string>> tokens(4);
    std::vector<std::thread> signers;
    for (int t = 0; t < 4; ++t)
      signers.emplace_back([&, t] {
        for (int i = 0; i < 300; ++i) tokens[t].push_back(tokenFor(key, t * 1000 + i));
      });
    for (auto& s : signers) s.join();
    done = true;
    filler.join();
    std::set<std::string> rs;
    for (const auto& list : tokens)
      for (const auto& tok : list) {
        CHECK(accepts(tok, key, {Alg::ES256}));
        rs.insert(signatureOf(tok).substr(0, 32));
      }
    CHECK(rs.size() == 1200);
    for (int i = 0; i < 1200; i += 97) CHECK(opensslVerifies(pem, tokens[i / 300][i % 300]));
  }

  TEST_CASE("a request never waits for the stock's mutex: with it held, it signs the ordinary way") {
    // The precomputing thread runs at SCHED_IDLE; preempted while holding the mutex, it may not
    // run again for a while on busy cores. Here the test holds the mutex in its place.
    const Key key = generated(Alg::ES256);
    REQUIRE(key.precomputeSignatures(10, 10) == 10);
    auto& st = detail::KeyAccess::state(key);
    std::unique_lock held(st.aheadMu);
    auto signing = std::async(std::launch::async, [&] { return tokenFor(key, 1); });
    const bool finished = signing.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    held.unlock();  // lets a blocked signer finish, so a failure below does not hang
    CHECK(finished);
    const std::string tok = signing.get();
    CHECK(accepts(tok, key, {Alg::ES256}));
    CHECK(opensslVerifies(key.publicPem(), tok));
    CHECK(key.precomputedSignatures() == 10);  // none taken: it signed without the stock
    CHECK(accepts(tokenFor(key, 2), key, {Alg::ES256}));
    CHECK(key.precomputedSignatures() == 9);  // and with the mutex free, the stock is used again
  }

  TEST_CASE("other algorithms and public keys precompute nothing and sign as before") {
    for (Alg alg : {Alg::EdDSA, Alg::PS256}) {
      const Key key = generated(alg);
      CHECK(key.precomputeSignatures(10, 10) == 0);
      CHECK(key.precomputedSignatures() == 0);
      CHECK(accepts(tokenFor(key, 1), key, {alg}));
    }
    std::string error;
    auto pub = Key::fromPem(generated(Alg::ES256).publicPem(), error);
    REQUIRE(pub.has_value());
    CHECK(pub->precomputeSignatures(10, 10) == 0);
  }
}
