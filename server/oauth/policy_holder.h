#pragma once
// The live policy bundle. Requests take a shared snapshot; a reload builds the new bundle off to
// the side and swaps it in atomically, so a request sees either the old or the new bundle whole.
// A bundle that fails to compile or verify is refused and the old one stays live.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "bundle/bundle.h"

namespace mandate::oauth {

struct LoadedPolicy {
  std::unique_ptr<bundle::Bundle> bundle;
  std::string hash;  // "sha256:<hex>"
  std::int64_t loadedMs = 0;
  std::uint64_t generation = 0;  // unique per load: per-thread caches key on it, never on an address
};

// Produces a verified bundle, or nullptr with the reason (diagnostics, verifier error).
using PolicyLoader = std::function<std::unique_ptr<bundle::Bundle>(std::string& error)>;

class PolicyHolder {
 public:
  explicit PolicyHolder(PolicyLoader loader) : loader_(std::move(loader)) {}
  // Called with a verified bundle before it goes live; false (with the reason) keeps the old one.
  using BeforeLive = std::function<bool(const LoadedPolicy& next, std::string& error)>;
  // Loads and swaps; false (old bundle kept) with the reason.
  bool reload(std::int64_t nowMs, std::string& error, const BeforeLive& beforeLive = {});
  std::shared_ptr<const LoadedPolicy> current() const { return current_.load(); }

 private:
  PolicyLoader loader_;
  std::mutex reloadMutex_;  // one reload at a time
  std::uint64_t generation_ = 0;
  std::atomic<std::shared_ptr<const LoadedPolicy>> current_;
};

}  // namespace mandate::oauth
