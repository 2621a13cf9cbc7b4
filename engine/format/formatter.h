#pragma once
// The canonical layout of a policy file. Formatting depends only on the AST, the comments
// and where the source had blank lines, so formatting formatted text changes nothing.
#include <string>

#include "ast/ast.h"

namespace mandate {

struct FormatOptions {
  std::size_t width = 100;  // lines longer than this are broken where the layout allows
};

// `file` must come straight from the parser (not checked: the checker rewrites some literals).
std::string formatFile(const ast::File& file, const SourceFile& source, const FormatOptions& options = {});

}  // namespace mandate
