#include "diag/render.h"

#include <map>

#include <nlohmann/json.hpp>

namespace mandate {
namespace {

// Byte offset of a 1-based code point column within a line.
std::size_t byteOfColumn(std::string_view line, std::uint32_t col) {
  std::size_t i = 0;
  for (std::uint32_t c = 1; c < col && i < line.size(); ++c) {
    ++i;
    while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

std::uint32_t codePoints(std::string_view s) {
  std::uint32_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

const char* severityName(Severity s) { return s == Severity::Error ? "error" : "warning"; }

std::string location(const SourceSet& sources, const Span& s) {
  if (!s.valid() || s.file >= sources.size()) return "mandate";
  return sources.file(s.file).path + ":" + std::to_string(s.line) + ":" + std::to_string(s.col);
}

// Lines are shown as text: control characters would garble a terminal.
std::string printable(std::string_view line) {
  std::string out;
  for (unsigned char c : line) out.push_back(c < 0x20 && c != '\t' ? ' ' : static_cast<char>(c));
  return out;
}

}  // namespace

std::string renderText(const SourceSet& sources, const Diagnostic& d, TextStyle style) {
  const char* bold = style.color ? "\x1b[1m" : "";
  const char* reset = style.color ? "\x1b[0m" : "";
  const char* sev = style.color ? (d.severity == Severity::Error ? "\x1b[1;31m" : "\x1b[1;35m") : "";
  const CodeInfo& info = codeInfo(d.code);
  std::string out = std::string(bold) + location(sources, d.span) + ":" + reset + " " + sev +
                    severityName(d.severity) + ":" + reset + " " + bold + d.message + reset + " [" +
                    std::string(info.id) + "]\n";
  if (d.span.valid() && d.span.file < sources.size()) {
    std::string_view line = sources.file(d.span.file).lineText(d.span.line);
    std::uint32_t col = d.span.col;
    // A long line is shown as a window of at most 300 bytes that contains the span's start,
    // cut at code point boundaries, so the caret always points at the reported column.
    constexpr std::size_t kWindow = 300;
    std::string lead;
    if (line.size() > kWindow) {
      std::size_t at = byteOfColumn(line, col);
      if (at + 100 > kWindow) {
        std::size_t from = at - 60;
        while (from > 0 && (static_cast<unsigned char>(line[from]) & 0xC0) == 0x80) --from;
        col -= codePoints(line.substr(0, from));  // now a column within the window
        line = line.substr(from);
        lead = "...";
      }
      if (line.size() > kWindow) {
        std::size_t to = kWindow;
        while (to > 0 && (static_cast<unsigned char>(line[to]) & 0xC0) == 0x80) --to;
        line = line.substr(0, to);
      }
    }
    std::string num = std::to_string(d.span.line);
    std::string pad(num.size(), ' ');
    out += " " + num + " | " + lead + printable(line) + "\n";
    std::string caretPad(lead.size(), ' ');
    // Keep tabs so the caret lines up under tab-indented text.
    std::size_t upto = byteOfColumn(line, col);
    for (std::size_t i = 0; i < upto; ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if ((c & 0xC0) == 0x80) continue;
      caretPad.push_back(c == '\t' ? '\t' : ' ');
    }
    std::uint32_t lineLen = codePoints(line);
    std::uint32_t len = d.span.len == 0 ? 1 : d.span.len;
    if (col <= lineLen && col + len - 1 > lineLen) len = lineLen - col + 1;
    if (len > 200) len = 200;
    out += " " + pad + " | " + caretPad + sev + std::string(len, '^') + reset + "\n";
  }
  if (!d.hint.empty()) out += " " + std::string("hint: ") + d.hint + "\n";
  return out;
}

std::string renderJson(const SourceSet& sources, const std::vector<Diagnostic>& diags) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : diags) {
    nlohmann::json j;
    j["code"] = std::string(codeInfo(d.code).id);
    j["severity"] = severityName(d.severity);
    j["message"] = d.message;
    if (d.span.valid() && d.span.file < sources.size()) {
      j["file"] = sources.file(d.span.file).path;
      j["line"] = d.span.line;
      j["column"] = d.span.col;
      j["length"] = d.span.len;
    }
    if (!d.hint.empty()) j["hint"] = d.hint;
    arr.push_back(std::move(j));
  }
  nlohmann::json root;
  root["diagnostics"] = std::move(arr);
  std::size_t errors = 0, warnings = 0;
  for (const auto& d : diags) (d.severity == Severity::Error ? errors : warnings)++;
  root["errors"] = errors;
  root["warnings"] = warnings;
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string renderSarif(const SourceSet& sources, const std::vector<Diagnostic>& diags, const std::string& toolVersion) {
  nlohmann::json rules = nlohmann::json::array();
  std::map<Code, std::size_t> ruleIndex;
  for (const auto& info : allCodes()) {
    ruleIndex[info.code] = rules.size();
    rules.push_back({{"id", std::string(info.id)},
                     {"name", std::string(info.name)},
                     {"shortDescription", {{"text", std::string(info.summary)}}},
                     {"help", {{"text", "See docs/diagnostics.md, section " + std::string(info.id)}}},
                     {"defaultConfiguration", {{"level", info.severity == Severity::Error ? "error" : "warning"}}}});
  }
  nlohmann::json results = nlohmann::json::array();
  for (const auto& d : diags) {
    nlohmann::json r;
    r["ruleId"] = std::string(codeInfo(d.code).id);
    r["ruleIndex"] = ruleIndex[d.code];
    r["level"] = d.severity == Severity::Error ? "error" : "warning";
    r["message"] = {{"text", d.hint.empty() ? d.message : d.message + " (" + d.hint + ")"}};
    if (d.span.valid() && d.span.file < sources.size()) {
      r["locations"] = nlohmann::json::array(
          {{{"physicalLocation",
             {{"artifactLocation", {{"uri", sources.file(d.span.file).path}}},
              {"region",
               {{"startLine", d.span.line}, {"startColumn", d.span.col}, {"endColumn", d.span.col + std::max<std::uint32_t>(d.span.len, 1)}}}}}}});
    }
    results.push_back(std::move(r));
  }
  nlohmann::json sarif = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       nlohmann::json::array({{{"tool",
                                {{"driver",
                                  {{"name", "mandate"},
                                   {"version", toolVersion},
                                   {"rules", rules}}}}},
                               {"columnKind", "unicodeCodePoints"},
                               {"results", results}}})}};
  return sarif.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace mandate
