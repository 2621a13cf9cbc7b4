#pragma once
// Token signing keys. The store holds them; the key ring keeps a snapshot for the hot path:
// the key that signs now (with its JWS header encoded once), every published key for
// verification (introspection) and the /jwks document.
//
// Rotation publishes before it signs: `rotate` adds a key that appears in /jwks at once but
// signs only from activeFromMs, so resource servers that cache /jwks see it first; the old key
// stops signing then and stays published until its last tokens have expired.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jose/jose.h"
#include "oauth/clock.h"
#include "store/store.h"

namespace mandate::oauth {

struct PublishedKey {
  std::string kid;
  jose::Key key;
};

struct KeySnapshot {
  std::string signingKid;
  std::shared_ptr<const jose::Key> signing;  // null when the store has no usable key
  std::string encodedHeader;                 // b64url({"alg","kid","typ":"at+jwt"}) + "."
  std::vector<PublishedKey> published;
  std::string jwksJson;
  const jose::Key* find(const std::string& kid) const;
};

struct RotationOptions {
  std::int64_t activateAfterMs = 0;          // publish-to-sign delay for the new key
  std::int64_t keepOldMs = 24 * 3600 * 1000;  // old key stays published this long after it stops signing
  std::string alg = "ES256";
};

class KeyRing {
 public:
  KeyRing(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  // Rebuilds the snapshot from the store (at start, on a store change, and when a pending key's
  // activation time passes).
  void refresh();
  std::shared_ptr<const KeySnapshot> current() const { return snapshot_.load(); }
  // Re-evaluated by the poller: true if a key changes role at this time.
  bool needsRefresh(std::int64_t nowMs) const;

  // Generates the first signing key when the store has none (first start). Returns its kid.
  static std::string ensureKey(store::Store& store, const Clock& clock, const std::string& alg = "ES256");
  // Adds a new key and schedules the old ones' retirement. Returns the new kid.
  static std::string rotate(store::Store& store, const Clock& clock, const RotationOptions& options);

 private:
  store::Store& store_;
  const Clock& clock_;
  std::atomic<std::shared_ptr<const KeySnapshot>> snapshot_;
  std::atomic<std::int64_t> nextChangeMs_{INT64_MAX};
};

}  // namespace mandate::oauth
