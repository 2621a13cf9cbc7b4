#pragma once
// Diagnostics: stable codes, severities, spans and hints. Rendering lives in render.h.
#include <string>
#include <string_view>
#include <vector>

#include "source/source.h"

namespace mandate {

enum class Severity { Error, Warning };

enum class Code {
#define DIAG(code, sev, name, summary) code,
#include "diag/codes.def"
#undef DIAG
};

struct CodeInfo {
  Code code;
  std::string_view id;  // "E0201"
  Severity severity;
  std::string_view name;
  std::string_view summary;
};

const CodeInfo& codeInfo(Code c);
const std::vector<CodeInfo>& allCodes();

struct Diagnostic {
  Code code;
  Severity severity;
  Span span;
  std::string message;
  std::string hint;  // empty when none
};

// Collects diagnostics, enforcing the error cap (E0105 is emitted once when reached).
class Diagnostics {
 public:
  static constexpr std::size_t kDefaultMaxErrors = 100;
  explicit Diagnostics(std::size_t maxErrors = kDefaultMaxErrors) : maxErrors_(maxErrors) {}

  void report(Code code, Span span, std::string message, std::string hint = {});
  const std::vector<Diagnostic>& all() const { return diags_; }
  std::size_t errorCount() const { return errors_; }
  std::size_t warningCount() const { return warnings_; }
  bool capped() const { return capped_; }
  // Sorts by file, line, column so output is stable regardless of checking order.
  void sort();

 private:
  std::size_t maxErrors_;
  std::size_t errors_ = 0;
  std::size_t warnings_ = 0;
  bool capped_ = false;
  std::vector<Diagnostic> diags_;
};

// "did you mean" support: the closest candidate by edit distance, or empty.
std::string closestMatch(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace mandate
