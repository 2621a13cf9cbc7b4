#include "compile_sources.h"

#include <ostream>

#include "commands.h"
#include "compile/compiler.h"
#include "diag/render.h"
#include "files.h"

namespace mandate::cli {

bool readWholeFile(const std::string& path, std::size_t maxBytes, std::string& out, std::string& error) {
  if (!readFileLimited(path, maxBytes, out, error)) {
    error = "cannot read " + path + ": " + error;
    return false;
  }
  if (out.size() > maxBytes) {
    error = path + " is larger than " + std::to_string(maxBytes) + " bytes";
    return false;
  }
  return true;
}

int compileSources(const std::vector<std::string>& paths, const bundle::Signer* signer, Compiled& out,
                   std::ostream& diagOut) {
  CheckOptions opts;
  std::vector<LoadedSource> roots;
  std::vector<std::string> unreadable;
  std::string error;
  if (!collectSources(paths, opts.parse.maxFileBytes, roots, unreadable, error)) {
    diagOut << "mandate: " << error << "\n";
    return kExitUsage;
  }
  if (roots.empty()) {
    diagOut << "mandate: no .policy files found\n";
    return kExitUsage;
  }
  FileSystemProvider provider(opts.parse.maxFileBytes);
  Diagnostics diags;
  for (const auto& u : unreadable) diags.report(Code::E0106, Span{}, "cannot read " + u);
  out.program = checkProgram(std::move(roots), provider, diags, opts);
  if (diags.errorCount() == 0) {
    out.bundle = compileProgram(*out.program, diags);
  }
  diags.sort();
  for (const auto& d : diags.all()) {
    if (d.severity == Severity::Error) diagOut << renderText(out.program->sources, d);
  }
  if (diags.errorCount() > 0 || !out.bundle) return kExitProblems;
  out.bytes = bundle::serialize(*out.bundle, signer);
  return kExitOk;
}

bool loadBundleFile(const std::string& path, const bundle::LoadOptions& options, std::unique_ptr<bundle::Bundle>& out,
                    std::string& error) {
  std::string bytes;
  if (!readWholeFile(path, bundle::kMaxBundleBytes, bytes, error)) return false;
  std::string why;
  out = bundle::load(bytes, options, why);
  if (!out) {
    error = path + ": refused: " + why;
    return false;
  }
  return true;
}

}  // namespace mandate::cli
