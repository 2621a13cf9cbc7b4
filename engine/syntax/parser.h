#pragma once
// Source text -> AST. The only place that touches ANTLR; never throws.
#include <cstddef>

#include "ast/ast.h"
#include "diag/diagnostic.h"

namespace mandate {

struct ParseLimits {
  std::size_t maxFileBytes = 1024 * 1024;  // policy files are small; 1 MiB is generous
  std::size_t maxNesting = 64;             // ( and { depth; the parser recurses per level
  std::size_t maxSyntaxErrors = 25;        // per file; recovery stops after this many
};

// Parses one file of `sources`. On any error the diagnostics say why and File::parsed
// reports whether an AST could be built (syntax errors leave parsed == false so that
// checking does not cascade from a broken tree).
ast::File parseFile(const SourceSet& sources, FileId id, Diagnostics& diags,
                    const ParseLimits& limits = {});

}  // namespace mandate
