// The formatter: golden files, idempotence and meaning preservation over every .policy
// file in the repository, and `mandate fmt` (--check, --stdout, in place, syntax errors).
#include <algorithm>
#include <cstdlib>
#include <set>

#include <doctest/doctest.h>

#include "format/formatter.h"
#include "support.h"
#include "syntax/parser.h"

using namespace mandate;
using namespace unit;

namespace {

// ---- a span-free dump of the AST: equal dumps mean equal programs ---------------------

std::string dump(const ast::Expr& e);

std::string dumpTarget(const ast::Target& t) {
  std::string out = t.allActions ? "all" : "";
  for (const auto& a : t.actions) out += a.text + ",";
  if (t.hasProducts) {
    out += " on " + std::string(t.allProducts ? "all" : "");
    for (const auto& p : t.products) out += p.text + ",";
  }
  return out;
}

std::string dumpType(const ast::TypeRef& t) { return t.name.text + (t.arg ? "<" + dumpType(*t.arg) + ">" : ""); }

std::string dump(const ast::Expr& e) {
  std::string out = "(" + std::to_string(static_cast<int>(e.kind)) + " " + e.text + " " + e.section;
  if (e.kind == ast::ExprKind::Binary) out += std::string(" ") + ast::spelling(e.binop);
  if (e.kind == ast::ExprKind::Unary) out += e.unop == ast::UnOp::Not ? " not" : " neg";
  for (const auto& k : e.kids) out += " " + dump(*k);
  for (const auto& a : e.arms) {
    out += " [";
    for (const auto& p : a.patterns) out += p.isDefault ? "_ " : dump(*p.value) + " ";
    out += "=> " + dump(*a.result) + "]";
  }
  return out + ")";
}

std::string dumpFile(const ast::File& f) {
  std::string out;
  for (const auto& item : f.items) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ast::Import>) {
            out += "import " + x.path + "\n";
          } else if constexpr (std::is_same_v<T, ast::ConstDecl>) {
            out += "const " + x.name.text + (x.declared ? ":" + dumpType(*x.declared) : "") + " = " + dump(*x.value) + "\n";
          } else if constexpr (std::is_same_v<T, ast::SchemaDecl>) {
            out += "schema\n";
            for (auto [kind, idx] : x.order) {
              using K = ast::SchemaDecl::ItemKind;
              auto section = [&](const ast::SectionDecl& s) {
                out += " section " + s.name.text + ":";
                for (const auto& a : s.attrs) out += (a.optional ? " optional " : " ") + a.name.text + ":" + dumpType(a.type);
                out += "\n";
              };
              switch (kind) {
                case K::Enum:
                  out += " enum " + x.enums[idx].name.text + ":";
                  for (const auto& v : x.enums[idx].values) out += " " + v.text;
                  out += "\n";
                  break;
                case K::Actions:
                  out += " actions:";
                  for (const auto& v : *x.actions) out += " " + v.text;
                  out += "\n";
                  break;
                case K::Products:
                  out += " products " + x.productsEnum->text + " on";
                  for (const auto& v : x.productActions) out += " " + v.text;
                  out += "\n";
                  break;
                case K::Limits: section(*x.limits); break;
                case K::Section: section(x.sections[idx]); break;
              }
            }
          } else if constexpr (std::is_same_v<T, ast::Policy>) {
            out += "policy " + x.name.text + (x.title ? " title=" + x.title->text : "") + "\n";
            for (auto [isRule, idx] : x.order) {
              if (!isRule) {
                out += " meta " + x.meta[idx].key + "=" + x.meta[idx].value.text + "\n";
                continue;
              }
              const auto& r = x.rules[idx];
              out += " rule " + std::to_string(static_cast<int>(r.kind)) + (r.label ? " label=" + r.label->text : "") +
                     " target=" + (r.target ? dumpTarget(*r.target) : "-") + " name=" + r.limitName.text + " op=" +
                     ast::spelling(r.requireOp) + " value=" + (r.value ? dump(*r.value) : "-") +
                     " when=" + (r.when ? dump(*r.when) : "-") + " because=" + (r.because ? r.because->text : "-") + "\n";
            }
          } else if constexpr (std::is_same_v<T, ast::TestDecl>) {
            out += "test " + x.name.text + "\n";
            for (auto [isExpect, idx] : x.order) {
              if (isExpect) {
                const auto& e = x.expects[idx];
                out += " expect " + std::to_string(static_cast<int>(e.kind)) + " " + e.name.text + " " +
                       (e.hasTarget ? dumpTarget(e.target) : "-") + " " + ast::spelling(e.op) + " " +
                       (e.value ? dump(*e.value) : "-") + "\n";
              } else {
                const auto& g = x.givens[idx];
                out += " given " + g.section.text + (g.value ? " = " + dump(*g.value) : "") + ":";
                for (const auto& fi : g.fields) out += " " + fi.name.text + "=" + dump(*fi.value);
                out += "\n";
              }
            }
          }
        },
        item);
  }
  return out;
}

struct Parsed {
  bool ok = false;
  std::string ast;
  std::vector<std::string> comments;
  std::string formatted;
  std::string diagnostics;
};

Parsed parseAndFormat(const std::string& text) {
  SourceSet sources;
  FileId id = sources.add("input.policy", text);
  Diagnostics diags;
  ast::File file = parseFile(sources, id, diags);
  Parsed p;
  for (const auto& d : diags.all()) {
    p.diagnostics += std::to_string(d.span.line) + ":" + std::to_string(d.span.col) + " " +
                     std::string(codeInfo(d.code).id) + " " + d.message + "\n";
  }
  // As `mandate fmt`: a file with any error from the parser is not formatted (the tree does
  // not keep erroneous text such as an unknown escape or a malformed path).
  p.ok = file.parsed && diags.errorCount() == 0;
  if (!p.ok) return p;
  p.ast = dumpFile(file);
  for (const auto& c : file.comments) p.comments.push_back(c.text);
  p.formatted = formatFile(file, sources.file(id));
  return p;
}

// The first line where two texts differ, for readable failures.
std::string firstDifference(const std::string& a, const std::string& b) {
  std::size_t line = 1, i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) {
    if (a[i] == '\n') ++line;
    ++i;
  }
  if (i == a.size() && i == b.size()) return "identical";
  auto lineAt = [](const std::string& s, std::size_t pos) {
    std::size_t begin = s.rfind('\n', pos == 0 ? 0 : pos - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    if (pos < s.size() && s[pos] == '\n' && pos > 0) begin = s.rfind('\n', pos - 1) == std::string::npos ? 0 : s.rfind('\n', pos - 1) + 1;
    std::size_t end = s.find('\n', pos);
    return s.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  };
  return "line " + std::to_string(line) + ":\n  expected: " + lineAt(a, i) + "\n  actual:   " + lineAt(b, i);
}

// Every comment of `comments` occurs in `text`, in order.
std::string missingComment(const std::vector<std::string>& comments, const std::string& text) {
  std::size_t pos = 0;
  for (const auto& c : comments) {
    std::size_t at = text.find(c, pos);
    if (at == std::string::npos) return c;
    pos = at + c.size();
  }
  return {};
}

std::vector<fs::path> goldenInputs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kUnitDir / "format"))
    if (e.path().extension() == ".policy") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Every .policy file of the repository, skipping build trees and VCS metadata.
std::vector<fs::path> repositoryPolicies() {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(kSourceDir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (it->is_directory(ec)) {
      if ((it.depth() == 0 && name.rfind("build", 0) == 0) || name == ".git" || name == "node_modules" ||
          name == "mandate-data") {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (p.extension() == ".policy" && it->is_regular_file(ec)) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_SUITE("format") {

TEST_CASE("golden files: each input formats to its golden, and each golden is a fixed point") {
  auto inputs = goldenInputs();
  REQUIRE(inputs.size() >= 12);
  const bool update = std::getenv("MANDATE_UPDATE_GOLDEN") != nullptr;
  for (const auto& in : inputs) {
    CAPTURE(in.filename().string());
    std::string text = readFile(in);
    Parsed p = parseAndFormat(text);
    INFO(p.diagnostics);
    REQUIRE(p.ok);
    fs::path goldenPath = in;
    goldenPath.replace_extension(".golden");
    if (update) writeFile(goldenPath, p.formatted);
    REQUIRE(fs::exists(goldenPath));
    std::string golden = readFile(goldenPath);
    CHECK_MESSAGE(p.formatted == golden, firstDifference(golden, p.formatted));
    CHECK_MESSAGE(missingComment(p.comments, p.formatted).empty(), "lost comment: " << missingComment(p.comments, p.formatted));
    CHECK_MESSAGE(text != golden, "the input is already formatted; it tests nothing");

    Parsed again = parseAndFormat(golden);
    INFO(again.diagnostics);
    REQUIRE(again.ok);
    CHECK_MESSAGE(again.formatted == golden, "golden is not a fixed point: " << firstDifference(golden, again.formatted));
    CHECK_MESSAGE(again.ast == p.ast, "formatting changed the meaning");
    CHECK(again.comments == p.comments);
  }
}

TEST_CASE("golden files: no line is longer than 100 columns unless it cannot be broken") {
  for (const auto& in : goldenInputs()) {
    fs::path goldenPath = in;
    goldenPath.replace_extension(".golden");
    if (!fs::exists(goldenPath)) continue;
    std::string golden = readFile(goldenPath);
    std::size_t lineNo = 0, begin = 0;
    while (begin < golden.size()) {
      std::size_t end = golden.find('\n', begin);
      if (end == std::string::npos) end = golden.size();
      ++lineNo;
      std::string line = golden.substr(begin, end - begin);
      CAPTURE(in.filename().string());
      CAPTURE(lineNo);
      CAPTURE(line);
      // The exceptions: comments and string literals are never broken.
      if (line.find("//") == std::string::npos && line.find('"') == std::string::npos) CHECK(line.size() <= 100);
      CHECK((line.empty() || line.back() != ' '));  // no trailing whitespace
      CHECK(line.find('\t') == std::string::npos);  // spaces only
      begin = end + 1;
    }
    CHECK((!golden.empty() && golden.back() == '\n'));
    CHECK(golden.find("\n\n\n") == std::string::npos);  // at most one blank line
    CHECK(golden.rfind("\n", 0) != 0);                   // no blank line at the start
  }
}

TEST_CASE("idempotent and meaning-preserving over every .policy file in the repository") {
  auto files = repositoryPolicies();
  std::size_t formatted = 0, skipped = 0;
  for (const auto& path : files) {
    CAPTURE(path.string());
    std::string text = readFile(path);
    if (text.size() > ParseLimits{}.maxFileBytes) {
      ++skipped;
      continue;
    }
    Parsed once = parseAndFormat(text);
    if (!once.ok) {
      ++skipped;  // deliberately broken inputs (spec cases, fuzz corpus)
      continue;
    }
    ++formatted;
    Parsed twice = parseAndFormat(once.formatted);
    INFO("formatted text:\n" << once.formatted);
    INFO(twice.diagnostics);
    REQUIRE_MESSAGE(twice.ok, "the formatted text does not parse");
    CHECK_MESSAGE(twice.formatted == once.formatted, "format(format(x)) != format(x) at " << firstDifference(once.formatted, twice.formatted));
    CHECK_MESSAGE(twice.ast == once.ast, "formatting changed the meaning");
    std::string lost = missingComment(once.comments, once.formatted);
    CHECK_MESSAGE(lost.empty(), "lost or reordered comment: " << lost);
    CHECK(twice.comments == once.comments);
  }
  MESSAGE("formatted " << formatted << " files, skipped " << skipped << " that do not parse");
  CHECK(formatted >= goldenInputs().size());  // the walk really found files
}

TEST_CASE("comments inside multi-line expressions are kept") {
  const std::string text =
      "const EU = {\n"
      "  AT, // Austria\n"
      "  BE, // Belgium\n"
      "  // more to come\n"
      "  BG,\n"
      "};\n"
      "policy p {\n"
      "  deny all\n"
      "    // only for the sanctioned\n"
      "    when subject.residence in EU // trailing inside a rule\n"
      "    because \"x\";\n"
      "}\n";
  Parsed once = parseAndFormat(text);
  REQUIRE(once.ok);
  INFO(once.formatted);
  CHECK(missingComment(once.comments, once.formatted).empty());
  Parsed twice = parseAndFormat(once.formatted);
  REQUIRE(twice.ok);
  CHECK(twice.formatted == once.formatted);
  CHECK(twice.ast == once.ast);
}

TEST_CASE("string escapes survive formatting") {
  Parsed p = parseAndFormat("policy p \"a \\\"quoted\\\" \\\\ title\" {\n  cite \"tab\\there\"\n  permit read;\n}\n");
  REQUIRE(p.ok);
  CHECK(p.formatted == "policy p \"a \\\"quoted\\\" \\\\ title\" {\n  cite \"tab\\there\"\n\n  permit read;\n}\n");
}

TEST_CASE("files with errors the parser reports on a built tree are not formatted") {
  // The tree holds `C:` for the title (unescaping stops at `\q`) and an empty name for `has lei`;
  // formatting it would silently drop text, so such files count as not formattable.
  Parsed escape = parseAndFormat("policy p \"C:\\q\\dir\" {\n  permit read;\n}\n");
  CHECK_FALSE(escape.ok);
  CHECK(escape.diagnostics.find("1:10 E0107") != std::string::npos);
  Parsed path = parseAndFormat("policy p {\n  permit read when has lei;\n}\n");
  CHECK_FALSE(path.ok);
  CHECK(path.diagnostics.find("2:24 E0201") != std::string::npos);
}

TEST_CASE("the width option: the same rule stays on one line when it fits") {
  const std::string text = "policy p {\n  deny trade on future when subject.residence == GB and subject.kyc_tier < 2 because \"r\";\n}\n";
  SourceSet sources;
  FileId id = sources.add("w.policy", text);
  Diagnostics diags;
  ast::File file = parseFile(sources, id, diags);
  REQUIRE(file.parsed);
  FormatOptions narrow;
  narrow.width = 60;
  std::string wide = formatFile(file, sources.file(id));
  std::string broken = formatFile(file, sources.file(id), narrow);
  CHECK(wide == text);
  CHECK(broken ==
        "policy p {\n"
        "  deny trade on future\n"
        "    when subject.residence == GB and subject.kyc_tier < 2\n"
        "    because \"r\";\n"
        "}\n");
}

TEST_CASE("an empty file formats to an empty file") {
  Parsed p = parseAndFormat("");
  REQUIRE(p.ok);
  CHECK(p.formatted.empty());
  Parsed blank = parseAndFormat("\n\n   \n\t\n");
  REQUIRE(blank.ok);
  CHECK(blank.formatted.empty());
}

TEST_CASE("CRLF line endings are normalised") {
  Parsed p = parseAndFormat("policy p {\r\n  permit read; // why\r\n\r\n\r\n  permit trade;\r\n}\r\n");
  REQUIRE(p.ok);
  CHECK(p.formatted == "policy p {\n  permit read;  // why\n\n  permit trade;\n}\n");
}

}  // TEST_SUITE("format")

// ---- mandate fmt ------------------------------------------------------------------------

namespace {

const char* kUnformatted = "policy p{permit read  ;deny trade when risk.score>=90 because \"risk\"}\n";
const char* kFormatted =
    "policy p {\n"
    "  permit read;\n"
    "  deny trade when risk.score >= 90 because \"risk\";\n"
    "}\n";
const char* kBroken = "policy p {\n  permit read when (;\n}\n";

}  // namespace

TEST_SUITE("fmt command") {

TEST_CASE("fmt --check: exit 1 and a unified diff for an unformatted file, which is left alone") {
  TempDir dir;
  writeFile(dir / "a.policy", kUnformatted);
  auto r = runMandate({"fmt", "--check", (dir / "a.policy").string()});
  INFO(r.err);
  CHECK(r.exitCode == 1);
  CHECK(r.out.find("--- ") != std::string::npos);
  CHECK(r.out.find("+++ ") != std::string::npos);
  CHECK(r.out.find("a.policy") != std::string::npos);
  CHECK(r.out.find("\n@@ -1,1 +1,4 @@\n") != std::string::npos);
  CHECK(r.out.find("\n-policy p{permit read  ;deny trade when risk.score>=90 because \"risk\"}\n") != std::string::npos);
  CHECK(r.out.find("\n+policy p {\n+  permit read;\n+  deny trade when risk.score >= 90 because \"risk\";\n+}\n") !=
        std::string::npos);
  CHECK(r.err.find("1 of 1 file would be reformatted") != std::string::npos);
  CHECK(readFile(dir / "a.policy") == kUnformatted);
}

TEST_CASE("fmt --check: the diff applies with patch(1) and yields the formatted text") {
  for (const char* name : {"messy_spacing", "long_sets", "comments_blocks", "blank_lines"}) {
    CAPTURE(name);
    TempDir dir;
    fs::copy_file(kUnitDir / "format" / (std::string(name) + ".policy"), dir / "in.policy");
    auto r = runMandate({"fmt", "--check", "in.policy"}, dir.path());
    CHECK(r.exitCode == 1);
    writeFile(dir / "fmt.diff", r.out);
    std::string cmd = "cd '" + dir.path().string() + "' && patch -s -o out.policy in.policy fmt.diff >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(readFile(dir / "out.policy") == readFile(kUnitDir / "format" / (std::string(name) + ".golden")));
  }
}

TEST_CASE("fmt --check: exit 0 and no output for a formatted file") {
  TempDir dir;
  writeFile(dir / "a.policy", kFormatted);
  auto r = runMandate({"fmt", "--check", (dir / "a.policy").string()});
  CHECK(r.exitCode == 0);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
}

TEST_CASE("fmt --check over a directory names only the unformatted files") {
  TempDir dir;
  writeFile(dir / "good.policy", kFormatted);
  writeFile(dir / "sub" / "bad.policy", kUnformatted);
  writeFile(dir / "notes.txt", kUnformatted);  // not a policy file
  auto r = runMandate({"fmt", "--check", dir.path().string()});
  CHECK(r.exitCode == 1);
  CHECK(r.out.find("bad.policy") != std::string::npos);
  CHECK(r.out.find("good.policy") == std::string::npos);
  CHECK(r.out.find("notes.txt") == std::string::npos);
  CHECK(r.err.find("1 of 2 files would be reformatted") != std::string::npos);
}

TEST_CASE("fmt rewrites a file in place, and a second run changes nothing") {
  TempDir dir;
  writeFile(dir / "a.policy", kUnformatted);
  auto r = runMandate({"fmt", "a.policy"}, dir.path());
  CHECK(r.exitCode == 0);
  CHECK(r.out.empty());
  CHECK(r.err.find("formatted a.policy") != std::string::npos);
  CHECK(readFile(dir / "a.policy") == kFormatted);
  CHECK_FALSE(fs::exists(dir / "a.policy.mandate-fmt.tmp"));

  auto again = runMandate({"fmt", "a.policy"}, dir.path());
  CHECK(again.exitCode == 0);
  CHECK(again.err.empty());
  CHECK(readFile(dir / "a.policy") == kFormatted);
}

TEST_CASE("fmt formats a golden input in place into its golden") {
  TempDir dir;
  fs::path in = kUnitDir / "format" / "comments_schema.policy";
  fs::copy_file(in, dir / "x.policy");
  auto r = runMandate({"fmt", (dir / "x.policy").string()});
  CHECK(r.exitCode == 0);
  CHECK(readFile(dir / "x.policy") == readFile(kUnitDir / "format" / "comments_schema.golden"));
}

TEST_CASE("fmt --stdout prints the formatted text and writes nothing") {
  TempDir dir;
  writeFile(dir / "a.policy", kUnformatted);
  auto r = runMandate({"fmt", "--stdout", (dir / "a.policy").string()});
  CHECK(r.exitCode == 0);
  CHECK(r.out == kFormatted);
  CHECK(readFile(dir / "a.policy") == kUnformatted);
}

TEST_CASE("fmt leaves a file with syntax errors untouched and exits 1") {
  TempDir dir;
  writeFile(dir / "broken.policy", kBroken);
  auto before = fs::last_write_time(dir / "broken.policy");
  for (const char* mode : {"", "--check", "--stdout"}) {
    CAPTURE(mode);
    std::vector<std::string> args = {"fmt"};
    if (*mode) args.push_back(mode);
    args.push_back((dir / "broken.policy").string());
    auto r = runMandate(args);
    CHECK(r.exitCode == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("broken.policy:2:") != std::string::npos);
    CHECK(r.err.find("[E0101]") != std::string::npos);
    CHECK(r.err.find("not formatted: it has syntax errors") != std::string::npos);
    CHECK(readFile(dir / "broken.policy") == kBroken);
    CHECK(fs::last_write_time(dir / "broken.policy") == before);
  }
}

TEST_CASE("fmt leaves a file with an invalid escape or a malformed path untouched") {
  TempDir dir;
  const std::string escape = "policy p \"C:\\q\\dir\" {\n  permit read;\n}\n";
  const std::string path = "policy p {\n  permit read when has lei;\n  permit trade when product.name == 1;\n}\n";
  writeFile(dir / "escape.policy", escape);
  writeFile(dir / "path.policy", path);
  auto r = runMandate({"fmt", dir.path().string()});
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("escape.policy:1:10: error: ") != std::string::npos);
  CHECK(r.err.find("[E0107]") != std::string::npos);
  CHECK(r.err.find("path.policy:2:24: error: ") != std::string::npos);
  CHECK(r.err.find("[E0201]") != std::string::npos);
  CHECK(readFile(dir / "escape.policy") == escape);
  CHECK(readFile(dir / "path.policy") == path);
}

TEST_CASE("fmt formats the good files of a directory and leaves the broken one") {
  TempDir dir;
  writeFile(dir / "a_good.policy", kUnformatted);
  writeFile(dir / "b_broken.policy", kBroken);
  auto r = runMandate({"fmt", dir.path().string()});
  CHECK(r.exitCode == 1);
  CHECK(readFile(dir / "a_good.policy") == kFormatted);
  CHECK(readFile(dir / "b_broken.policy") == kBroken);
}

TEST_CASE("fmt: a missing path is a usage error") {
  TempDir dir;
  auto r = runMandate({"fmt", (dir / "nope.policy").string()});
  CHECK(r.exitCode == 2);
  CHECK(r.err.find("no such file or directory") != std::string::npos);
}

}  // TEST_SUITE("fmt command")
