#pragma once
// Shared by `mandate serve` and the admin commands: the data directory, its store, and the
// policy loader (a policies directory compiled, or a bundle file verified).
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bundle/bundle.h"
#include "store/store.h"

namespace mandate::cli {

// Creates DIR (mode 0700) if needed and opens DIR/mandate.db. Throws store::StoreError.
std::unique_ptr<store::Store> openDataDir(const std::string& dir);
std::string pidFilePath(const std::string& dataDir);
// DIR/audit.db: the audit trail (its checkpoint key and file sit next to it).
std::string auditDbPath(const std::string& dataDir);

// Compiles the policies under `policiesDir`, or loads `bundleFile` when it is not empty
// (requiring a signature by `trustedKeyPem` when that is given). nullptr + error on failure.
std::unique_ptr<bundle::Bundle> loadPolicy(const std::string& policiesDir, const std::string& bundleFile,
                                           const std::string& trustedKeyPem, std::string& error);

// Emits JSON on stdout when --json, else the text form.
void printJsonOrText(bool json, const std::string& jsonText, const std::string& text);

// Runs an admin command, turning a store failure into a message and exit status 1.
template <class F>
void guarded(int& result, F f) {
  try {
    result = f();
  } catch (const std::exception& e) {
    std::cerr << "mandate: " << e.what() << "\n";
    result = 1;
  }
}

std::int64_t wallClockMs();
// Client and subject ids: 1..256 printable ASCII characters (RFC 6749 Appendix A.1: client_id is
// VSCHAR, %x20-7E).
bool validId(const std::string& id);

}  // namespace mandate::cli
