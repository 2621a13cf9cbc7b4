#pragma once
// A checked program: every file reachable from the roots, parsed, resolved, type-checked
// and linted. Loading files is the caller's business (engine/ does no I/O): it hands in
// the roots' text and a SourceProvider that reads imports.
#include <memory>
#include <string>
#include <vector>

#include "ast/ast.h"
#include "diag/diagnostic.h"
#include "schema/schema.h"
#include "syntax/parser.h"

namespace mandate {

struct LoadedSource {
  std::string key;      // identity for de-duplication, e.g. a canonical absolute path
  std::string display;  // shown in diagnostics
  std::string text;
};

class SourceProvider {
 public:
  virtual ~SourceProvider() = default;
  // Reads the file that `importPath`, written in the file `fromKey`, refers to.
  // Returns false with a one-line reason when it cannot.
  virtual bool resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                             std::string& error) = 0;
};

struct Program {
  SourceSet sources;
  std::vector<std::string> keys;  // by FileId
  std::vector<ast::File> files;   // by FileId; never resized after loading (AST pointers point in)
  std::vector<bool> isRoot;       // by FileId
  Schema schema;
  const ast::SchemaDecl* schemaDecl = nullptr;
};

struct CheckOptions {
  ParseLimits parse;
  bool lint = true;
  std::size_t maxFiles = 10'000;
};

std::unique_ptr<Program> checkProgram(std::vector<LoadedSource> roots, SourceProvider& provider,
                                      Diagnostics& diags, const CheckOptions& options = {});

// The passes, exposed for tests. checkProgram runs them in order.
void loadProgram(Program& p, std::vector<LoadedSource> roots, SourceProvider& provider, Diagnostics& diags,
                 const CheckOptions& options);
void resolveAndTypeCheck(Program& p, Diagnostics& diags);
void lintProgram(const Program& p, Diagnostics& diags);

}  // namespace mandate
