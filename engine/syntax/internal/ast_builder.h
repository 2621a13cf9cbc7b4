#pragma once
#include "PolicyParser.h"
#include "ast/ast.h"
#include "diag/diagnostic.h"

namespace mandate::syntax {

// Lowers a parse tree that had no syntax errors into the AST, validating literal text.
void buildAst(PolicyParser::File_Context* tree, ast::File& out, Diagnostics& diags);

}  // namespace mandate::syntax
