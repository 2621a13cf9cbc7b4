#include "oauth/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace mandate::oauth {

namespace {

// The file's settings, flattened to "section.key" -> JSON value, so TOML and JSON files are
// applied by one routine.
void flatten(const nlohmann::json& j, const std::string& prefix, std::vector<std::pair<std::string, nlohmann::json>>& out) {
  for (auto& [k, v] : j.items()) {
    std::string name = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object()) {
      flatten(v, name, out);
    } else {
      out.emplace_back(name, v);
    }
  }
}

nlohmann::json tomlToJson(const toml::node& node) {
  if (auto* t = node.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [k, v] : *t) j[std::string(k.str())] = tomlToJson(v);
    return j;
  }
  if (auto* a = node.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (auto& v : *a) j.push_back(tomlToJson(v));
    return j;
  }
  if (auto v = node.value<bool>(); node.is_boolean()) return *v;
  if (node.is_integer()) return *node.value<std::int64_t>();
  if (node.is_floating_point()) return *node.value<double>();
  if (node.is_string()) return *node.value<std::string>();
  return nullptr;  // dates and times: not used by any setting
}

bool getString(const nlohmann::json& v, std::string& out) {
  if (!v.is_string()) return false;
  out = v.get<std::string>();
  return true;
}
bool getInt(const nlohmann::json& v, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (!v.is_number_integer()) return false;
  auto n = v.get<std::int64_t>();
  if (n < min || n > max) return false;
  out = n;
  return true;
}

bool applySetting(const std::string& key, const nlohmann::json& v, Config& c, std::string& why) {
  std::int64_t n = 0;
  auto str = [&](std::string& field) { return getString(v, field) || (why = "expected a string", false); };
  auto num = [&](std::int64_t min, std::int64_t max, auto& field) {
    if (!getInt(v, min, max, n)) {
      why = "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
      return false;
    }
    field = static_cast<std::remove_reference_t<decltype(field)>>(n);
    return true;
  };
  if (key == "data_dir") return str(c.dataDir);
  if (key == "listen") return str(c.listen);
  if (key == "issuer") return str(c.issuer);
  if (key == "policies") return str(c.policies);
  if (key == "bundle") return str(c.bundle);
  if (key == "bundle_trusted_key") return str(c.bundleTrustedKey);
  if (key == "signing_alg") return str(c.signingAlg);
  if (key == "threads") return num(0, 256, c.http.threads);
  if (key == "limits.max_header_bytes") return num(1024, 1 << 20, c.http.maxHeaderBytes);
  if (key == "limits.max_body_bytes") return num(1024, 16 << 20, c.http.maxBodyBytes);
  if (key == "limits.max_connections") return num(1, 1'000'000, c.http.maxConnections);
  if (key == "limits.read_timeout_ms") {
    std::int64_t ms = 0;
    if (!num(10, 3'600'000, ms)) return false;
    c.http.readTimeout = std::chrono::milliseconds(ms);
    return true;
  }
  if (key == "limits.idle_timeout_ms") {
    std::int64_t ms = 0;
    if (!num(10, 86'400'000, ms)) return false;
    c.http.idleTimeout = std::chrono::milliseconds(ms);
    return true;
  }
  if (key == "tls.cert") return str(c.http.tlsCertFile);
  if (key == "tls.key") return str(c.http.tlsKeyFile);
  if (key == "tls.client_ca") return str(c.http.tlsClientCaFile);
  if (key == "tokens.max_access_ttl_s") return num(1, 86'400, c.tokens.maxAccessTtlS);
  if (key == "tokens.refresh_ttl_s") return num(60, 365LL * 86'400, c.tokens.refreshTtlS);
  if (key == "tokens.refresh_absolute_s") return num(60, 365LL * 86'400, c.tokens.refreshAbsoluteS);
  if (key == "tokens.assertion_max_lifetime_s") return num(1, 3600, c.tokens.assertionMaxLifetimeS);
  if (key == "tokens.clock_skew_s") return num(0, 300, c.tokens.clockSkewS);
  if (key == "tokens.precompute_signatures") return num(0, 65'536, c.tokens.precomputeSignatures);
  if (key == "audit.enabled") {
    if (!v.is_boolean()) return why = "expected true or false", false;
    c.audit.enabled = v.get<bool>();
    return true;
  }
  if (key == "audit.checkpoint_every") return num(1, 100'000'000, c.audit.checkpointEvery);
  if (key == "audit.checkpoint_interval_s") return num(1, 86'400, c.audit.checkpointIntervalS);
  if (key == "audit.commit_delay_us") return num(0, 100'000, c.audit.commitDelayUs);
  if (key == "store.wal_truncate_interval_s") return num(10, 86'400, c.store.walTruncateIntervalS);
  why = "unknown setting";
  return false;
}

}  // namespace

bool applyConfigFile(const std::string& path, Config& config, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read the configuration file " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > 1024 * 1024) {
    error = path + ": larger than 1 MiB";
    return false;
  }
  nlohmann::json root;
  bool isJson = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (isJson) {
    root = nlohmann::json::parse(text, nullptr, false);
    if (root.is_discarded() || !root.is_object()) {
      error = path + ": not a JSON object";
      return false;
    }
  } else {
    try {
      root = tomlToJson(toml::parse(text, path));
    } catch (const toml::parse_error& e) {
      std::ostringstream os;
      os << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
      error = os.str();
      return false;
    }
  }
  std::vector<std::pair<std::string, nlohmann::json>> settings;
  flatten(root, "", settings);
  for (const auto& [key, value] : settings) {
    std::string why;
    if (!applySetting(key, value, config, why)) {
      error = path + ": `" + key + "`: " + why;
      return false;
    }
  }
  return true;
}

bool applyEnvironment(Config& config, std::string& error) {
  struct Var {
    const char* name;
    std::string* field;
  };
  for (Var v : {Var{"MANDATE_DATA_DIR", &config.dataDir}, Var{"MANDATE_LISTEN", &config.listen},
                Var{"MANDATE_ISSUER", &config.issuer}, Var{"MANDATE_POLICIES", &config.policies},
                Var{"MANDATE_BUNDLE", &config.bundle}}) {
    if (const char* value = std::getenv(v.name)) *v.field = value;
  }
  if (const char* t = std::getenv("MANDATE_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(t, &end, 10);
    if (end == t || *end != '\0' || n < 0 || n > 256) {
      error = "MANDATE_THREADS: expected an integer from 0 to 256";
      return false;
    }
    config.http.threads = static_cast<unsigned>(n);
  }
  if (const char* d = std::getenv("MANDATE_AUDIT_COMMIT_DELAY_US")) {
    char* end = nullptr;
    long long n = std::strtoll(d, &end, 10);
    if (end == d || *end != '\0' || n < 0 || n > 100'000) {
      error = "MANDATE_AUDIT_COMMIT_DELAY_US: expected an integer from 0 to 100000";
      return false;
    }
    config.audit.commitDelayUs = n;
  }
  if (const char* a = std::getenv("MANDATE_AUDIT")) {
    if (!parseOnOff(a, config.audit.enabled)) {
      error = "MANDATE_AUDIT: expected on or off";
      return false;
    }
  }
  return true;
}

bool parseOnOff(const std::string& text, bool& out) {
  if (text == "on" || text == "true" || text == "1") return out = true, true;
  if (text == "off" || text == "false" || text == "0") return out = false, true;
  return false;
}

bool finishConfig(Config& config, std::string& error) {
  const std::string& l = config.listen;
  std::string host, port;
  if (!l.empty() && l[0] == '[') {
    auto close = l.find(']');
    if (close == std::string::npos || close + 1 >= l.size() || l[close + 1] != ':') {
      error = "--listen: expected HOST:PORT or [IPv6]:PORT, got `" + l + "`";
      return false;
    }
    host = l.substr(1, close - 1);
    port = l.substr(close + 2);
  } else {
    auto colon = l.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      error = "--listen: expected HOST:PORT, got `" + l + "`";
      return false;
    }
    host = l.substr(0, colon);
    port = l.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    error = "--listen: bad port `" + port + "`";
    return false;
  }
  config.http.host = host;
  config.http.port = static_cast<std::uint16_t>(p);
  if (config.issuer.empty()) config.issuer = "http://" + l;
  while (config.issuer.size() > 1 && config.issuer.back() == '/') config.issuer.pop_back();
  if (config.issuer.rfind("https://", 0) != 0 && config.issuer.rfind("http://", 0) != 0) {
    error = "--issuer: expected an http(s) URL, got `" + config.issuer + "`";
    return false;
  }
  if (config.issuer.find_first_of("?#") != std::string::npos) {
    error = "--issuer: must not have a query or fragment (RFC 8414 §2)";
    return false;
  }
  return true;
}

}  // namespace mandate::oauth
