#include "oauth/metrics.h"

#include <fmt/format.h>

namespace mandate::oauth {

const char* endpointName(Endpoint e) {
  switch (e) {
    case Endpoint::Token: return "token";
    case Endpoint::Introspect: return "introspect";
    case Endpoint::Revoke: return "revoke";
    case Endpoint::Jwks: return "jwks";
    case Endpoint::Discovery: return "discovery";
    case Endpoint::Health: return "health";
    case Endpoint::Metrics: return "metrics";
    case Endpoint::Other:
    case Endpoint::Count: break;
  }
  return "other";
}

void Metrics::request(Endpoint e, int status, double seconds) {
  auto ei = static_cast<std::size_t>(e);
  std::size_t si = kStatuses.size();
  for (std::size_t i = 0; i < kStatuses.size(); ++i)
    if (kStatuses[i] == status) si = i;
  byStatus_[ei][si].fetch_add(1, std::memory_order_relaxed);
  std::size_t bi = kBuckets.size();
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) {
      bi = i;
      break;
    }
  latency_[ei][bi].fetch_add(1, std::memory_order_relaxed);
  latencySumMicros_[ei].fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::tokenDenied(const std::string& ruleId) {
  std::lock_guard lock(deniedMutex_);
  ++deniedByRule_[ruleId];
}

namespace {
// Prometheus label values escape backslash, double quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}
}  // namespace

std::string Metrics::render(const std::string& policyHash, std::size_t connections) const {
  std::string out;
  out += "# HELP mandate_http_requests_total HTTP requests by endpoint and status code.\n";
  out += "# TYPE mandate_http_requests_total counter\n";
  for (std::size_t e = 0; e < kE; ++e)
    for (std::size_t s = 0; s <= kStatuses.size(); ++s) {
      auto n = byStatus_[e][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::string code = s < kStatuses.size() ? std::to_string(kStatuses[s]) : "other";
      out += fmt::format("mandate_http_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n",
                         endpointName(static_cast<Endpoint>(e)), code, n);
    }
  out += "# HELP mandate_http_request_duration_seconds Time from a complete request to its response.\n";
  out += "# TYPE mandate_http_request_duration_seconds histogram\n";
  for (std::size_t e = 0; e < kE; ++e) {
    std::uint64_t cumulative = 0;
    const char* name = endpointName(static_cast<Endpoint>(e));
    for (std::size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += latency_[e][b].load(std::memory_order_relaxed);
      std::string le = b < kBuckets.size() ? fmt::format("{}", kBuckets[b]) : "+Inf";
      out += fmt::format("mandate_http_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", name, le,
                         cumulative);
    }
    out += fmt::format("mandate_http_request_duration_seconds_sum{{endpoint=\"{}\"}} {}\n", name,
                       static_cast<double>(latencySumMicros_[e].load(std::memory_order_relaxed)) / 1e6);
    out += fmt::format("mandate_http_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n", name, cumulative);
  }
  out += "# HELP mandate_tokens_issued_total Access tokens issued.\n# TYPE mandate_tokens_issued_total counter\n";
  out += fmt::format("mandate_tokens_issued_total {}\n", tokensIssued_.load(std::memory_order_relaxed));
  out += "# HELP mandate_tokens_denied_total Token requests refused by the policy, by denying rule.\n";
  out += "# TYPE mandate_tokens_denied_total counter\n";
  {
    std::lock_guard lock(deniedMutex_);
    for (const auto& [rule, n] : deniedByRule_)
      out += fmt::format("mandate_tokens_denied_total{{rule=\"{}\"}} {}\n", label(rule), n);
  }
  out += "# HELP mandate_policy_reloads_total Policy reloads by result.\n# TYPE mandate_policy_reloads_total counter\n";
  out += fmt::format("mandate_policy_reloads_total{{result=\"ok\"}} {}\n", reloadsOk_.load());
  out += fmt::format("mandate_policy_reloads_total{{result=\"refused\"}} {}\n", reloadsFailed_.load());
  out += "# HELP mandate_policy_info The live policy bundle.\n# TYPE mandate_policy_info gauge\n";
  out += fmt::format("mandate_policy_info{{hash=\"{}\"}} 1\n", label(policyHash));
  out += "# HELP mandate_open_connections Open HTTP connections.\n# TYPE mandate_open_connections gauge\n";
  out += fmt::format("mandate_open_connections {}\n", connections);
  return out;
}

}  // namespace mandate::oauth
