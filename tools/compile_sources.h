#pragma once
// Shared by build, eval, test, disasm: check + compile policy sources, or load a bundle file.
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "bundle/codec.h"
#include "check/program.h"

namespace mandate::cli {

struct Compiled {
  std::unique_ptr<Program> program;
  std::unique_ptr<bundle::Bundle> bundle;
  std::string bytes;  // the serialized bundle
};

// Checks and compiles; diagnostics go to `diagOut`. Returns 0, 1 (errors) or 2 (usage).
int compileSources(const std::vector<std::string>& paths, const bundle::Signer* signer, Compiled& out,
                   std::ostream& diagOut);

// Reads and verifies a bundle file. Returns false with the reason.
bool loadBundleFile(const std::string& path, const bundle::LoadOptions& options, std::unique_ptr<bundle::Bundle>& out,
                    std::string& error);

bool readWholeFile(const std::string& path, std::size_t maxBytes, std::string& out, std::string& error);

}  // namespace mandate::cli
