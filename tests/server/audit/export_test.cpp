// Export (JSON lines and CSV, filtered) and show.
#include <doctest/doctest.h>

#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "audit/export.h"
#include "audit/record_hash.h"
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
