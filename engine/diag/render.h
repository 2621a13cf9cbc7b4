#pragma once
// Diagnostic output: human text with source line and caret, JSON, and SARIF 2.1.0.
#include <string>
#include <vector>

#include "diag/diagnostic.h"

namespace mandate {

struct TextStyle {
  bool color = false;
};

// file:line:col: error: message [E0201]
//    4 |   permit trade when subject.kyc_teir >= 1;
//      |                     ^^^^^^^^^^^^^^^^
//   hint: did you mean `kyc_tier`?
std::string renderText(const SourceSet& sources, const Diagnostic& d, TextStyle style = {});
std::string renderJson(const SourceSet& sources, const std::vector<Diagnostic>& diags);
std::string renderSarif(const SourceSet& sources, const std::vector<Diagnostic>& diags, const std::string& toolVersion);

}  // namespace mandate
