// mandate build POLICIES... -o FILE [--sign KEY.pem]
#include <chrono>
#include <iostream>
#include <memory>

#include "commands.h"
#include "compile_sources.h"
#include "files.h"

namespace mandate::cli {
namespace {

struct BuildArgs {
  std::vector<std::string> paths;
  std::string output;
  std::string signKey;
};

int runBuild(const BuildArgs& a) {
  bundle::Signer signer;
  if (!a.signKey.empty()) {
    std::string pem, error;
    if (!readWholeFile(a.signKey, 64 * 1024, pem, error) || !bundle::makeSigner(pem, signer, error)) {
      std::cerr << "mandate build: " << error << "\n";
      return kExitUsage;
    }
  }
  auto start = std::chrono::steady_clock::now();
  Compiled c;
  int rc = compileSources(a.paths, a.signKey.empty() ? nullptr : &signer, c, std::cerr);
  if (rc != kExitOk) return rc;
  std::string error;
  if (!writeFileAtomic(a.output, c.bytes, error)) {
    std::cerr << "mandate build: " << error << "\n";
    return kExitProblems;
  }
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "built " << a.output << ": " << c.bundle->rules.size() << " rules, " << c.bundle->code.size()
            << " instructions, worst case " << c.bundle->worstCaseInstructions << " instructions per decision, "
            << c.bytes.size() << " bytes, " << (c.bundle->signerKey.empty() ? "unsigned" : "signed by " + c.bundle->signerKey)
            << " (" << static_cast<long>(ms) << " ms)\n";
  std::cout << c.bundle->contentHash << "\n";
  return kExitOk;
}

}  // namespace

void addBuildCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App* cmd = app.add_subcommand("build", "Compile policies into a verified, optionally signed bundle");
  cmd->footer("Prints the bundle's content hash (the policy version carried in tokens) on stdout.\n"
              "Exit status: 0 built, 1 policy errors, 2 usage error.");
  cmd->add_option("paths", args->paths, "Policy files or directories")->required();
  cmd->add_option("-o,--output", args->output, "Bundle file to write")->required();
  cmd->add_option("--sign", args->signKey, "Ed25519 private key (PEM) to sign the bundle with");
  cmd->callback([args, &result] { result = runBuild(*args); });
}

}  // namespace mandate::cli
