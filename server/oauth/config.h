#pragma once
// The server's configuration: embedded defaults, overridden by a TOML or JSON file, then by
// MANDATE_* environment variables, then by command-line flags (see docs/server.md).
#include <cstdint>
#include <string>

#include "http/server.h"

namespace mandate::oauth {

struct TokenSettings {
  std::int64_t maxAccessTtlS = 3600;            // ceiling on every access token
  std::int64_t refreshTtlS = 24 * 3600;         // one refresh token
  std::int64_t refreshAbsoluteS = 30 * 24 * 3600;  // a refresh token family, from its first token
  std::int64_t assertionMaxLifetimeS = 300;     // private_key_jwt: exp at most this far ahead
  std::int64_t clockSkewS = 60;                 // tolerated skew on exp / nbf / iat
  // ES256 signature values kept precomputed on idle CPU (oauth::SignAhead); 0: none.
  std::int64_t precomputeSignatures = 1024;
};

struct AuditSettings {
  bool enabled = true;                      // off only for benchmarks: tokens are then unaudited
  std::int64_t checkpointEvery = 1000;      // records between signed checkpoints
  std::int64_t checkpointIntervalS = 60;    // or this long, if anything was appended
  std::int64_t commitDelayUs = 0;           // group commit: wait up to this long for more records
                                            // (ends early once arrivals pause for 100 µs); 0: none
};

struct StoreSettings {
  // Both databases of the data directory (mandate.db, audit.db) get a wal_checkpoint(TRUNCATE)
  // this often; one that finds other connections busy is retried 10 s later.
  std::int64_t walTruncateIntervalS = 300;
};

struct Config {
  std::string dataDir = "./mandate-data";
  std::string listen = "127.0.0.1:8080";
  std::string issuer;  // default: http://<listen>
  std::string policies = "policies";  // a directory of .policy files, compiled at start and reload
  std::string bundle;                 // or a built bundle file (takes precedence)
  std::string bundleTrustedKey;       // PEM public key: the bundle must be signed by it
  std::string portFile;               // written with the bound port once listening
  std::string signingAlg = "ES256";   // of the key generated on first start
  http::Options http;
  TokenSettings tokens;
  AuditSettings audit;
  StoreSettings store;
};

// Applies a TOML (or JSON, by extension .json) file on top of `config`. False with a reason
// that names the file, the key and what is wrong; unknown keys are errors (a typo must not be
// silently ignored in a security product).
bool applyConfigFile(const std::string& path, Config& config, std::string& error);
// MANDATE_DATA_DIR, MANDATE_LISTEN, MANDATE_ISSUER, MANDATE_POLICIES, MANDATE_BUNDLE,
// MANDATE_THREADS, MANDATE_AUDIT (on|off).
bool applyEnvironment(Config& config, std::string& error);
// Splits "host:port" / "[v6]:port" into config.http; fills the default issuer.
bool finishConfig(Config& config, std::string& error);
// "on" / "off" (also true/false, 1/0) for --audit and MANDATE_AUDIT.
bool parseOnOff(const std::string& text, bool& out);

}  // namespace mandate::oauth
