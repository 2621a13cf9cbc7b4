#include "audit/export.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "audit/read_db.h"
#include "audit/record_hash.h"

namespace mandate::audit {

namespace {

std::string jsonString(const std::string& s) {
  // A tampered file may hold bytes that are not UTF-8: replaced, so the line stays valid JSON.
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Stored JSON objects are embedded as they are; one that is not an object (only in a tampered
// file) is embedded as a string so the output stays parseable.
void putJsonObject(std::string& out, const std::string& text) {
  bool object = !text.empty() && text.front() == '{' && nlohmann::json::accept(text);
  for (unsigned char c : text)
    if (c < 0x20) object = false;
  out += object ? text : jsonString(text);
}

std::string csvCell(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string csvLine(const StoredRecord& r) {
  std::string line = std::to_string(r.seq) + "," + formatTimestamp(r.tsUs) + "," + std::to_string(r.tsUs);
  for (const std::string* s : {&r.type, &r.actorJson, &r.requestId, &r.sourceIp, &r.policyHash, &r.jti, &r.dataJson}) {
    line += ",";
    line += csvCell(*s);
  }
  // Appended piece by piece: GCC 12 -O2 warns (-Wrestrict, falsely) on `"," + std::string`.
  line += ',';
  line += toHex(r.prevHash);
  line += ',';
  line += toHex(r.hash);
  line += "\r\n";
  return line;
}

}  // namespace

std::string formatTimestamp(std::int64_t tsUs) {
  std::int64_t secs = tsUs / 1'000'000, micros = tsUs % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

std::string toJsonLine(const StoredRecord& r) {
  std::string out = "{\"seq\":" + std::to_string(r.seq) + ",\"ts\":\"" + formatTimestamp(r.tsUs) +
                    "\",\"ts_us\":" + std::to_string(r.tsUs) + ",\"type\":" + jsonString(r.type) + ",\"actor\":";
  putJsonObject(out, r.actorJson);
  out += ",\"request_id\":" + jsonString(r.requestId) + ",\"source_ip\":" + jsonString(r.sourceIp) +
         ",\"policy_hash\":" + jsonString(r.policyHash) + ",\"jti\":" + jsonString(r.jti) + ",\"data\":";
  putJsonObject(out, r.dataJson);
  out += ",\"prev_hash\":\"" + toHex(r.prevHash) + "\",\"hash\":\"" + toHex(r.hash) + "\"}";
  return out;
}

std::uint64_t exportRecords(const std::string& dbPath, const ExportFilter& f, Format format, std::ostream& out) {
  ReadDb db(dbPath);
  db.beginSnapshot();
  auto [lo, hi] = seqSpan(db, f.sinceUs, f.untilUs);
  Query q(db,
          "SELECT seq, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, prev_hash, hash "
          "FROM records WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq");
  q.bind(1, lo).bind(2, hi);
  if (format == Format::Csv)
    out << "seq,ts,ts_us,type,actor,request_id,source_ip,policy_hash,jti,data,prev_hash,hash\r\n";
  std::uint64_t n = 0;
  StoredRecord r;
  while (q.step()) {
    readRecord(q, r);
    if (f.sinceUs && r.tsUs < *f.sinceUs) continue;
    if (f.untilUs && r.tsUs >= *f.untilUs) continue;
    if (!f.type.empty() && r.type != f.type) continue;
    if (!f.subject.empty()) {
      auto actor = nlohmann::json::parse(r.actorJson, nullptr, false);
      if (!actor.is_object() || !actor.contains("subject") || actor["subject"] != f.subject) continue;
    }
    if (format == Format::Csv)
      out << csvLine(r);
    else
      out << toJsonLine(r) << '\n';
    if (!out) throw AuditError("audit: export: write failed");
    ++n;
  }
  return n;
}

std::optional<StoredRecord> show(const std::string& dbPath, std::uint64_t seq) {
  ReadDb db(dbPath);
  Query q(db,
          "SELECT seq, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, prev_hash, hash "
          "FROM records WHERE seq = ?1");
  q.bind(1, static_cast<std::int64_t>(seq));
  if (!q.step()) return std::nullopt;
  StoredRecord r;
  readRecord(q, r);
  return r;
}

}  // namespace mandate::audit
