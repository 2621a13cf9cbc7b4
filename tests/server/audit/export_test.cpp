// Export (JSON lines and CSV, filtered) and show.
#include <doctest/doctest.h>

#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "audit/export.h"
#include "audit/record_hash.h"
#include "audit/verify.h"
#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

namespace {
std::vector<std::string> lines(const std::string& text, const char* sep = "\n") {
  std::vector<std::string> out;
  std::size_t pos = 0, nl;
  while ((nl = text.find(sep, pos)) != std::string::npos) {
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + std::string(sep).size();
  }
  return out;
}
}  // namespace

TEST_CASE("export: JSON lines, filtered by time, subject and type, in sequence order") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  std::int64_t middle = 0;
  {
    auto log = AuditLog::open(path);
    for (int i = 1; i <= 10; ++i) log->appendSync(sampleRecord(i, i % 2 ? "acct-odd" : "acct-even"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    middle = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (int i = 11; i <= 20; ++i) log->appendSync(sampleRecord(i, i % 2 ? "acct-odd" : "acct-even"));
  }
  std::ostringstream all;
  CHECK(exportRecords(path, {}, Format::Jsonl, all) == 20);
  auto ls = lines(all.str());
  REQUIRE(ls.size() == 20);
  auto first = nlohmann::json::parse(ls[0]);
  CHECK(first["seq"] == 1);
  CHECK(first["type"] == "token.issued");
  CHECK(first["actor"] == nlohmann::json{{"client", "bot-1"}, {"subject", "acct-odd"}});
  CHECK(first["data"]["n"] == 1);
  CHECK(first["jti"] == "jti-1");
  CHECK(first["prev_hash"] == std::string(64, '0'));
  CHECK(first["hash"] == toHex(show(path, 1)->hash));
  CHECK(first["ts"].get<std::string>().back() == 'Z');
  CHECK(nlohmann::json::parse(ls[19])["seq"] == 20);

  std::ostringstream later;
  CHECK(exportRecords(path, {middle, std::nullopt, "", ""}, Format::Jsonl, later) == 10);
  CHECK(nlohmann::json::parse(lines(later.str())[0])["seq"] == 11);
  std::ostringstream earlier;
  CHECK(exportRecords(path, {std::nullopt, middle, "", ""}, Format::Jsonl, earlier) == 10);
  std::ostringstream odd;
  CHECK(exportRecords(path, {std::nullopt, std::nullopt, "acct-odd", ""}, Format::Jsonl, odd) == 10);
  for (auto& l : lines(odd.str())) CHECK(nlohmann::json::parse(l)["actor"]["subject"] == "acct-odd");
  std::ostringstream denied;
  CHECK(exportRecords(path, {std::nullopt, std::nullopt, "", "token.denied"}, Format::Jsonl, denied) == 4);  // 5, 10, 15, 20
  std::ostringstream none;
  CHECK(exportRecords(path, {middle, middle, "", ""}, Format::Jsonl, none) == 0);
  CHECK(none.str().empty());
}

TEST_CASE("export: CSV quotes every text cell (RFC 4180) and has a header") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  {
    auto log = AuditLog::open(path);
    auto r = sampleRecord(1);
    r.requestId = "a,\"b\"";
    log->appendSync(r);
  }
  std::ostringstream out;
  CHECK(exportRecords(path, {}, Format::Csv, out) == 1);
  auto ls = lines(out.str(), "\r\n");
  REQUIRE(ls.size() == 2);
  CHECK(ls[0] == "seq,ts,ts_us,type,actor,request_id,source_ip,policy_hash,jti,data,prev_hash,hash");
  CHECK(ls[1].rfind("1,", 0) == 0);
  CHECK(ls[1].find(R"(,"a,""b""",)") != std::string::npos);
  CHECK(ls[1].find(R"("{""client"":""bot-1"",""subject"":""acct-42""}")") != std::string::npos);
}

TEST_CASE("export: show and toJsonLine give one record") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  { AuditLog::open(path)->appendSync(sampleRecord(3)); }
  auto r = show(path, 1);
  REQUIRE(r);
  auto j = nlohmann::json::parse(toJsonLine(*r));
  CHECK(j["seq"] == 1);
  CHECK(j["request_id"] == "req-3");
  CHECK_FALSE(show(path, 2));
  CHECK_FALSE(show(path, 0));
}

namespace {

std::vector<std::int64_t> timesInSeqOrder(const std::string& path) {
  RawDb raw(path);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw.handle(), "SELECT ts_us FROM records ORDER BY seq", -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::int64_t> out;
  while (sqlite3_step(s) == SQLITE_ROW) out.push_back(sqlite3_column_int64(s, 0));
  sqlite3_finalize(s);
  return out;
}

// Every range whose ends are a record's time, one microsecond either side, or beyond both ends,
// exported and counted against the records' times.
void checkRangesExact(const std::string& path) {
  const auto ts = timesInSeqOrder(path);
  REQUIRE(ts.size() > 10);
  std::vector<std::int64_t> points = {ts.front() - 1000, ts.back() + 1000};
  for (std::size_t i = 0; i < ts.size(); i += 7)
    for (std::int64_t d : {-1, 0, 1}) points.push_back(ts[i] + d);
  auto expected = [&](std::optional<std::int64_t> since, std::optional<std::int64_t> until) {
    std::size_t n = 0;
    for (auto t : ts)
      if ((!since || t >= *since) && (!until || t < *until)) ++n;
    return n;
  };
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::int64_t p = points[i];
    std::ostringstream a, b, c;
    CHECK(exportRecords(path, {p, std::nullopt, "", ""}, Format::Jsonl, a) == expected(p, std::nullopt));
    CHECK(exportRecords(path, {std::nullopt, p, "", ""}, Format::Jsonl, b) == expected(std::nullopt, p));
    const std::int64_t q = points[(i * 5 + 3) % points.size()];
    CHECK(exportRecords(path, {std::min(p, q), std::max(p, q), "", ""}, Format::Jsonl, c) ==
          expected(std::min(p, q), std::max(p, q)));
  }
}

}  // namespace

TEST_CASE("export: time ranges are exact, by binary search over seq (no ts index) and on a version-1 log") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  {
    auto log = AuditLog::open(path);
    for (int group = 0; group < 6; ++group) {
      appendN(*log, 20 + group * 3, group * 100);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  {
    RawDb raw(path);
    CHECK(raw.integer("PRAGMA user_version") == 2);
    CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'records_ts'") == 0);
  }
  checkRangesExact(path);

  // A log created by schema version 1 had an index on ts_us: opening it upgrades the version
  // and keeps the index, which export then uses.
  {
    RawDb raw(path);
    raw.exec("CREATE INDEX records_ts ON records (ts_us); PRAGMA user_version = 1");
  }
  {
    auto log = AuditLog::open(path);
    appendN(*log, 5, 1000);
  }
  {
    RawDb raw(path);
    CHECK(raw.integer("PRAGMA user_version") == 2);
    CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'records_ts'") == 1);
  }
  checkRangesExact(path);
  CHECK(verify(path).ok());
}
