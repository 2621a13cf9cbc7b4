// mandate inspect FILE and mandate disasm FILE
#include <iostream>
#include <memory>

#include "bytecode/disasm.h"
#include "commands.h"
#include "compile_sources.h"

namespace mandate::cli {
namespace {

struct InspectArgs {
  std::string file;
  std::string trustedKey;
  bool requireSignature = false;
};

bool loadFor(const InspectArgs& a, std::unique_ptr<bundle::Bundle>& b, const char* cmd) {
  bundle::LoadOptions opts;
  opts.requireSignature = a.requireSignature || !a.trustedKey.empty();
  std::string error;
  if (!a.trustedKey.empty()) {
    std::string pem;
    bundle::PublicKey key;
    if (!readWholeFile(a.trustedKey, 64 * 1024, pem, error) || !bundle::publicKeyFromPem(pem, key, error)) {
      std::cerr << "mandate " << cmd << ": " << error << "\n";
      return false;
    }
    opts.trustedKeys.push_back(key);
  }
  if (!loadBundleFile(a.file, opts, b, error)) {
    std::cerr << "mandate " << cmd << ": " << error << "\n";
    return false;
  }
  return true;
}

int runInspect(const InspectArgs& a) {
  std::unique_ptr<bundle::Bundle> b;
  if (!loadFor(a, b, "inspect")) return kExitProblems;
  std::cout << "bundle:        " << a.file << "\n";
  std::cout << "format:        " << bundle::kFormatVersion << "\n";
  std::cout << "policy hash:   " << b->contentHash << "\n";
  std::cout << "schema hash:   sha256:" << bundle::hex(b->schemaHash.data(), 32) << "\n";
  std::cout << "signer:        " << (b->signerKey.empty() ? "(unsigned)" : "ed25519:" + b->signerKey) << "\n";
  std::cout << "rules:         " << b->rules.size() << "\n";
  std::cout << "instructions:  " << b->code.size() << " (worst case per decision: " << b->worstCaseInstructions << ")\n";
  std::cout << "constants:     " << b->constants.size() << "\n\n";
  std::cout << "rule table:\n";
  for (const auto& r : b->rules) {
    std::cout << "  " << r.id << "  " << bundle::ruleKindName(r.kind) << "  " << r.file << ":" << r.line << ":" << r.col;
    if (!r.reason.empty()) std::cout << "  \"" << r.reason << "\"";
    if (!r.cite.empty()) std::cout << "  [" << r.cite << "]";
    std::cout << "\n";
  }
  return kExitOk;
}

int runDisasm(const InspectArgs& a) {
  std::unique_ptr<bundle::Bundle> b;
  if (!loadFor(a, b, "disasm")) return kExitProblems;
  std::cout << bc::disassemble(*b);
  return kExitOk;
}

void common(CLI::App* cmd, std::shared_ptr<InspectArgs> args) {
  cmd->add_option("file", args->file, "Bundle file")->required();
  cmd->add_flag("--require-signature", args->requireSignature, "Refuse an unsigned bundle");
  cmd->add_option("--trusted-key", args->trustedKey, "Ed25519 public key (PEM) the bundle must be signed by");
}

}  // namespace

void addInspectCommands(CLI::App& app, int& result) {
  auto ia = std::make_shared<InspectArgs>();
  CLI::App* inspect = app.add_subcommand("inspect", "Verify a bundle and show its header, hash, signer and rule table");
  common(inspect, ia);
  inspect->callback([ia, &result] { result = runInspect(*ia); });
  auto da = std::make_shared<InspectArgs>();
  CLI::App* disasm = app.add_subcommand("disasm", "Verify a bundle and print its bytecode");
  common(disasm, da);
  disasm->callback([da, &result] { result = runDisasm(*da); });
}

}  // namespace mandate::cli
