#include "oauth/policy_holder.h"

#include <exception>

namespace mandate::oauth {

bool PolicyHolder::reload(std::int64_t nowMs, std::string& error, const BeforeLive& beforeLive) {
  std::lock_guard lock(reloadMutex_);
  std::unique_ptr<bundle::Bundle> b;
  try {
    b = loader_(error);
  } catch (const std::exception& e) {
    error = e.what();
    b.reset();
  }
  if (!b) {
    if (error.empty()) error = "the policy loader returned no bundle";
    return false;
  }
  if (!b->schema.present) {
    error = "the policy bundle has no schema";
    return false;
  }
  auto next = std::make_shared<LoadedPolicy>();
  next->hash = b->contentHash;
  next->bundle = std::move(b);
  next->loadedMs = nowMs;
  if (beforeLive) {
    bool ready = false;
    try {
      ready = beforeLive(*next, error);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!ready) {
      if (error.empty()) error = "the policy bundle was not put live";
      return false;
    }
  }
  next->generation = ++generation_;
  current_.store(std::shared_ptr<const LoadedPolicy>(std::move(next)));
  return true;
}

}  // namespace mandate::oauth
