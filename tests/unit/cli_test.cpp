// `mandate check` and friends: exit codes, the text layout (location, source line, caret,
// hint), JSON and SARIF output, and --help.
#include <algorithm>
#include <cstring>
#include <regex>
#include <set>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support.h"

using namespace unit;
using nlohmann::json;

namespace {

// kSchema is 33 lines, so `policy p {` is line 34 and its rules start on line 35.
std::string withSchema(const std::string& policyBody) { return std::string(kSchema) + "policy p {\n" + policyBody + "}\n"; }

const std::string kClean = withSchema("  permit read;\n  deny trade on cfd because \"no CFDs\";\n");
const std::string kWarningOnly = withSchema("  permit read;\n  deny trade on cfd;\n");  // W0403 on line 36
const std::string kErrors = withSchema(
    "  permit read;\n"
    "  permit trade when subject.kyc_teir >= 1;\n"                                                   // 36
    "\tdeny withdraw when subject.residence == \"\xC3\xA9\" or risk.scor > 1 because \"x\";\n"      // 37
    "  deny trade on cfd;\n");                                                                         // 38

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::size_t codePoints(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The substring of `s` from code point `from`, `count` code points long.
std::string cpSubstr(const std::string& s, std::size_t from, std::size_t count) {
  std::size_t i = 0, cp = 0, begin = std::string::npos;
  for (; i <= s.size(); ++i) {
    if (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (cp == from) begin = i;
    if (cp == from + count) return s.substr(begin, i - begin);
    ++cp;
  }
  return begin == std::string::npos ? "" : s.substr(begin);
}

struct Block {
  std::string file;
  std::uint32_t line = 0, col = 0;
  std::string severity, message, code;
  std::string source;      // the quoted source line
  std::string caretPad;    // what precedes the carets
  std::size_t carets = 0;
  std::string hint;
};

// Parses `mandate check` text output into diagnostic blocks, checking the layout strictly.
std::vector<Block> parseText(const std::string& out) {
  static const std::regex head(R"(^(.+):(\d+):(\d+): (error|warning): (.+) \[([EW]\d{4})\]$)");
  static const std::regex src(R"(^ (\d+) \| (.*)$)");
  static const std::regex caret(R"(^ ( +) \| ([ \t]*)(\^+)$)");
  std::vector<Block> blocks;
  auto ls = lines(out);
  for (std::size_t i = 0; i < ls.size(); ++i) {
    std::smatch m;
    if (ls[i].rfind("checked ", 0) == 0) continue;
    if (ls[i].rfind(" hint: ", 0) == 0) {
      REQUIRE_MESSAGE(!blocks.empty(), ls[i]);
      blocks.back().hint = ls[i].substr(7);
      continue;
    }
    REQUIRE_MESSAGE(std::regex_match(ls[i], m, head), "not a diagnostic header: " << ls[i]);
    Block b;
    b.file = m[1];
    b.line = static_cast<std::uint32_t>(std::stoul(m[2]));
    b.col = static_cast<std::uint32_t>(std::stoul(m[3]));
    b.severity = m[4];
    b.message = m[5];
    b.code = m[6];
    REQUIRE(i + 2 < ls.size());
    std::smatch s, c;
    REQUIRE_MESSAGE(std::regex_match(ls[i + 1], s, src), "not a source line: " << ls[i + 1]);
    CHECK(s[1] == std::to_string(b.line));
    b.source = s[2];
    REQUIRE_MESSAGE(std::regex_match(ls[i + 2], c, caret), "not a caret line: " << ls[i + 2]);
    CHECK(c[1].length() == s[1].length());  // the gutter lines up
    b.caretPad = c[2];
    b.carets = static_cast<std::size_t>(c[3].length());
    i += 2;
    blocks.push_back(b);
  }
  return blocks;
}

// The text the carets of `b` underline.
std::string underlined(const Block& b) { return cpSubstr(b.source, codePoints(b.caretPad), b.carets); }

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("exit codes") {
  REQUIRE(std::count(kSchema, kSchema + std::strlen(kSchema), '\n') == 33);  // line numbers below rely on it
  TempDir dir;
  writeFile(dir / "clean.policy", kClean);
  writeFile(dir / "warn.policy", kWarningOnly);
  writeFile(dir / "errors.policy", kErrors);
  auto run = [&](std::vector<std::string> args) { return runMandate(args, dir.path()); };

  auto clean = run({"check", "clean.policy"});
  CHECK(clean.exitCode == 0);
  CHECK(clean.out == "checked 1 file: 0 errors, 0 warnings\n");
  CHECK(run({"check", "-q", "clean.policy"}).out.empty());
  CHECK(run({"check", "--werror", "clean.policy"}).exitCode == 0);

  auto warn = run({"check", "warn.policy"});
  CHECK(warn.exitCode == 0);  // warnings alone do not fail
  CHECK(warn.out.find("warn.policy:36:3: warning: ") != std::string::npos);
  auto werror = run({"check", "--werror", "warn.policy"});
  CHECK(werror.exitCode == 1);
  CHECK(werror.out.find("warn.policy:36:3: error: ") != std::string::npos);
  CHECK(werror.out.find("[W0403]") != std::string::npos);
  CHECK(werror.out.find("checked 1 file: 1 error, 0 warnings (warnings treated as errors)") != std::string::npos);
  CHECK(run({"check", "--werror", "--format", "json", "warn.policy"}).exitCode == 1);

  auto errors = run({"check", "errors.policy"});
  CHECK(errors.exitCode == 1);
  CHECK(errors.out.find("checked 1 file: 3 errors, 1 warning\n") != std::string::npos);
  CHECK(run({"check", "clean.policy", "errors.policy"}).exitCode == 1);
  CHECK(run({"check", "--format", "sarif", "errors.policy"}).exitCode == 1);

  // Usage errors: exit 2, a message on stderr, nothing on stdout.
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"check", "--bogus", "clean.policy"},
           {"check", "--format", "xml", "clean.policy"},
           {"check", "--max-errors", "0", "clean.policy"},
           {"check", "--max-errors", "many", "clean.policy"},
           {"check", "--color", "sometimes", "clean.policy"},
           {"check", "missing.policy"},
           {"check", "clean.policy", "no/such/dir"},
           {"fmt", "--bogus"},
           {"frobnicate"},
           {}}) {
    std::string joined;
    for (const auto& a : bad) joined += a + " ";
    CAPTURE(joined);
    auto r = run(bad);
    CHECK(r.orderly());
    CHECK(r.exitCode == 2);
    CHECK_FALSE(r.err.empty());
    CHECK(r.out.find("checked") == std::string::npos);
  }
  CHECK(run({"check", "missing.policy"}).err.find("no such file or directory: missing.policy") != std::string::npos);
}

TEST_CASE("the default path is the current directory, searched recursively") {
  TempDir dir;
  writeFile(dir / "a" / "b" / "errors.policy", kErrors);
  writeFile(dir / "notes.txt", "not a policy");
  auto r = runMandate({"check"}, dir.path());
  CHECK(r.exitCode == 1);
  CHECK(r.out.find("a/b/errors.policy:36:21: error: ") != std::string::npos);
}

TEST_CASE("text output: location, source line, caret under the exact span, hint") {
  TempDir dir;
  writeFile(dir / "errors.policy", kErrors);
  auto r = runMandate({"check", "errors.policy"}, dir.path());
  INFO(r.out);
  auto blocks = parseText(r.out);
  REQUIRE(blocks.size() == 4);

  // The whole first block, byte for byte.
  CHECK(r.out.rfind(
            "errors.policy:36:21: error: unknown attribute `subject.kyc_teir` [E0201]\n"
            " 36 |   permit trade when subject.kyc_teir >= 1;\n"
            "    |                     ^^^^^^^^^^^^^^^^\n"
            " hint: did you mean `kyc_tier`?\n",
            0) == 0);

  CHECK(blocks[0].file == "errors.policy");
  CHECK(blocks[0].code == "E0201");
  CHECK(underlined(blocks[0]) == "subject.kyc_teir");
  CHECK(blocks[0].hint == "did you mean `kyc_tier`?");

  // A tab-indented line: the column counts the tab as one; the caret line keeps the tab.
  CHECK(blocks[1].line == 37);
  CHECK(blocks[1].col == 21);
  CHECK(blocks[1].code == "E0302");
  CHECK(blocks[1].caretPad.front() == '\t');
  CHECK(underlined(blocks[1]) == "subject.residence == \"\xC3\xA9\"");
  CHECK(blocks[1].hint.empty());

  // After a two-byte character the column is still counted in code points.
  CHECK(blocks[2].line == 37);
  CHECK(blocks[2].col == 49);
  CHECK(blocks[2].code == "E0201");
  CHECK(underlined(blocks[2]) == "risk.scor");
  CHECK(blocks[2].hint == "did you mean `score`?");

  CHECK(blocks[3].severity == "warning");
  CHECK(blocks[3].code == "W0403");
  CHECK(underlined(blocks[3]) == "deny trade on cfd;");
  CHECK(blocks[3].hint.find("because") != std::string::npos);

  for (const auto& b : blocks) {
    CAPTURE(b.message);
    CHECK(codePoints(b.caretPad) + 1 == b.col);  // the caret starts at the reported column
  }
}

TEST_CASE("text output: the caret points at the span on a very long line") {
  TempDir dir;
  for (std::size_t spaces : {250u, 400u, 5000u}) {
    CAPTURE(spaces);
    const std::string prefix = "  permit read when \"\xC3\xA9\" == \"\xC3\xA9\" and" + std::string(spaces, ' ');
    std::string text = withSchema(prefix + "subject.kyc_teir >= 1 and \"\xC3\xA9\xC3\xA9\" == \"x\";\n");
    writeFile(dir / "long.policy", text);
    auto r = runMandate({"check", "long.policy"}, dir.path());
    INFO(r.out.substr(0, 3000));
    auto blocks = parseText(r.out);
    REQUIRE(!blocks.empty());
    CHECK(blocks[0].line == 35);
    CHECK(blocks[0].col == codePoints(prefix) + 1);
    CHECK(underlined(blocks[0]) == "subject.kyc_teir");
    CHECK(lines(r.out)[1].size() < 320);  // the source line is shown as a window
  }
}

TEST_CASE("text output: spans that end past the line, and --color") {
  TempDir dir;
  writeFile(dir / "errors.policy", kErrors);
  auto plain = runMandate({"check", "--color", "never", "errors.policy"}, dir.path());
  CHECK(plain.out.find("\x1b[") == std::string::npos);
  auto piped = runMandate({"check", "errors.policy"}, dir.path());  // auto: not a terminal
  CHECK(piped.out.find("\x1b[") == std::string::npos);
  auto color = runMandate({"check", "--color", "always", "errors.policy"}, dir.path());
  CHECK(color.exitCode == 1);
  CHECK(color.out.find("\x1b[1;31m") != std::string::npos);  // errors in red
  CHECK(color.out.find("\x1b[1;35m") != std::string::npos);  // warnings in magenta
  CHECK(color.out.find("\x1b[0m") != std::string::npos);

  // A multi-line rule: the span starts on the first line; carets stop at its end.
  writeFile(dir / "multi.policy", withSchema("  deny trade\n    when risk.score >= 90;\n"));
  auto multi = runMandate({"check", "multi.policy"}, dir.path());
  auto blocks = parseText(multi.out);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].code == "W0403");
  CHECK(underlined(blocks[0]) == "deny trade");
  CHECK(blocks[0].carets == 10);
}

TEST_CASE("--max-errors caps the report with E0105") {
  TempDir dir;
  std::string body;
  for (int i = 0; i < 5; ++i) body += "  permit trade when subject.nope" + std::to_string(i) + " >= 1;\n";
  writeFile(dir / "five.policy", withSchema(body));
  auto all = runMandate({"check", "--format", "json", "five.policy"}, dir.path());
  CHECK(json::parse(all.out).at("errors") == 5);
  auto capped = runMandate({"check", "--format", "json", "--max-errors", "2", "five.policy"}, dir.path());
  CHECK(capped.exitCode == 1);
  auto j = json::parse(capped.out);
  REQUIRE(j.at("diagnostics").size() == 3);
  CHECK(j["diagnostics"][0]["code"] == "E0201");
  CHECK(j["diagnostics"][1]["code"] == "E0201");
  CHECK(j["diagnostics"][2]["code"] == "E0105");
  CHECK(j["diagnostics"][2]["message"].get<std::string>().find("limit 2") != std::string::npos);
}

TEST_CASE("--format json") {
  TempDir dir;
  writeFile(dir / "errors.policy", kErrors);
  auto r = runMandate({"check", "--format", "json", "errors.policy"}, dir.path());
  CHECK(r.exitCode == 1);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  CHECK(j.at("errors") == 3);
  CHECK(j.at("warnings") == 1);
  const auto& d = j.at("diagnostics");
  REQUIRE(d.size() == 4);
  CHECK(d[0] == json{{"code", "E0201"},
                     {"severity", "error"},
                     {"message", "unknown attribute `subject.kyc_teir`"},
                     {"file", "errors.policy"},
                     {"line", 36},
                     {"column", 21},
                     {"length", 16},
                     {"hint", "did you mean `kyc_tier`?"}});
  CHECK(d[1].at("column") == 21);
  CHECK(d[1].at("length") == 24);
  CHECK_FALSE(d[1].contains("hint"));
  CHECK(d[2].at("line") == 37);
  CHECK(d[2].at("column") == 49);
  CHECK(d[3].at("severity") == "warning");
  CHECK(d[3].at("code") == "W0403");
  for (const auto& x : d) {
    for (const char* field : {"code", "severity", "message", "file", "line", "column", "length"}) {
      CAPTURE(field);
      CHECK(x.contains(field));
    }
  }
  // Clean input: still a document, with an empty list.
  writeFile(dir / "clean.policy", kClean);
  auto clean = runMandate({"check", "--format", "json", "clean.policy"}, dir.path());
  CHECK(clean.exitCode == 0);
  CHECK(json::parse(clean.out) == json{{"diagnostics", json::array()}, {"errors", 0}, {"warnings", 0}});
}

TEST_CASE("--format sarif") {
  TempDir dir;
  writeFile(dir / "errors.policy", kErrors);
  auto r = runMandate({"check", "--format", "sarif", "errors.policy"}, dir.path());
  CHECK(r.exitCode == 1);
  json s;
  REQUIRE_NOTHROW(s = json::parse(r.out));
  CHECK(s.at("version") == "2.1.0");
  CHECK(s.at("$schema").get<std::string>().find("sarif") != std::string::npos);
  REQUIRE(s.at("runs").size() == 1);
  const auto& run = s["runs"][0];
  const auto& driver = run.at("tool").at("driver");
  CHECK(driver.at("name") == "mandate");
  CHECK(driver.contains("version"));
  const auto& rules = driver.at("rules");
  REQUIRE(rules.size() == mandate::allCodes().size());
  std::set<std::string> ids;
  for (const auto& rule : rules) {
    ids.insert(rule.at("id").get<std::string>());
    CHECK(rule.at("shortDescription").at("text").is_string());
    CHECK(rule.at("defaultConfiguration").at("level").is_string());
  }
  for (const char* id : {"E0100", "E0201", "E0206", "W0403"}) CHECK(ids.count(id) == 1);
  const auto& results = run.at("results");
  REQUIRE(results.size() == 4);
  for (const auto& res : results) {
    std::string id = res.at("ruleId");
    CHECK(rules.at(res.at("ruleIndex").get<std::size_t>()).at("id") == id);  // the index points at the rule
    CHECK((res.at("level") == "error" || res.at("level") == "warning"));
    CHECK(res.at("message").at("text").is_string());
    const auto& loc = res.at("locations").at(0).at("physicalLocation");
    CHECK(loc.at("artifactLocation").at("uri") == "errors.policy");
    CHECK(loc.at("region").at("startLine").is_number_integer());
    CHECK(loc.at("region").at("startColumn").is_number_integer());
  }
  CHECK(results[0].at("ruleId") == "E0201");
  CHECK(results[0].at("level") == "error");
  CHECK(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 36);
  CHECK(results[0]["locations"][0]["physicalLocation"]["region"]["startColumn"] == 21);
  CHECK(results[0]["locations"][0]["physicalLocation"]["region"]["endColumn"] == 37);
  CHECK(results[0]["message"]["text"].get<std::string>().find("kyc_tier") != std::string::npos);
  CHECK(results[2]["locations"][0]["physicalLocation"]["region"]["startColumn"] == 49);
  CHECK(results[3].at("ruleId") == "W0403");
  CHECK(results[3].at("level") == "warning");
  // --werror raises the level in SARIF too.
  auto werror = runMandate({"check", "--format", "sarif", "--werror", "errors.policy"}, dir.path());
  CHECK(json::parse(werror.out)["runs"][0]["results"][3]["level"] == "error");
}

TEST_CASE("--help for mandate, check and fmt") {
  auto top = runMandate({"--help"});
  CHECK(top.exitCode == 0);
  CHECK(top.out.find("Usage:") != std::string::npos);
  CHECK(top.out.find("check") != std::string::npos);
  CHECK(top.out.find("fmt") != std::string::npos);

  auto check = runMandate({"check", "--help"});
  CHECK(check.exitCode == 0);
  for (const char* opt : {"--format", "text,json,sarif", "--werror", "--max-errors", "--color", "--quiet", "Exit status"}) {
    CAPTURE(opt);
    CHECK(check.out.find(opt) != std::string::npos);
  }
  auto fmt = runMandate({"fmt", "--help"});
  CHECK(fmt.exitCode == 0);
  for (const char* opt : {"--check", "--stdout", "syntax errors"}) {
    CAPTURE(opt);
    CHECK(fmt.out.find(opt) != std::string::npos);
  }
  auto version = runMandate({"--version"});
  CHECK(version.exitCode == 0);
  CHECK(version.out.rfind("mandate ", 0) == 0);
}

}  // TEST_SUITE("cli")
