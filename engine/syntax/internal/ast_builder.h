#pragma once
#include "PolicyParser.h"
#include "ast/ast.h"
#include "diag/diagnostic.h"

namespace mandate::syntax {

// Lowers a parse tree that had no syntax errors into the AST, validating literal text.
// Returns false (with no items) when an expression is too deep to build (E0104).
bool buildAst(PolicyParser::File_Context* tree, ast::File& out, Diagnostics& diags);

}  // namespace mandate::syntax
