#include "server_setup.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "compile_sources.h"

namespace mandate::cli {

std::unique_ptr<store::Store> openDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw store::StoreError("cannot create the data directory " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // keys and token hashes live here
  return store::openSqliteStore(dir + "/mandate.db");
}

std::string pidFilePath(const std::string& dataDir) { return dataDir + "/mandate.pid"; }
std::string auditDbPath(const std::string& dataDir) { return dataDir + "/audit.db"; }

std::unique_ptr<bundle::Bundle> loadPolicy(const std::string& policiesDir, const std::string& bundleFile,
                                           const std::string& trustedKeyPem, std::string& error) {
  if (!bundleFile.empty()) {
    bundle::LoadOptions options;
    if (!trustedKeyPem.empty()) {
      bundle::PublicKey key;
      if (!bundle::publicKeyFromPem(trustedKeyPem, key, error)) return nullptr;
      options.requireSignature = true;
      options.trustedKeys.push_back(key);
    }
    std::unique_ptr<bundle::Bundle> b;
    if (!loadBundleFile(bundleFile, options, b, error)) return nullptr;
    return b;
  }
  Compiled c;
  std::ostringstream diags;
  int rc = compileSources({policiesDir}, nullptr, c, diags);
  if (rc != kExitOk) {
    error = "policies in " + policiesDir + " do not compile:\n" + diags.str();
    while (!error.empty() && error.back() == '\n') error.pop_back();
    return nullptr;
  }
  // The loader verifies what the compiler produced, exactly as for a bundle file.
  auto b = bundle::load(c.bytes, {}, error);
  if (!b) error = "the compiled bundle failed verification: " + error;
  return b;
}

std::int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool validId(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id)
    if (c < 0x20 || c > 0x7E) return false;
  return true;
}

void printJsonOrText(bool json, const std::string& jsonText, const std::string& text) {
  std::cout << (json ? jsonText : text) << "\n";
}

}  // namespace mandate::cli
