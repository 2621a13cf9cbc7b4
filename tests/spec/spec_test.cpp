// The language spec corpus runner. See tests/spec/README.md for the case layout and the
// annotation format. Every case is checked twice: through the library (checkProgram) and
// through the built `mandate check --format json`, and both must produce exactly the
// annotated diagnostics.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "check/program.h"
#include "diag/diagnostic.h"

namespace fs = std::filesystem;

namespace {

using namespace mandate;

const fs::path kSourceDir = MANDATE_SOURCE_DIR;
const fs::path kCasesDir = kSourceDir / "tests" / "spec" / "cases";
const fs::path kWorkDir = SPEC_WORK_DIR;

std::string canonicalPath(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? fs::absolute(p).lexically_normal().string() : c.string();
}

std::string relToSource(const std::string& path) {
  std::error_code ec;
  fs::path rel = fs::relative(path, kSourceDir, ec);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return path;
  return rel.string();
}

bool readFile(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\n') {
      if (!cur.empty() && cur.back() == '\r') cur.pop_back();
      lines.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// ---- cases and annotations ---------------------------------------------------------

struct Expectation {
  std::string file;  // canonical path
  unsigned line = 0, col = 0;
  std::string code;
  std::string severity;  // "error" | "warning"
  std::string fragment;  // substring of the message; may be empty
  std::optional<std::string> hint;
  unsigned annotationLine = 0;
};

struct Case {
  std::string name;  // e.g. "expr/ip_in_cidr" (relative to cases/, without .policy)
  fs::path path;     // the file or directory handed to the checker
  std::vector<fs::path> files;  // every *.policy of the case, sorted
  std::vector<Expectation> expects;
  std::optional<std::size_t> maxErrors;  // `// spec: max-errors N`
  std::optional<std::size_t> maxFiles;   // `// spec: max-files N` (library only)
  std::vector<std::string> problems;     // malformed annotations, unreadable files
};

std::string describe(const Expectation& e) {
  std::string s = relToSource(e.file) + ":" + std::to_string(e.line) + ":" + std::to_string(e.col) + ": " +
                  e.severity + " " + e.code;
  if (!e.fragment.empty()) s += " \"" + e.fragment + "\"";
  if (e.hint) s += " (hint containing \"" + *e.hint + "\")";
  s += "  [annotation on line " + std::to_string(e.annotationLine) + "]";
  return s;
}

const std::map<std::string, std::string>& codeSeverities() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> out;
    for (const auto& info : allCodes())
      out.emplace(std::string(info.id), info.severity == Severity::Error ? "error" : "warning");
    return out;
  }();
  return m;
}

// Parses the annotations and directives of one file into `c`. `key` is the canonical
// path diagnostics of this file carry.
// A tiny scanner for the annotation grammar (std::regex is slow and noisy to build).
struct Scanner {
  std::string_view s;
  std::size_t i = 0;
  bool eat(std::string_view lit) {
    if (s.substr(i, lit.size()) != lit) return false;
    i += lit.size();
    return true;
  }
  bool spaces() {  // one or more
    std::size_t from = i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return i > from;
  }
  bool number(unsigned& out) {
    std::size_t from = i;
    unsigned long v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - from < 9) v = v * 10 + (s[i++] - '0');
    out = static_cast<unsigned>(v);
    return i > from && (i == s.size() || !std::isdigit(static_cast<unsigned char>(s[i])));
  }
  std::string rest() { return trim(std::string(s.substr(i))); }
};

// `error|warning L:C: CODE [fragment]`
bool parseExpectBody(std::string_view body, Expectation& e) {
  Scanner sc{body};
  if (sc.eat("error")) {
    e.severity = "error";
  } else if (sc.eat("warning")) {
    e.severity = "warning";
  } else {
    return false;
  }
  if (!sc.spaces() || !sc.number(e.line) || !sc.eat(":") || !sc.number(e.col) || !sc.eat(":") || !sc.spaces())
    return false;
  std::size_t at = sc.i;
  if (at + 5 > body.size() || (body[at] != 'E' && body[at] != 'W')) return false;
  for (std::size_t k = 1; k < 5; ++k)
    if (!std::isdigit(static_cast<unsigned char>(body[at + k]))) return false;
  e.code = std::string(body.substr(at, 5));
  sc.i = at + 5;
  if (sc.i < body.size() && !sc.spaces()) return false;
  e.fragment = sc.rest();
  return true;
}

// Where an annotation marker `// expect` (a whole word, any spacing after `//`) starts the
// rest of the line; npos when there is none.
std::size_t findMarker(const std::string& line, std::size_t& after) {
  for (std::size_t at = line.find("//"); at != std::string::npos; at = line.find("//", at + 1)) {
    std::size_t k = at + 2;
    while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
    if (line.compare(k, 6, "expect") != 0) continue;
    k += 6;
    if (k < line.size() && (std::isalnum(static_cast<unsigned char>(line[k])) || line[k] == '_')) continue;
    after = k;
    return at;
  }
  return std::string::npos;
}

// Parses the annotations and directives of one file into `c`. `key` is the canonical
// path diagnostics of this file carry.
void parseAnnotations(Case& c, const std::string& key, const std::string& text) {
  std::vector<std::string> lines = splitLines(text);
  std::string where = relToSource(key);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    unsigned lineNo = static_cast<unsigned>(i + 1);
    auto bad = [&](const std::string& why) {
      c.problems.push_back(where + ":" + std::to_string(lineNo) + ": " + why + ": " + trim(line));
    };
    if (auto at = line.find("// spec:"); at != std::string::npos) {
      Scanner sc{std::string_view(line).substr(at + 8)};
      sc.spaces();
      std::string name;
      for (const char* d : {"max-errors", "max-files", "pad-to"})
        if (sc.eat(d)) name = d;
      unsigned n = 0;
      if (name.empty() || !sc.spaces() || !sc.number(n) || !sc.rest().empty()) {
        bad("malformed directive (want `// spec: max-errors|max-files|pad-to N`)");
        continue;
      }
      if (name == "max-errors") c.maxErrors = n;
      if (name == "max-files") c.maxFiles = n;
      continue;  // pad-to was applied when the case was materialized
    }
    std::size_t after = 0;
    if (findMarker(line, after) == std::string::npos) continue;
    std::string body = trim(line.substr(after));
    if (body.rfind("hint:", 0) == 0) {
      // Must directly follow an expect line (consumed below); a stray one is an error.
      bad("`// expect hint:` must be on the line right after an expect line");
      continue;
    }
    Expectation e;
    if (!parseExpectBody(body, e)) {
      bad("malformed annotation (want `// expect error|warning L:C: CODE [message fragment]`)");
      continue;
    }
    e.file = key;
    e.annotationLine = lineNo;
    auto sev = codeSeverities().find(e.code);
    if (sev == codeSeverities().end()) {
      bad("unknown diagnostic code " + e.code);
      continue;
    }
    if (sev->second != e.severity) {
      bad(e.code + " is " + (sev->second == "error" ? "an error" : "a warning") + ", not " +
          (e.severity == "error" ? "an error" : "a warning"));
      continue;
    }
    if (e.line == 0 || e.col == 0) {
      bad("lines and columns are 1-based");
      continue;
    }
    if (i + 1 < lines.size()) {
      std::string next = trim(lines[i + 1]);
      std::size_t hintAfter = 0;
      if (findMarker(next, hintAfter) == 0) {
        std::string hb = trim(next.substr(hintAfter));
        if (hb.rfind("hint:", 0) == 0 && !trim(hb.substr(5)).empty()) {
          e.hint = trim(hb.substr(5));
          ++i;
        }
      }
    }
    c.expects.push_back(std::move(e));
  }
}

// Writes `text` to `path` unless it already holds exactly that, via a temporary file and a
// rename, so that test processes running in parallel never see a half-written file.
void writeIfChanged(const fs::path& path, const std::string& text) {
  std::string old;
  if (readFile(path, old) && old == text) return;
  fs::create_directories(path.parent_path());
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
  fs::rename(tmp, path);
}

void materializeIfPadded(Case& c, const std::string& group) {
  std::map<fs::path, std::size_t> pads;
  for (const auto& f : c.files) {
    std::string text;
    if (!readFile(f, text)) continue;
    for (const auto& line : splitLines(text)) {
      auto at = line.find("// spec: pad-to ");
      if (at == std::string::npos) continue;
      Scanner sc{std::string_view(line).substr(at + 16)};
      unsigned n = 0;
      if (sc.number(n)) pads[f] = n;
    }
  }
  if (pads.empty()) return;
  fs::path dest = kWorkDir / "cases" / group / c.path.filename();
  std::vector<fs::path> files;
  for (const auto& f : c.files) {
    fs::path copy = fs::is_directory(c.path) ? dest / fs::relative(f, c.path) : dest;
    files.push_back(copy);
    std::string text;
    readFile(f, text);
    if (auto it = pads.find(f); it != pads.end()) {
      if (text.size() > it->second) {
        c.problems.push_back(relToSource(f.string()) + ": already larger than its pad-to size");
        return;
      }
      if (!text.empty() && text.back() != '\n') text += '\n';
      while (text.size() < it->second) {
        std::size_t room = it->second - text.size();
        if (room < 4) {
          text.append(room, '\n');
          break;
        }
        std::size_t len = std::min<std::size_t>(room, 100);
        text += "//" + std::string(len - 3, '-') + "\n";
      }
    }
    writeIfChanged(copy, text);
  }
  c.path = dest;
  c.files = files;
}

std::vector<Case> discoverCases() {
  std::vector<Case> cases;
  std::vector<fs::path> groups;
  for (const auto& g : fs::directory_iterator(kCasesDir))
    if (g.is_directory()) groups.push_back(g.path());
  std::sort(groups.begin(), groups.end());
  for (const auto& g : groups) {
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(g)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) {
      Case c;
      c.path = e;
      c.name = g.filename().string() + "/" + e.stem().string();
      if (fs::is_directory(e)) {
        for (const auto& f : fs::recursive_directory_iterator(e))
          if (f.is_regular_file() && f.path().extension() == ".policy") c.files.push_back(f.path());
        std::sort(c.files.begin(), c.files.end());
        if (c.files.empty()) c.problems.push_back(relToSource(e.string()) + ": a case directory without *.policy files");
      } else if (e.extension() == ".policy") {
        c.files.push_back(e);
      } else {
        c.problems.push_back(relToSource(e.string()) + ": not a case (want NAME.policy or a directory)");
      }
      materializeIfPadded(c, g.filename().string());
      for (const auto& f : c.files) {
        std::string text;
        if (!readFile(f, text)) {
          c.problems.push_back(relToSource(f.string()) + ": cannot read");
          continue;
        }
        parseAnnotations(c, canonicalPath(f), text);
      }
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

const std::vector<Case>& allCases() {
  static const std::vector<Case> cases = discoverCases();
  return cases;
}

// ---- comparison --------------------------------------------------------------------

struct Produced {
  std::string file;  // canonical path; empty when the diagnostic has no location
  unsigned line = 0, col = 0;
  std::string code, severity, message, hint;
};

std::string describe(const Produced& d) {
  std::string s = (d.file.empty() ? std::string("<no location>") : relToSource(d.file) + ":" + std::to_string(d.line) +
                                                                       ":" + std::to_string(d.col)) +
                  ": " + d.severity + " " + d.code + ": " + d.message;
  if (!d.hint.empty()) s += " (hint: " + d.hint + ")";
  return s;
}

bool fits(const Expectation& e, const Produced& d) {
  if (e.file != d.file || e.line != d.line || e.col != d.col || e.code != d.code || e.severity != d.severity)
    return false;
  if (d.message.find(e.fragment) == std::string::npos) return false;
  if (e.hint && d.hint.find(*e.hint) == std::string::npos) return false;
  return true;
}

// Exact one-to-one matching (augmenting paths, so that annotation order never matters).
// Returns a failure report, empty when everything matched.
std::string compare(const Case& c, const std::vector<Produced>& produced, const char* via) {
  const auto& ex = c.expects;
  std::vector<int> owner(ex.size(), -1);  // expectation -> produced index
  std::function<bool(std::size_t, std::vector<bool>&)> augment = [&](std::size_t d, std::vector<bool>& seen) {
    for (std::size_t e = 0; e < ex.size(); ++e) {
      if (seen[e] || !fits(ex[e], produced[d])) continue;
      seen[e] = true;
      if (owner[e] < 0 || augment(static_cast<std::size_t>(owner[e]), seen)) {
        owner[e] = static_cast<int>(d);
        return true;
      }
    }
    return false;
  };
  std::vector<bool> matched(produced.size(), false);
  for (std::size_t d = 0; d < produced.size(); ++d) {
    std::vector<bool> seen(ex.size(), false);
    augment(d, seen);
  }
  for (int o : owner)
    if (o >= 0) matched[static_cast<std::size_t>(o)] = true;
  std::string report;
  for (std::size_t e = 0; e < ex.size(); ++e)
    if (owner[e] < 0) report += "\n  missing:    " + describe(ex[e]);
  for (std::size_t d = 0; d < produced.size(); ++d)
    if (!matched[d]) report += "\n  unexpected: " + describe(produced[d]);
  if (report.empty()) return {};
  return "case " + c.name + " (" + relToSource(c.path.string()) + ") via " + via + ":" + report;
}

// ---- the library path --------------------------------------------------------------

class DiskProvider : public SourceProvider {
 public:
  bool resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                     std::string& error) override {
    fs::path target = fs::path(importPath).is_absolute() ? fs::path(importPath)
                                                         : fs::path(fromKey).parent_path() / importPath;
    std::error_code ec;
    if (!fs::is_regular_file(target, ec)) {
      error = fs::exists(target, ec) ? "it is a directory" : "no such file";
      return false;
    }
    if (!readFile(target, out.text)) {
      error = "cannot read";
      return false;
    }
    out.key = canonicalPath(target);
    out.display = relToSource(out.key);
    return true;
  }
};

std::vector<Produced> runLibrary(const Case& c) {
  std::vector<LoadedSource> roots;
  for (const auto& f : c.files) {
    LoadedSource s;
    s.key = canonicalPath(f);
    s.display = relToSource(s.key);
    REQUIRE(readFile(f, s.text));
    roots.push_back(std::move(s));
  }
  DiskProvider provider;
  Diagnostics diags(c.maxErrors.value_or(Diagnostics::kDefaultMaxErrors));
  CheckOptions options;
  if (c.maxFiles) options.maxFiles = *c.maxFiles;
  auto program = checkProgram(std::move(roots), provider, diags, options);
  std::vector<Produced> out;
  for (const auto& d : diags.all()) {
    Produced p;
    if (d.span.valid() && d.span.file < program->keys.size()) {
      p.file = program->keys[d.span.file];
      p.line = d.span.line;
      p.col = d.span.col;
    }
    p.code = std::string(codeInfo(d.code).id);
    p.severity = d.severity == Severity::Error ? "error" : "warning";
    p.message = d.message;
    p.hint = d.hint;
    if (d.span.valid() && d.span.len == 0)
      FAIL_CHECK(std::string("case " + c.name + " via checkProgram: zero-length span: " + describe(p)));
    out.push_back(std::move(p));
  }
  return out;
}

// ---- the binary path ---------------------------------------------------------------

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out.push_back(ch);
    }
  }
  return out + "'";
}

struct RunResult {
  int exitCode = -1;
  std::string out, err;
};

RunResult runBinary(const std::vector<std::string>& args, const std::string& tag) {
  fs::create_directories(kWorkDir);
  fs::path errFile = kWorkDir / ("stderr-" + tag + "-" + std::to_string(::getpid()) + ".txt");
  // From the source directory, so that paths in messages read the same as through the
  // library (tests/spec/cases/...).
  std::string cmd = "cd " + shellQuote(kSourceDir.string()) + " && " + shellQuote(MANDATE_BINARY);
  for (const auto& a : args) cmd += " " + shellQuote(a);
  cmd += " 2>" + shellQuote(errFile.string());
  RunResult r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, std::string("cannot run " + cmd));
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  readFile(errFile, r.err);
  std::error_code ec;
  fs::remove(errFile, ec);
  return r;
}

std::string tagOf(const std::string& name) {
  std::string t = name;
  std::replace(t.begin(), t.end(), '/', '_');
  return t;
}

// ---- tests -----------------------------------------------------------------------------

TEST_CASE("spec corpus: annotations are well formed") {
  const auto& cases = allCases();
  CHECK_MESSAGE(cases.size() >= 70, std::string("the corpus has only " + std::to_string(cases.size()) + " cases"));
  for (const auto& c : cases)
    for (const auto& p : c.problems) FAIL_CHECK(std::string("case " + c.name + ": " + p));
}

TEST_CASE("spec corpus: through the library") {
  for (const auto& c : allCases()) {
    if (!c.problems.empty()) continue;  // reported by the well-formedness test
    std::string report = compare(c, runLibrary(c), "checkProgram");
    if (!report.empty()) FAIL_CHECK(std::string(report));
  }
}

TEST_CASE("spec corpus: through mandate check --format json") {
  for (const auto& c : allCases()) {
    if (!c.problems.empty()) continue;
    if (c.maxFiles) continue;  // the CLI has no file-count option; the library run covers it
    std::vector<std::string> args = {"check", "--format", "json"};
    if (c.maxErrors) {
      args.push_back("--max-errors");
      args.push_back(std::to_string(*c.maxErrors));
    }
    args.push_back(c.path.string());
    RunResult r = runBinary(args, tagOf(c.name));
    std::string where = "case " + c.name + " via mandate check: ";
    if (!r.err.empty()) {
      FAIL_CHECK(std::string(where + "unexpected output on stderr:\n" + r.err));
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      FAIL_CHECK(std::string(where + "output is not JSON (" + e.what() + "):\n" + r.out));
      continue;
    }
    std::vector<Produced> produced;
    std::size_t errors = 0, warnings = 0;
    bool shapeOk = j.is_object() && j.contains("diagnostics") && j["diagnostics"].is_array() &&
                   j.contains("errors") && j.contains("warnings");
    if (!shapeOk) {
      FAIL_CHECK(std::string(where + "unexpected JSON shape:\n" + r.out));
      continue;
    }
    for (const auto& d : j["diagnostics"]) {
      Produced p;
      p.code = d.value("code", "");
      p.severity = d.value("severity", "");
      p.message = d.value("message", "");
      p.hint = d.value("hint", "");
      if (d.contains("file")) {
        p.file = canonicalPath(kSourceDir / d["file"].get<std::string>());
        p.line = d.value("line", 0u);
        p.col = d.value("column", 0u);
        if (d.value("length", 0u) == 0) FAIL_CHECK(std::string(where + "zero-length span: " + describe(p)));
      }
      (p.severity == "error" ? errors : warnings)++;
      produced.push_back(std::move(p));
    }
    CHECK_MESSAGE(j["errors"].get<std::size_t>() == errors, std::string(where + "\"errors\" does not count the error diagnostics"));
    CHECK_MESSAGE(j["warnings"].get<std::size_t>() == warnings,
                  std::string(where + "\"warnings\" does not count the warning diagnostics"));
    std::string report = compare(c, produced, "mandate check --format json");
    if (!report.empty()) FAIL_CHECK(std::string(report));
    bool expectErrors = std::any_of(c.expects.begin(), c.expects.end(), [](const Expectation& e) { return e.severity == "error"; });
    CHECK_MESSAGE(r.exitCode == (expectErrors ? 1 : 0),
                  std::string(where + "exit status " + std::to_string(r.exitCode) + ", expected " + (expectErrors ? "1" : "0")));
  }
}

TEST_CASE("spec corpus: every diagnostic code has a case") {
  std::map<std::string, int> seen;
  for (const auto& c : allCases())
    for (const auto& e : c.expects) seen[e.code]++;
  for (const auto& info : allCodes()) {
    CHECK_MESSAGE(seen.count(std::string(info.id)) > 0,
                  std::string("no spec case expects " + std::string(info.id) + " (" + std::string(info.name) + "): add one under tests/spec/cases/"));
  }
}

}  // namespace
