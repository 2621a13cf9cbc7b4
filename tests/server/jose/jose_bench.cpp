// Micro-measurement for the notes (not a test): ES256 / EdDSA / PS256 signs and verifies per
// second of CPU time on one thread, through the token endpoint's path (signWithEncodedHeader) and parse +
// verify. Build it in a Release tree; sanitizer builds measure the sanitizers.
#include <time.h>

#include <cstdlib>
#include <cstdio>
#include <string>

#include <openssl/evp.h>

#include "jose/jose.h"

using namespace mandate::jose;

namespace {

// Operations per second of this thread's CPU time, i.e. per core. The box is shared, so wall
// time measures the neighbours too (`openssl speed` also counts CPU time).
double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

template <typename F>
double perSecond(F&& f, double seconds) {
  const double start = threadCpuSeconds();
  long n = 0;
  while (true) {
    for (int i = 0; i < 100; ++i) f();
    n += 100;
    const double elapsed = threadCpuSeconds() - start;
    if (elapsed >= seconds) return static_cast<double>(n) / elapsed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // jose_bench [seconds per measurement] [only this algorithm]
  const double seconds = argc > 1 ? std::stod(argv[1]) : 2.0;
  const std::string only = argc > 2 ? argv[2] : "";
  // A payload of the size of the design's example access token.
  const std::string payload =
      R"({"iss":"https://auth.venue.example","sub":"acct-42","aud":"https://api.venue.example","client_id":"bot-7",)"
      R"("iat":1795660000,"exp":1795660300,"jti":"3q2-7wAAAAAAAAAAAAAAAA","scope":"trade read","acr":"urn:mandate:aal2",)"
      R"("amr":["pwd","otp"],"cnf":{"jkt":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},"authorization_details":[)"
      R"({"type":"trading","actions":["trade"],"product_classes":["spot","future"],"limits":{"max_leverage":2,)"
      R"("max_order_notional_usd":250000}},{"type":"withdrawal","limits":{"daily_usd":50000}}],"policy":"sha256:3f1c"})";
  for (Alg alg : {Alg::ES256, Alg::EdDSA, Alg::PS256}) {
    if (!only.empty() && only != algName(alg)) continue;
    std::string error;
    auto key = Key::generate(alg, error);
    if (!key) {
      std::fprintf(stderr, "generate: %s\n", error.c_str());
      return 1;
    }
    const auto header = encodeHeader({{"typ", "at+jwt"}, {"kid", key->thumbprint()}}, *key, error);
    const auto token = signWithEncodedHeader(*header, payload, *key, error);
    const Alg allowed[] = {alg};
    const double signs = perSecond([&] { (void)signWithEncodedHeader(*header, payload, *key, error); }, seconds);
    const double verifies = perSecond(
        [&] {
          auto jws = parse(*token, error);
          if (!jws || !verify(*jws, *key, allowed, error)) std::abort();
        },
        seconds);
    std::printf("%-6s sign %9.0f/s   parse+verify %9.0f/s   (token %zu bytes)\n", algName(alg), signs, verifies,
                token->size());
    if (alg != Alg::ES256) continue;
    // Two references for ES256 over the same signing input: OpenSSL alone with one context reused
    // (the floor: what the library adds is base64url, hashing and the R||S conversion), and the
    // naive EVP_DigestSignInit + EVP_DigestSign per token that the context pool avoids.
    const std::string input = token->substr(0, token->rfind('.'));
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    unsigned char dgst[32];
    unsigned int dlen = 0;
    EVP_Digest(in, input.size(), dgst, &dlen, EVP_sha256(), nullptr);
    EVP_PKEY_CTX* reused = EVP_PKEY_CTX_new_from_pkey(nullptr, key->evp(), nullptr);
    EVP_PKEY_sign_init(reused);
    const double floor = perSecond(
        [&] {
          unsigned char sig[80];
          size_t len = sizeof sig;
          if (EVP_PKEY_sign(reused, sig, &len, dgst, sizeof dgst) != 1) std::abort();
        },
        seconds);
    EVP_PKEY_CTX_free(reused);
    const double naive = perSecond(
        [&] {
          EVP_MD_CTX* ctx = EVP_MD_CTX_new();
          unsigned char sig[80];
          size_t len = sizeof sig;
          if (EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key->evp(), nullptr) != 1 ||
              EVP_DigestSign(ctx, sig, &len, in, input.size()) != 1)
            std::abort();
          EVP_MD_CTX_free(ctx);
        },
        seconds);
    std::printf("       reference: EVP_PKEY_sign, context reused %9.0f/s;  EVP_DigestSign, new context per token %9.0f/s\n",
                floor, naive);
  }
  return 0;
}
