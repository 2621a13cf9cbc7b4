// libFuzzer target: parse + check + format of policy text.
//
// The input is one policy file. If it contains separator lines (a line that is exactly
// `%%%%`), it is also split there into up to four files a.policy, b.policy, c.policy and
// d.policy, checked together as one program with a.policy as the root; imports of those
// names (e.g. `import "b.policy";`) resolve in memory, anything else fails to resolve.
//
// Properties (violations abort(), which libFuzzer reports as a crash):
//  - parsing, checking, linting and rendering diagnostics never crash (the sanitizers
//    catch memory errors, undefined behaviour and leaks);
//  - every file that parses without errors formats to text that does too, and formatting
//    that text changes nothing: format(format(x)) == format(x);
//  - formatting changes layout only: checking the file alone (imports unresolved) reports the
//    same diagnostic codes before and after.
//
// Built by tests/fuzz/CMakeLists.txt: with MANDATE_FUZZ=ON as the libFuzzer binary
// `fuzz_policy`; otherwise as `fuzz_policy_replay`, which runs the committed corpus
// through the same checks as a ctest test.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "check/program.h"
#include "diag/render.h"
#include "format/formatter.h"
#include "syntax/parser.h"

namespace {

using namespace mandate;

constexpr std::string_view kSeparator = "%%%%";
constexpr std::size_t kMaxFiles = 4;
const char* const kNames[kMaxFiles] = {"a.policy", "b.policy", "c.policy", "d.policy"};

// Splits on lines that are exactly the separator (an optional trailing '\r' allowed).
std::vector<std::string> splitFiles(std::string_view input) {
  std::vector<std::string> parts(1);
  std::size_t pos = 0;
  while (pos <= input.size()) {
    std::size_t nl = input.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? input.size() : nl;
    std::string_view line = input.substr(pos, end - pos);
    std::string_view bare = !line.empty() && line.back() == '\r' ? line.substr(0, line.size() - 1) : line;
    if (bare == kSeparator && parts.size() < kMaxFiles) {
      parts.emplace_back();
    } else {
      parts.back().append(line);
      if (nl != std::string_view::npos) parts.back().push_back('\n');
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return parts;
}

class MemoryProvider : public SourceProvider {
 public:
  explicit MemoryProvider(const std::vector<std::string>& files) : files_(files) {}

  bool resolveImport(const std::string&, const std::string& importPath, LoadedSource& out,
                     std::string& error) override {
    std::string_view p = importPath;
    while (p.substr(0, 2) == "./") p.remove_prefix(2);
    for (std::size_t i = 0; i < files_.size(); ++i) {
      if (p == kNames[i]) {
        out.key = kNames[i];
        out.display = kNames[i];
        out.text = files_[i];
        return true;
      }
    }
    error = "no such file";
    return false;
  }

 private:
  const std::vector<std::string>& files_;
};

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b = {}) {
  std::fprintf(stderr, "\n==fuzz_policy== PROPERTY VIOLATED: %s\n", what);
  std::fprintf(stderr, "---- text (%zu bytes) ----\n%s\n", a.size(), a.c_str());
  if (!b.empty()) std::fprintf(stderr, "---- then (%zu bytes) ----\n%s\n", b.size(), b.c_str());
  std::fprintf(stderr, "----\n");
  std::abort();
}

// Set per input: whether to render SARIF too. Building the SARIF rule table is costly
// (it cuts throughput fourfold), so only one input in 16, chosen by a hash of its bytes so that
// a reproducer behaves the same when replayed alone.
bool gRenderSarif = false;

// Renders every diagnostic the ways the CLI can (exercises the span and column arithmetic).
void renderAll(const SourceSet& sources, const Diagnostics& diags) {
  std::size_t n = 0;
  for (const auto& d : diags.all()) n += renderText(sources, d, TextStyle{(n & 1) != 0}).size();
  n += renderJson(sources, diags.all()).size();
  if (gRenderSarif) n += renderSarif(sources, diags.all(), "fuzz").size();
  if (n == 0 && !diags.all().empty()) std::abort();  // keeps the calls observable
}

// Parses `text` alone; returns whether it parsed without errors and, if so, its formatted form.
// Like `mandate fmt`, only such files are formatted: errors the parser reports on a tree it did
// build (an unknown escape, a schema item declared twice) mean the tree lacks some of the text.
bool parseAndFormat(const std::string& text, std::string& formatted) {
  SourceSet sources;
  FileId id = sources.add("fmt.policy", text);
  Diagnostics diags;
  ast::File file = parseFile(sources, id, diags);
  renderAll(sources, diags);
  if (!file.parsed || diags.errorCount() > 0) return false;
  formatted = formatFile(file, sources.file(id));
  return true;
}

class NoImports : public SourceProvider {
 public:
  bool resolveImport(const std::string&, const std::string&, LoadedSource&, std::string& error) override {
    error = "no such file";
    return false;
  }
};

// The diagnostic codes of checking `text` alone, sorted (formatting moves spans, so order differs).
std::vector<std::string_view> checkCodes(const std::string& text) {
  NoImports provider;
  std::vector<LoadedSource> roots;
  roots.push_back(LoadedSource{"fmt.policy", "fmt.policy", text});
  Diagnostics diags;
  checkProgram(std::move(roots), provider, diags);
  std::vector<std::string_view> codes;
  for (const auto& d : diags.all()) codes.push_back(codeInfo(d.code).id);
  std::sort(codes.begin(), codes.end());
  return codes;
}

void checkFormatter(const std::string& text) {
  std::string once;
  if (!parseAndFormat(text, once)) return;
  std::string twice;
  if (!parseAndFormat(once, twice)) fail("formatted text does not parse cleanly", text, once);
  if (twice != once) fail("formatting is not idempotent: format(format(x)) != format(x)", once, twice);
  // Formatting changes layout only: checking finds the same problems before and after.
  if (checkCodes(text) != checkCodes(once)) fail("formatting changed the diagnostics of checking", text, once);
}

void checkFiles(const std::vector<std::string>& files) {
  MemoryProvider provider(files);
  std::vector<LoadedSource> roots;
  roots.push_back(LoadedSource{kNames[0], kNames[0], files[0]});
  Diagnostics diags;
  auto program = checkProgram(std::move(roots), provider, diags);
  if (!program) std::abort();
  renderAll(program->sources, diags);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : input) hash = (hash ^ c) * 16777619u;
  gRenderSarif = (hash & 15u) == 0;
  checkFiles({input});
  checkFormatter(input);
  std::vector<std::string> parts = splitFiles(input);
  if (parts.size() > 1) {
    checkFiles(parts);
    for (const auto& part : parts) checkFormatter(part);
  }
  return 0;
}
