// `mandate audit verify|show|export` on a real log, through the binary.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

namespace {
struct Run {
  int status = -1;
  std::string out;
};
Run cli(const std::string& args) {
  std::string cmd = std::string(MANDATE_BINARY) + " " + args + " 2>/dev/null";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
}  // namespace

TEST_CASE("mandate audit: verify an intact log, show a record, export by type, detect a modified copy") {
  TempDir dir;
  std::string path = dir.file("audit.db");
  { appendN(*AuditLog::open(path), 12); }
  auto ok = cli("audit verify --db " + path + " --json");
  CHECK(ok.status == 0);
  auto j = nlohmann::json::parse(ok.out);
  CHECK(j["ok"] == true);
  CHECK(j["records"] == 12);

  auto shown = cli("audit show 3 --db " + path);
  CHECK(shown.status == 0);
  auto rec = nlohmann::json::parse(shown.out);
  CHECK(rec["seq"] == 3);
  CHECK(rec["jti"] == "jti-3");
  CHECK(cli("audit show 99 --db " + path).status == 1);

  auto denied = cli("audit export --db " + path + " --type token.denied --format jsonl");
  CHECK(denied.status == 0);
  int lines = 0;
  for (char c : denied.out) lines += c == '\n';
  CHECK(lines == 2);  // records 5 and 10
  auto csv = cli("audit export --db " + path + " --format csv --since 2000-01-01T00:00:00Z");
  CHECK(csv.status == 0);
  CHECK(csv.out.find("jti-12") != std::string::npos);
  CHECK(cli("audit export --db " + path + " --since yesterday").status == 2);

  {
    RawDb raw(path);  // an attacker with the file: triggers gone, one field changed
    raw.dropTriggers();
    raw.exec("UPDATE records SET source_ip='10.9.9.9' WHERE seq=7");
  }
  auto bad = cli("audit verify --db " + path);
  CHECK(bad.status == 1);
  CHECK(bad.out.find("TAMPERED (modified) at sequence 7") != std::string::npos);
  CHECK(cli("audit verify --db " + dir.file("missing.db")).status == 2);
}
