#include "diag/diagnostic.h"

#include <algorithm>

namespace mandate {

const std::vector<CodeInfo>& allCodes() {
  static const std::vector<CodeInfo> table = {
#define DIAG(code, sev, name, summary) {Code::code, #code, Severity::sev, #name, summary},
#include "diag/codes.def"
#undef DIAG
  };
  return table;
}

const CodeInfo& codeInfo(Code c) { return allCodes()[static_cast<std::size_t>(c)]; }

void Diagnostics::report(Code code, Span span, std::string message, std::string hint) {
  if (capped_) return;
  Severity sev = codeInfo(code).severity;
  if (sev == Severity::Error && errors_ >= maxErrors_) {
    capped_ = true;
    diags_.push_back({Code::E0105, Severity::Error, span,
                      "too many errors (limit " + std::to_string(maxErrors_) + "); stopping here", ""});
    ++errors_;
    return;
  }
  (sev == Severity::Error ? errors_ : warnings_)++;
  diags_.push_back({code, sev, span, std::move(message), std::move(hint)});
}

void Diagnostics::sort() {
  // The cap marker stays last: it describes everything after it.
  auto end = diags_.end();
  if (capped_) --end;
  std::stable_sort(diags_.begin(), end, [](const Diagnostic& a, const Diagnostic& b) {
    if (a.span.file != b.span.file) return a.span.file < b.span.file;
    if (a.span.line != b.span.line) return a.span.line < b.span.line;
    return a.span.col < b.span.col;
  });
}

namespace {
// Optimal string alignment distance: a transposition ("teir" for "tier") is one edit.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}
}  // namespace

std::string closestMatch(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t bestDist = 0;
  std::size_t allowed = std::max<std::size_t>(1, name.size() / 3);
  for (const auto& c : candidates) {
    std::size_t d = editDistance(name, c);
    if (d <= allowed && (best.empty() || d < bestDist)) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

}  // namespace mandate
