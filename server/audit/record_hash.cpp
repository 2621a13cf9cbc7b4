#include "audit/record_hash.h"

#include <cstdint>

#include "jose/jose.h"

namespace mandate::audit {

namespace {

void putU64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void putField(std::string& out, std::string_view bytes) {
  putU64(out, bytes.size());
  out.append(bytes);
}

void putIntField(std::string& out, std::uint64_t v) {
  putU64(out, 8);
  putU64(out, v);
}

// Scalars reaching here passed validate() (printable ASCII), so only '"' and '\\' need escaping.
void putJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

std::string canonicalEncoding(const StoredRecord& r) {
  std::string out;
  out.reserve(11 * 8 + kRecordTag.size() + 16 + r.type.size() + r.actorJson.size() + r.requestId.size() +
              r.sourceIp.size() + r.dataJson.size() + r.policyHash.size() + r.jti.size() + r.prevHash.size());
  putField(out, kRecordTag);
  putIntField(out, r.seq);
  putIntField(out, static_cast<std::uint64_t>(r.tsUs));
  putField(out, r.type);
  putField(out, r.actorJson);
  putField(out, r.requestId);
  putField(out, r.sourceIp);
  putField(out, r.dataJson);
  putField(out, r.policyHash);
  putField(out, r.jti);
  putField(out, r.prevHash);
  return out;
}

std::string recordHash(const StoredRecord& r) { return jose::sha256(canonicalEncoding(r)); }

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string actorJson(const Actor& a) {
  std::string out = "{";
  auto member = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    if (out.size() > 1) out.push_back(',');
    putJsonString(out, name);
    out.push_back(':');
    putJsonString(out, value);
  };
  member("admin", a.admin);
  member("client", a.client);
  member("subject", a.subject);
  out.push_back('}');
  return out;
}

}  // namespace mandate::audit
