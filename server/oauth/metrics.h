#pragma once
// Prometheus counters for /metrics. Hot-path updates are relaxed atomics; the per-rule denial
// counts take a mutex (denials are the rare path).
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mandate::oauth {

enum class Endpoint : std::uint8_t { Token, Introspect, Revoke, Jwks, Discovery, Health, Metrics, Other, Count };
const char* endpointName(Endpoint e);

class Metrics {
 public:
  static constexpr std::array<int, 11> kStatuses{200, 400, 401, 403, 404, 405, 413, 415, 431, 500, 503};
  static constexpr std::array<double, 11> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};

  void request(Endpoint e, int status, double seconds);
  void tokenIssued() { tokensIssued_.fetch_add(1, std::memory_order_relaxed); }
  void tokenDenied(const std::string& ruleId);
  void policyReload(bool ok) { (ok ? reloadsOk_ : reloadsFailed_).fetch_add(1, std::memory_order_relaxed); }

  // The exposition text; `policyHash` is the live bundle's, `connections` the open ones.
  std::string render(const std::string& policyHash, std::size_t connections) const;

 private:
  static constexpr std::size_t kE = static_cast<std::size_t>(Endpoint::Count);
  std::array<std::array<std::atomic<std::uint64_t>, kStatuses.size() + 1>, kE> byStatus_{};
  std::array<std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1>, kE> latency_{};
  std::array<std::atomic<std::uint64_t>, kE> latencySumMicros_{};
  std::atomic<std::uint64_t> tokensIssued_{0}, reloadsOk_{0}, reloadsFailed_{0};
  mutable std::mutex deniedMutex_;
  std::map<std::string, std::uint64_t> deniedByRule_;
};

}  // namespace mandate::oauth
