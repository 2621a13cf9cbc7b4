// The canonical encoding, re-implemented here from docs/audit.md with OpenSSL directly: if the
// library and the documentation drift apart, an auditor's own verifier would disagree with ours.
#include <doctest/doctest.h>
#include <openssl/sha.h>

#include "audit/export.h"
#include "audit/record_hash.h"
#include "audit_test_util.h"

using namespace mandate::audit;

namespace {

std::string be64(std::uint64_t v) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
  return out;
}
std::string field(const std::string& bytes) { return be64(bytes.size()) + bytes; }

}  // namespace

TEST_CASE("encoding: the documented length-prefixed encoding, hashed with SHA-256") {
  StoredRecord r;
  r.seq = 7;
  r.tsUs = 1764151200123456;
  r.type = "token.issued";
  r.actorJson = R"({"client":"bot-7","subject":"acct-42"})";
  r.requestId = "req-1";
  r.sourceIp = "10.1.2.3";
  r.dataJson = R"({"granted":["trade"]})";
  r.policyHash = "sha256:abc";
  r.jti = "J1";
  r.prevHash = std::string(32, '\x11');
  std::string enc = field("mandate-audit-record/v1") + field(be64(7)) + field(be64(1764151200123456)) +
                    field(r.type) + field(r.actorJson) + field(r.requestId) + field(r.sourceIp) + field(r.dataJson) +
                    field(r.policyHash) + field(r.jti) + field(r.prevHash);
  CHECK(canonicalEncoding(r) == enc);
  unsigned char md[32];
  SHA256(reinterpret_cast<const unsigned char*>(enc.data()), enc.size(), md);
  CHECK(recordHash(r) == std::string(reinterpret_cast<char*>(md), 32));
  // Moving a byte between adjacent fields changes the hash: the length prefixes keep them apart.
  StoredRecord shifted = r;
  shifted.requestId = "req-";
  shifted.sourceIp = "110.1.2.3";
  CHECK(recordHash(shifted) != recordHash(r));
}

TEST_CASE("encoding: actor JSON has sorted members and leaves empty ones out") {
  CHECK(actorJson({"bot-7", "acct-42", ""}) == R"({"client":"bot-7","subject":"acct-42"})");
  CHECK(actorJson({"", "", "alice"}) == R"({"admin":"alice"})");
  CHECK(actorJson({"a\"b", "", ""}) == R"({"client":"a\"b"})");
  CHECK(actorJson({}) == "{}");
}

TEST_CASE("encoding: timestamps are RFC 3339 UTC with microseconds") {
  CHECK(formatTimestamp(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(formatTimestamp(1764151200123456) == "2025-11-26T10:00:00.123456Z");
  CHECK(formatTimestamp(-1) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("encoding: malformed records are refused before they reach the queue") {
  auto ok = test::sampleRecord(1);
  CHECK(validate(ok).empty());
  auto r = ok;
  r.type = "";
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.type = "Token Issued";
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.jti = "a\nb";
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.requestId = std::string(513, 'x');
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.dataJson = "[1,2]";
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.dataJson = "{\"a\":1";
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.dataJson = "{\n\"a\":1}";
  CHECK_FALSE(validate(r).empty());
  r = ok;
  r.dataJson = std::string("{\"a\":\"\xff\"}");
  CHECK_FALSE(validate(r).empty());
}
