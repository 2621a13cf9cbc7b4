// The binary bundle format and its verifying loader: round trips, corruption, signatures.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstring>
#include <set>

#include "bytecode/disasm.h"
#include "support.h"
#include "vm/report.h"

namespace {

using namespace vmtest;
using namespace mandate;
using nlohmann::json;

const char* kPolicy = R"(
schema {
  enum PC { spot, future }
  actions { read, trade }
  products PC on trade
  subject { tier: int  residence: country  nw: decimal  optional lei: string  approp: set<PC> }
  request { ip: ip  scopes: set<string> }
  limits { lev: decimal }
}
const NETS = {10.0.0.0/8, "2001:db8::/32"}
policy p "P" {
  permit read when request.ip in NETS or "read" in request.scopes;
  permit trade on all when subject.tier >= 1 and product in subject.approp;
  uk: deny trade on future when subject.residence in {GB, IE} because "UK/IE retail";
  limit lev = match subject.tier { 1 => 2.5, _ => subject.nw / 4 } for trade;
  deny read when has subject.lei and subject.lei == "X" because "blocked";
}
)";

const char* kInputs[] = {
    R"({"subject": {"tier": 1, "residence": "GB", "nw": "10", "approp": ["spot", "future"]}, "request": {"ip": "10.0.0.1", "scopes": []}, "now": 0})",
    R"({"subject": {"tier": 2, "residence": "FR", "nw": "10", "approp": ["future"], "lei": "X"}, "request": {"ip": "2001:db8::1", "scopes": ["read"]}, "now": 0})",
    R"({"subject": {"tier": 0, "residence": "US", "nw": "0.5", "approp": []}, "request": {"ip": "8.8.8.8", "scopes": ["read"]}, "now": 0})",
    R"({"subject": {"tier": 3, "residence": "IE", "nw": "99999999999999999999", "approp": ["spot"]}, "request": {"ip": "8.8.8.8", "scopes": []}, "now": 0})",
};

// The smallest bundle that still has every section populated.
const char* kSmall = R"(schema { actions { read } subject { t: int } }
policy p { permit read when subject.t > 1; })";

std::array<std::uint8_t, 32> sha256(std::string_view d) {
  std::array<std::uint8_t, 32> h{};
  SHA256(reinterpret_cast<const unsigned char*>(d.data()), d.size(), h.data());
  return h;
}

// Offset of the HASH section (id 0xF0) that follows the six content sections.
std::size_t hashSectionOffset(const std::string& bytes) {
  std::size_t pos = 8 + 4 + 32 + 4;
  for (int i = 0; i < 6; ++i) {
    std::uint32_t len;
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    pos += 8 + len;
  }
  return pos;
}

// After editing content bytes, recompute the content hash (at `at`, where the unedited bundle
// has it) so that only the verifier stands guard.
void rehash(std::string& bytes, std::size_t at) {
  auto h = sha256(std::string_view(bytes).substr(0, at));
  std::memcpy(bytes.data() + at + 8, h.data(), 32);
}

// Evaluates a loaded bundle on a few requests; under the sanitizers this is the check that a
// bundle the loader accepted is safe to run.
void exercise(const bundle::Bundle& b) {
  json inputs[] = {json::object(), json::parse(R"({"subject": {"t": 5}})"), json::parse(kInputs[0]),
                   json::parse(R"({"now": 0})")};
  for (auto& in : inputs) {
    vm::Trace trace;
    Run r = evaluate(b, in, false, &trace);
    (void)summary(b, r.d);
    (void)vm::decisionText(b, r.d, &trace);
    (void)vm::decisionJson(b, r.d, &trace);
  }
  (void)bc::disassemble(b);
}

struct KeyPair {
  std::string privatePem;
  bundle::PublicKey pub{};
};

KeyPair newKey() {
  KeyPair k;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  EVP_PKEY* key = nullptr;
  REQUIRE(ctx != nullptr);
  REQUIRE(EVP_PKEY_keygen_init(ctx) == 1);
  REQUIRE(EVP_PKEY_keygen(ctx, &key) == 1);
  EVP_PKEY_CTX_free(ctx);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  k.privatePem.assign(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  std::size_t len = 32;
  REQUIRE(EVP_PKEY_get_raw_public_key(key, k.pub.data(), &len) == 1);
  EVP_PKEY_free(key);
  return k;
}

TEST_CASE("loader: a serialized bundle round-trips: same decisions, same content hash, same bytes") {
  Compiled c = compile(kPolicy);
  INFO(c.errors);
  REQUIRE(c.ok());
  std::string bytes;
  auto loaded = roundTrip(*c.bundle, &bytes);
  REQUIRE(loaded != nullptr);
  CHECK(c.bundle->contentHash.rfind("sha256:", 0) == 0);
  CHECK(loaded->contentHash == c.bundle->contentHash);
  CHECK(loaded->schemaHash == c.bundle->schemaHash);
  CHECK(loaded->rules.size() == c.bundle->rules.size());
  CHECK(loaded->worstCaseInstructions == c.bundle->worstCaseInstructions);
  // Serializing the loaded bundle gives the same bytes.
  CHECK(bundle::serialize(*loaded) == bytes);
  CHECK(bc::disassemble(*loaded) == bc::disassemble(*c.bundle));
  std::set<std::string> distinct;
  for (const char* in : kInputs) {
    CAPTURE(in);
    Run a = evaluate(*c.bundle, json::parse(in), true);
    Run b = evaluate(*loaded, json::parse(in), true);
    REQUIRE(a.frameErrors.empty());
    CHECK(view(*c.bundle, a.d) == view(*loaded, b.d));
    CHECK(summary(*c.bundle, a.d) == summary(*loaded, b.d));
    distinct.insert(summary(*loaded, b.d));
  }
  CHECK(distinct.size() == std::size(kInputs));  // the inputs exercise different outcomes
  // The content hash is the policy version: another policy text, another hash.
  Compiled other = compile(std::string(kPolicy) + "policy q { permit read; }\n");
  REQUIRE(other.ok());
  bundle::serialize(*other.bundle);
  CHECK(other.bundle->contentHash != c.bundle->contentHash);
}

TEST_CASE("loader: every single-byte corruption of a small bundle is refused") {
  Compiled c = compile(kSmall);
  INFO(c.errors);
  REQUIRE(c.ok());
  std::string bytes = bundle::serialize(*c.bundle);
  std::string why;
  REQUIRE(bundle::load(bytes, {}, why) != nullptr);
  std::size_t refused = 0, accepted = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xFF}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      std::string error;
      auto b = bundle::load(bad, {}, error);
      if (b == nullptr) {
        CHECK_FALSE(error.empty());
        ++refused;
      } else {
        // Accepted: it must still be a bundle that verifies and runs.
        ++accepted;
        std::string again;
        CHECK(bundle::load(bundle::serialize(*b), {}, again) != nullptr);
        exercise(*b);
      }
    }
  }
  MESSAGE(bytes.size() << "-byte bundle: " << refused << " corruptions refused, " << accepted << " accepted");
  // The content hash covers every byte before it, and the hash section is checked exactly.
  CHECK(accepted == 0);
  // Truncations and trailing garbage are refused too.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::string error;
    CHECK(bundle::load(std::string_view(bytes).substr(0, n), {}, error) == nullptr);
  }
  std::string error;
  CHECK(bundle::load(bytes + "x", {}, error) == nullptr);
}

TEST_CASE("loader: with the content hash recomputed, the verifier alone refuses or accepts only safe bundles") {
  // Byte flips in the payload with a fixed-up hash: whatever the loader accepts must verify
  // again and evaluate without tripping the sanitizers.
  for (const char* text : {kSmall, kPolicy}) {
    Compiled c = compile(text);
    INFO(c.errors);
    REQUIRE(c.ok());
    std::string bytes = bundle::serialize(*c.bundle);
    std::size_t end = hashSectionOffset(bytes);
    std::size_t refused = 0, accepted = 0;
    std::size_t step = bytes.size() > 1500 ? 3 : 1;  // the large bundle: every third byte
    for (std::size_t i = 8; i < end; i += step) {
      for (unsigned char mask : {0x01, 0x10, 0xFF}) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        rehash(bad, end);
        std::string error;
        auto b = bundle::load(bad, {}, error);
        if (b == nullptr) {
          ++refused;
          continue;
        }
        ++accepted;
        std::string again;
        auto reloaded = bundle::load(bundle::serialize(*b), {}, again);
        CHECK_MESSAGE(reloaded != nullptr, "byte " << i << " ^ " << int(mask) << ": " << again);
        exercise(*b);
      }
    }
    MESSAGE(bytes.size() << "-byte bundle, hash fixed up: " << refused << " refused, " << accepted << " accepted");
    CHECK(refused > 0);
  }
}

TEST_CASE("loader: signatures") {
  Compiled c = compile(kPolicy);
  REQUIRE(c.ok());
  KeyPair k1 = newKey(), k2 = newKey();
  bundle::Signer signer1, signer2;
  std::string error;
  REQUIRE(bundle::makeSigner(k1.privatePem, signer1, error));
  REQUIRE(bundle::makeSigner(k2.privatePem, signer2, error));
  bundle::PublicKey fromPem{};
  REQUIRE(bundle::publicKeyFromPem(k1.privatePem, fromPem, error));
  CHECK(fromPem == k1.pub);

  std::string unsignedBytes = bundle::serialize(*c.bundle);
  std::string signedBytes = bundle::serialize(*c.bundle, &signer1);
  CHECK(c.bundle->signerKey == bundle::hex(k1.pub.data(), 32));
  CHECK(signedBytes.size() == unsignedBytes.size() + 8 + 96);
  CHECK(signedBytes.compare(0, unsignedBytes.size(), unsignedBytes) == 0);  // same content, same hash

  bundle::LoadOptions require;
  require.requireSignature = true;
  bundle::LoadOptions trust1 = require;
  trust1.trustedKeys = {k1.pub};
  bundle::LoadOptions trust2 = require;
  trust2.trustedKeys = {k2.pub};

  SUBCASE("a valid signature loads with requireSignature, by a trusted key") {
    auto b = bundle::load(signedBytes, trust1, error);
    INFO(error);
    REQUIRE(b != nullptr);
    CHECK(b->signerKey == bundle::hex(k1.pub.data(), 32));
    auto b2 = bundle::load(signedBytes, require, error);
    CHECK(b2 != nullptr);
    bundle::LoadOptions both = require;
    both.trustedKeys = {k2.pub, k1.pub};
    CHECK(bundle::load(signedBytes, both, error) != nullptr);
    // Signed bundles also load where signatures are optional, and decide the same.
    auto b3 = bundle::load(signedBytes, {}, error);
    REQUIRE(b3 != nullptr);
    Run r1 = evaluate(*b, json::parse(kInputs[0]), true), r3 = evaluate(*b3, json::parse(kInputs[0]), true);
    CHECK(view(*b, r1.d) == view(*b3, r3.d));
  }
  SUBCASE("an unsigned bundle is refused when signatures are required") {
    CHECK(bundle::load(unsignedBytes, require, error) == nullptr);
    CHECK(error.find("not signed") != std::string::npos);
    CHECK(bundle::load(unsignedBytes, trust1, error) == nullptr);
    CHECK(bundle::load(unsignedBytes, {}, error) != nullptr);
  }
  SUBCASE("a wrong signature is refused") {
    for (std::size_t at : {signedBytes.size() - 1, signedBytes.size() - 64, signedBytes.size() - 33}) {
      std::string bad = signedBytes;
      bad[at] = static_cast<char>(bad[at] ^ 0x04);
      CHECK(bundle::load(bad, require, error) == nullptr);
      CHECK(bundle::load(bad, {}, error) == nullptr);  // a present signature is always checked
    }
    // A valid signature of another bundle's hash.
    Compiled other = compile(std::string(kPolicy) + "policy q { permit read; }\n");
    REQUIRE(other.ok());
    std::string otherSigned = bundle::serialize(*other.bundle, &signer1);
    std::string spliced = unsignedBytes + otherSigned.substr(otherSigned.size() - 104);
    CHECK(bundle::load(spliced, require, error) == nullptr);
    CHECK(error.find("signature is invalid") != std::string::npos);
    // Content changed under a valid signature.
    std::string tampered = signedBytes;
    tampered[100] = static_cast<char>(tampered[100] ^ 1);
    CHECK(bundle::load(tampered, trust1, error) == nullptr);
  }
  SUBCASE("a signature by an untrusted key is refused") {
    CHECK(bundle::load(signedBytes, trust2, error) == nullptr);
    CHECK(error.find("untrusted key") != std::string::npos);
    std::string signed2 = bundle::serialize(*c.bundle, &signer2);
    CHECK(bundle::load(signed2, trust2, error) != nullptr);
    CHECK(bundle::load(signed2, trust1, error) == nullptr);
  }
}

TEST_CASE("loader: format errors name the problem") {
  Compiled c = compile(kSmall);
  REQUIRE(c.ok());
  std::string bytes = bundle::serialize(*c.bundle);
  std::string error;
  std::string bad = bytes;
  bad[0] = 'X';
  CHECK(bundle::load(bad, {}, error) == nullptr);
  CHECK(error.find("bad magic") != std::string::npos);
  bad = bytes;
  bad[8] = 99;  // format version
  CHECK(bundle::load(bad, {}, error) == nullptr);
  CHECK(error.find("format version 99") != std::string::npos);
  bad = bytes;
  bad[60] = static_cast<char>(bad[60] ^ 1);
  CHECK(bundle::load(bad, {}, error) == nullptr);
  CHECK(error.find("content hash mismatch") != std::string::npos);
  CHECK(bundle::load("", {}, error) == nullptr);
  // A limit index on a rule that is not a limit (the disassembler used to index with it).
  c.bundle->rules[0].limit = 0;
  CHECK(bundle::load(bundle::serialize(*c.bundle), {}, error) == nullptr);
  CHECK(error.find("a limit index on a rule that is not a limit") != std::string::npos);
  c.bundle->rules[0].limit = -1;
  // A jump backwards, with the hash fixed up: the verifier refuses it.
  bundle::Bundle& b = *c.bundle;
  REQUIRE(!b.code.empty());
  b.code[0] = bc::Instr{bc::Op::JMP, {0, 0, 0}, 0};
  std::string jb = bundle::serialize(b);
  CHECK(bundle::load(jb, {}, error) == nullptr);
  CHECK(error.find("verification failed") != std::string::npos);
  CHECK(error.find("backward jump") != std::string::npos);
}

}  // namespace
