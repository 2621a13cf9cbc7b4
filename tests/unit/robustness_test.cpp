// Bad input never crashes or hangs: each is a clear error with a specific code and position,
// through the library (checkProgram) and through the built `mandate check` under a timeout.
#include <chrono>
#include <random>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "diag/render.h"
#include "format/formatter.h"
#include "support.h"
#include "syntax/parser.h"

using namespace mandate;
using namespace unit;

namespace {

struct Where {
  std::string code;
  std::uint32_t line, col;
};

std::string randomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

// A check through the library: nothing thrown, the expected diagnostic present, and every
// diagnostic renders (text, JSON, SARIF) without trouble.
Checked libraryCheck(const std::string& text) {
  auto start = std::chrono::steady_clock::now();
  Checked c = checkText(text);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  CHECK_MESSAGE(ms < 10'000, "checking took " << ms << " ms");
  for (const auto& d : c.diags->all()) CHECK_FALSE(renderText(c.program->sources, d).empty());
  CHECK(nlohmann::json::accept(renderJson(c.program->sources, c.diags->all())));
  CHECK(nlohmann::json::accept(renderSarif(c.program->sources, c.diags->all(), "test")));
  return c;
}

struct BinaryCheck {
  RunResult text, json;
  nlohmann::json diags;  // the JSON diagnostics array
  bool has(const Where& w) const {
    for (const auto& d : diags) {
      if (d.value("code", "") == w.code && d.value("line", 0u) == w.line && d.value("column", 0u) == w.col) return true;
    }
    return false;
  }
  std::size_t count(const std::string& code) const {
    std::size_t n = 0;
    for (const auto& d : diags) n += d.value("code", "") == code;
    return n;
  }
};

// `mandate check FILE` in text and in JSON; both must end in an orderly way with exit 1.
BinaryCheck binaryCheck(const fs::path& file) {
  BinaryCheck b;
  b.text = runMandate({"check", file.filename().string()}, file.parent_path());
  INFO("stderr: " << b.text.err.substr(0, 2000));
  CHECK(b.text.orderly());
  CHECK(b.text.exitCode == 1);
  CHECK(b.text.out.find(" error") != std::string::npos);
  CHECK(b.text.out.find("\nchecked ") != std::string::npos);  // the summary line: it ran to the end
  b.json = runMandate({"check", "--format", "json", file.filename().string()}, file.parent_path());
  CHECK(b.json.orderly());
  CHECK(b.json.exitCode == 1);
  nlohmann::json root;
  REQUIRE_NOTHROW(root = nlohmann::json::parse(b.json.out));
  b.diags = root.at("diagnostics");
  return b;
}

void expectBoth(const std::string& text, const std::vector<Where>& wanted, const std::string& fileName = "bad.policy") {
  {
    Checked c = libraryCheck(text);
    INFO(c.dump().substr(0, 4000));
    for (const auto& w : wanted) {
      CAPTURE(w.code);
      CAPTURE(w.line);
      CAPTURE(w.col);
      CHECK(c.has(w.code, w.line, w.col));
    }
  }
  TempDir dir;
  writeFile(dir / fileName, text);
  BinaryCheck b = binaryCheck(dir / fileName);
  INFO(b.json.out.substr(0, 4000));
  for (const auto& w : wanted) {
    CAPTURE(w.code);
    CAPTURE(w.line);
    CAPTURE(w.col);
    CHECK(b.has(w));
    CHECK(b.text.out.find(fileName + ":" + std::to_string(w.line) + ":" + std::to_string(w.col) + ": error: ") !=
          std::string::npos);
    CHECK(b.text.out.find("[" + w.code + "]") != std::string::npos);
  }
}

const std::string kPolicyHead = std::string(kSchema) + "policy p {\n";  // kSchema has 33 lines

}  // namespace

// ---- through the library ---------------------------------------------------------------

TEST_SUITE("robustness (library)") {

TEST_CASE("binary garbage: random bytes with NULs are invalid UTF-8") {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u}) {
    CAPTURE(seed);
    Checked c = libraryCheck(randomBytes(64 * 1024, seed));
    CHECK(c.count("E0103") == 1);
    CHECK(c.diags->all().size() == 1);  // nothing cascades from it
  }
}

TEST_CASE("binary garbage: control characters and NULs that are valid UTF-8") {
  std::string text = "policy p {\n  permit read;\n}\n";
  text += std::string("\x01\x02\0\0\x7f", 5) + "\n";
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) text.push_back(static_cast<char>(rng() % 0x80));
  Checked c = libraryCheck(text);
  CHECK(c.has("E0108", 4, 1));
  CHECK(c.diags->errorCount() >= 1);
  CHECK(c.diags->all().size() <= Diagnostics::kDefaultMaxErrors + 1);
}

TEST_CASE("invalid UTF-8: the first bad byte, by line and code point column") {
  struct Case {
    const char* name;
    std::string bad;
  };
  const Case cases[] = {
      {"lone continuation byte", "\x80"},
      {"0xFF", "\xFF"},
      {"overlong slash", "\xC0\xAF"},
      {"UTF-16 surrogate", "\xED\xA0\x80"},
      {"beyond U+10FFFF", "\xF4\x90\x80\x80"},
      {"truncated sequence", "\xE2\x82("},
  };
  for (const auto& k : cases) {
    CAPTURE(k.name);
    // Line 3: two spaces, `cite "café ` = 13 code points before the bad byte (é is 2 bytes).
    std::string text = "policy p {\n  permit read;\n  cite \"caf\xC3\xA9 " + k.bad + "\"\n}\n";
    Checked c = libraryCheck(text);
    CHECK(c.has("E0103", 3, 14));
    CHECK(c.diags->all().size() == 1);
  }
  // At the very end of the file, with no newline.
  Checked c = libraryCheck("// \xE2\x82\xAC ok\n\xE2\x82");
  CHECK(c.has("E0103", 2, 1));
}

TEST_CASE("a file over the size limit") {
  std::string text(10 * 1024 * 1024, ' ');
  text.replace(0, 10, "policy p {");
  Checked c = libraryCheck(text);
  CHECK(c.has("E0100", 1, 1));
  CHECK(c.diags->all().size() == 1);
  CHECK(c.diags->all()[0].message.find("limit of 1048576 bytes") != std::string::npos);
  // Exactly at the limit is fine.
  std::string atLimit(ParseLimits{}.maxFileBytes, ' ');
  Checked ok = libraryCheck(atLimit);
  CHECK_FALSE(ok.has("E0100"));
}

TEST_CASE("10,000 nested parentheses and braces stop at the nesting limit") {
  const std::size_t n = 10'000;
  // `const X = ` is 10 columns; the 65th `(` is at column 11 + 64.
  Checked parens = libraryCheck("const X = " + std::string(n, '(') + "1" + std::string(n, ')') + ";\n");
  CHECK(parens.has("E0104", 1, 75));
  CHECK(parens.count("E0104") == 1);
  Checked braces = libraryCheck("const X = " + std::string(n, '{') + "1" + std::string(n, '}') + ";\n");
  CHECK(braces.has("E0104", 1, 75));
  // Exactly 64 levels are allowed.
  Checked ok = libraryCheck("const X = " + std::string(64, '(') + "1" + std::string(64, ')') + ";\n");
  CHECK_FALSE(ok.has("E0104"));
  CHECK_FALSE(ok.has("E0101"));
}

TEST_CASE("deep prefix operators do not exhaust the stack") {
  // `not` and unary `-` nest without brackets; each level is a parser recursion.
  const std::size_t n = 20'000;
  std::string nots;
  for (std::size_t i = 0; i < n; ++i) nots += "not ";
  Checked a = libraryCheck("const X = " + nots + "true;\n");
  CHECK(a.has("E0104", 1, 11 + 4 * 64));  // the 65th `not`
  CHECK(a.count("E0104") == 1);
  Checked b = libraryCheck("const X = " + std::string(n, '-') + "1;\n");
  CHECK(b.has("E0104", 1, 11 + 64));
  // Prefix operators in front of brackets stay open inside them: 32 levels of `-(` are 64 deep.
  std::string mixed, close;
  for (int i = 0; i < 40; ++i) {
    mixed += "-(";
    close += ")";
  }
  Checked c = libraryCheck("const X = " + mixed + "1" + close + ";\n");
  CHECK(c.has("E0104", 1, 11 + 64));  // the 33rd `-`
  // Realistic uses stay well within the limit, however long the rule.
  std::string many = "risk.score == 0";
  for (int i = 0; i < 500; ++i) many += " or not (risk.score == -" + std::to_string(i) + ")";
  Checked d = libraryCheck(kPolicyHead + "  deny all when " + many + " because \"x\";\n}\n");
  CHECK_FALSE(d.has("E0104"));
  CHECK(d.diags->errorCount() == 0);
}

TEST_CASE("very long lines") {
  SUBCASE("an unknown attribute at the end of a 200,000-column line") {
    std::string text = kPolicyHead + "  permit read when" + std::string(200'000, ' ') + "subject.kyc_teir >= 1;\n}\n";
    Checked c = libraryCheck(text);
    CHECK(c.has("E0201", 35, 18 + 200'000 + 1));  // the span of `subject.kyc_teir`
  }
  SUBCASE("a 500,000-byte comment and a 500,000-byte string") {
    std::string text = "// " + std::string(500'000, 'x') + "\npolicy p \"" + std::string(500'000, 'y') + "\" {\n  permit read @;\n}\n";
    Checked c = libraryCheck(text);
    CHECK(c.has("E0108", 3, 15));
  }
  SUBCASE("a const set of 20,000 elements on one line") {
    std::string set = "{";
    for (int i = 0; i < 20'000; ++i) set += (i ? ", " : "") + std::to_string(i);
    Checked c = libraryCheck("const S = " + set + "};\nconst T: set<string> = S;\n");
    CHECK(c.has("E0301", 2, 24));
  }
}

TEST_CASE("long operator chains: up to 1,000 operators, then a clear error instead of a deep tree") {
  // Each operator of a chain is one level of the (left-deep) tree every pass recurses over.
  auto chain = [](int terms, const std::string& op) {
    std::string s = "1";
    for (int i = 1; i < terms; ++i) s += " " + op + " 1";
    return s;
  };
  Checked ok = libraryCheck("const X = " + chain(1001, "+") + ";\nconst Y: string = X;\n");
  CHECK_FALSE(ok.has("E0104"));
  CHECK(ok.has("E0301", 2, 19));  // checked as usual
  bool parsed = false;
  CHECK(formatText("const X = " + chain(1001, "*") + ";\n", parsed).size() > 4000);
  CHECK(parsed);

  Checked sum = libraryCheck("const X = " + chain(30'000, "+") + ";\n");
  CHECK(sum.has("E0104", 1, 11));
  CHECK(sum.count("E0104") == 1);
  CHECK(sum.diags->all().size() == 1);
  Checked product = libraryCheck("const X = " + chain(1002, "*") + ";\n");
  CHECK(product.has("E0104", 1, 11));

  std::string ors = "risk.score == 0";
  for (int i = 1; i < 5'000; ++i) ors += " or risk.score == " + std::to_string(i);
  Checked c = libraryCheck(kPolicyHead + "  deny all when " + ors + " because \"x\";\n}\n");
  INFO(c.dump().substr(0, 2000));
  CHECK(c.has("E0104", 35, 17));
  CHECK(c.diags->all().size() == 1);

  // Nested chains add up: 600 `and`s inside each of two `or` operands... of an `or` chain of 600.
  std::string ands = "true";
  for (int i = 0; i < 600; ++i) ands += " and true";
  std::string nested = "(" + ands + ")";
  for (int i = 0; i < 600; ++i) nested += " or false";
  Checked n = libraryCheck("const X = " + nested + ";\n");
  CHECK(n.has("E0104", 1, 12));
}

TEST_CASE("an unterminated string") {
  Checked c = libraryCheck("policy p \"Unterminated {\n  permit read;\n  deny trade because \"no;\n}\n");
  CHECK(c.has("E0102", 1, 10));
  CHECK(c.has("E0102", 3, 22));
  CHECK(c.count("E0101") == 0);  // no cascade of syntax errors from the rest of the line
  Checked eof = libraryCheck("policy p \"");
  CHECK(eof.has("E0102", 1, 10));
  Checked escaped = libraryCheck("const S = \"ends with an escaped quote \\\"\n");
  CHECK(escaped.has("E0102", 1, 11));
}

TEST_CASE("10,000 tiny syntax errors are capped") {
  std::string text = "policy p {\n";
  for (int i = 0; i < 10'000; ++i) text += "  permit ;\n";
  text += "}\n";
  auto start = std::chrono::steady_clock::now();
  Checked c = libraryCheck(text);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  const std::size_t cap = ParseLimits{}.maxSyntaxErrors;
  CHECK(c.count("E0101") == cap);
  CHECK(c.count("E0105") == 1);
  for (std::uint32_t line = 2; line < 2 + cap; ++line) {
    CAPTURE(line);
    CHECK(c.has("E0101", line, 10));
  }
  CHECK(c.has("E0105", 2 + static_cast<std::uint32_t>(cap), 10));
  CHECK(ms < 5000);
}

TEST_CASE("10,000 bad characters are capped by the error limit") {
  std::string text;
  for (int i = 0; i < 10'000; ++i) text += "@\n";
  Checked c = libraryCheck(text);
  CHECK(c.count("E0108") == Diagnostics::kDefaultMaxErrors);
  CHECK(c.has("E0105", Diagnostics::kDefaultMaxErrors + 1, 1));
  CHECK(c.diags->all().back().code == Code::E0105);
}

TEST_CASE("an import of a missing file") {
  MemoryProvider files;
  Checked c = checkFiles({{"/mem/main.policy", "// header\nimport \"common/missing.policy\";\n"}}, files);
  CHECK(c.has("E0207", 2, 8));
  CHECK(c.count("E0207") == 1);
}

TEST_CASE("import cycles") {
  SUBCASE("two files") {
    MemoryProvider files;
    files.files["/mem/b.policy"] = "// b\n\nimport \"a.policy\";\nconst B = 2;\n";
    Checked c = checkFiles({{"/mem/a.policy", "import \"b.policy\";\nconst A = 1;\n"}}, files);
    INFO(c.dump());
    CHECK(c.count("E0206") == 1);
    CHECK(c.has("E0206", 3, 8));
    for (const auto& d : c.diags->all())
      if (d.code == Code::E0206) CHECK(d.span.file == 1);  // in b.policy, the import that closes the cycle
  }
  SUBCASE("a file importing itself") {
    MemoryProvider files;
    Checked c = checkFiles({{"/mem/self.policy", "const A = 1;\nimport \"./self.policy\";\n"}}, files);
    CHECK(c.count("E0206") == 1);
    CHECK(c.has("E0206", 2, 8));
  }
  SUBCASE("three files") {
    MemoryProvider files;
    files.files["/mem/x/b.policy"] = "import \"../c.policy\";\n";
    files.files["/mem/c.policy"] = "import \"a.policy\";\n";
    Checked c = checkFiles({{"/mem/a.policy", "import \"x/b.policy\";\n"}}, files);
    CHECK(c.count("E0206") == 1);
    CHECK(c.has("E0206", 1, 8));
    REQUIRE(c.count("E0206") == 1);
    for (const auto& d : c.diags->all()) {
      if (d.code != Code::E0206) continue;
      CHECK(d.span.file == 2);  // c.policy closes the cycle
      CHECK(d.message.find("/mem/a.policy -> /mem/x/b.policy -> /mem/c.policy -> /mem/a.policy") != std::string::npos);
    }
  }
}

}  // TEST_SUITE("robustness (library)")

// ---- through the binary ----------------------------------------------------------------

TEST_SUITE("robustness (binary)") {

TEST_CASE("binary garbage") {
  TempDir dir;
  writeFile(dir / "garbage.policy", randomBytes(64 * 1024, 42));
  BinaryCheck b = binaryCheck(dir / "garbage.policy");
  CHECK(b.count("E0103") == 1);
  CHECK(b.diags.size() == 1);
  // Valid UTF-8 control characters and NULs.
  std::string text = "policy p {\n  permit read;\n}\n" + std::string("\x01\x02\0\0\x7f", 5) + "\n";
  expectBoth(text, {{"E0108", 4, 1}});
}

TEST_CASE("invalid UTF-8") {
  expectBoth("policy p {\n  permit read;\n  cite \"caf\xC3\xA9 \xC0\xAF\"\n}\n", {{"E0103", 3, 14}});
}

TEST_CASE("a 10 MB file") {
  TempDir dir;
  std::string text(10 * 1024 * 1024, ' ');
  text.replace(0, 10, "policy p {");
  writeFile(dir / "huge.policy", text);
  BinaryCheck b = binaryCheck(dir / "huge.policy");
  CHECK(b.has({"E0100", 1, 1}));
  CHECK(b.diags.size() == 1);
  CHECK(b.text.out.find("huge.policy:1:1: error: ") != std::string::npos);
}

TEST_CASE("10,000 nested parentheses") {
  expectBoth("const X = " + std::string(10'000, '(') + "1" + std::string(10'000, ')') + ";\n", {{"E0104", 1, 75}});
}

TEST_CASE("deep prefix operators") {
  std::string nots;
  for (int i = 0; i < 200'000; ++i) nots += "not ";
  expectBoth("const X = " + nots + "true;\n", {{"E0104", 1, 11 + 4 * 64}});
}

TEST_CASE("an unterminated string") {
  expectBoth("policy p \"Unterminated {\n  permit read;\n  deny trade because \"no;\n}\n", {{"E0102", 1, 10}, {"E0102", 3, 22}});
}

TEST_CASE("very long lines") {
  std::string text = kPolicyHead + "  permit read when" + std::string(200'000, ' ') + "subject.kyc_teir >= 1;\n}\n";
  expectBoth(text, {{"E0201", 35, 18 + 200'000 + 1}});
  std::string chain = "risk.score == 0";
  for (int i = 1; i < 40'000; ++i) chain += " or risk.score == " + std::to_string(i);
  expectBoth(kPolicyHead + "  deny all when " + chain + " because \"x\";\n}\n", {{"E0104", 35, 17}});
}

TEST_CASE("10,000 tiny syntax errors") {
  std::string text = "policy p {\n";
  for (int i = 0; i < 10'000; ++i) text += "  permit ;\n";
  text += "}\n";
  expectBoth(text, {{"E0101", 2, 10}, {"E0105", 27, 10}});
  TempDir dir;
  writeFile(dir / "many.policy", text);
  BinaryCheck b = binaryCheck(dir / "many.policy");
  CHECK(b.count("E0101") == 25);
  CHECK(b.count("E0105") == 1);
}

TEST_CASE("an import of a missing file") {
  expectBoth("// header\nimport \"common/missing.policy\";\n", {{"E0207", 2, 8}});
}

TEST_CASE("an import cycle") {
  TempDir dir;
  writeFile(dir / "a.policy", "import \"b.policy\";\nconst A = 1;\n");
  writeFile(dir / "b.policy", "// b\n\nimport \"a.policy\";\nconst B = 2;\n");
  auto r = runMandate({"check", "--format", "json", "a.policy"}, dir.path());
  CHECK(r.orderly());
  CHECK(r.exitCode == 1);
  auto root = nlohmann::json::parse(r.out);
  std::size_t cycles = 0;
  for (const auto& d : root.at("diagnostics")) {
    if (d.at("code") != "E0206") continue;
    ++cycles;
    CHECK(d.at("file") == "b.policy");
    CHECK(d.at("line") == 3);
    CHECK(d.at("column") == 8);
    CHECK(d.at("message").get<std::string>().find("a.policy -> b.policy -> a.policy") != std::string::npos);
  }
  CHECK(cycles == 1);
  auto text = runMandate({"check", "."}, dir.path());
  CHECK(text.orderly());
  CHECK(text.exitCode == 1);
  CHECK(text.out.find("b.policy:3:8: error: import cycle") != std::string::npos);
}

TEST_CASE("fmt on bad input exits 1 without touching the files") {
  TempDir dir;
  std::string garbage = randomBytes(4096, 9);
  writeFile(dir / "g.policy", garbage);
  std::string deep = "const X = " + std::string(10'000, '(') + "1" + std::string(10'000, ')') + ";\n";
  writeFile(dir / "d.policy", deep);
  auto r = runMandate({"fmt", dir.path().string()});
  CHECK(r.orderly());
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("[E0103]") != std::string::npos);
  CHECK(r.err.find("[E0104]") != std::string::npos);
  CHECK(readFile(dir / "g.policy") == garbage);
  CHECK(readFile(dir / "d.policy") == deep);
}

}  // TEST_SUITE("robustness (binary)")
