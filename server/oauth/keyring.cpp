#include "oauth/keyring.h"

#include <nlohmann/json.hpp>

#include "oauth/log.h"

namespace mandate::oauth {

const jose::Key* KeySnapshot::find(const std::string& kid) const {
  for (const auto& k : published)
    if (k.kid == kid) return &k.key;
  return nullptr;
}

namespace {
bool isPublished(const store::SigningKey& k, std::int64_t now) { return k.removeAfterMs == 0 || now < k.removeAfterMs; }
bool canSign(const store::SigningKey& k, std::int64_t now) {
  return k.activeFromMs <= now && (k.retiredAtMs == 0 || now < k.retiredAtMs) && isPublished(k, now);
}

store::SigningKey generate(const std::string& algName, std::int64_t now) {
  auto alg = jose::algFromName(algName);
  if (!alg) throw std::runtime_error("unsupported signing algorithm " + algName + " (ES256, EdDSA or PS256)");
  std::string error;
  auto key = jose::Key::generate(*alg, error);
  if (!key) throw std::runtime_error("cannot generate a signing key: " + error);
  store::SigningKey k;
  k.kid = key->thumbprint();  // RFC 7638: a kid that names the key material itself
  k.alg = algName;
  k.privatePem = key->privatePem();
  k.createdMs = now;
  k.activeFromMs = now;
  return k;
}
}  // namespace

void KeyRing::refresh() {
  std::int64_t now = clock_.nowMs();
  auto keys = store_.listKeys();
  auto snap = std::make_shared<KeySnapshot>();
  nlohmann::json jwks{{"keys", nlohmann::json::array()}};
  std::int64_t next = INT64_MAX;
  const store::SigningKey* signer = nullptr;
  for (const auto& k : keys) {
    for (std::int64_t t : {k.activeFromMs, k.retiredAtMs, k.removeAfterMs})
      if (t > now && t < next) next = t;
    if (!isPublished(k, now)) continue;
    std::string error;
    auto key = jose::Key::fromPem(k.privatePem, error);
    if (!key) {
      logEvent(Level::Error, "signing key unusable", {{"kid", k.kid}, {"error", error}});
      continue;
    }
    auto jwk = key->publicJwk();
    jwk["kid"] = k.kid;
    jwk["alg"] = k.alg;
    jwk["use"] = "sig";
    jwks["keys"].push_back(jwk);
    snap->published.push_back({k.kid, *key});
    // The newest key that may sign now signs.
    if (canSign(k, now) && (signer == nullptr || k.activeFromMs >= signer->activeFromMs)) signer = &k;
  }
  if (signer != nullptr) {
    const jose::Key* key = snap->find(signer->kid);
    snap->signingKid = signer->kid;
    snap->signing = std::make_shared<jose::Key>(*key);
    nlohmann::json header{{"alg", signer->alg}, {"kid", signer->kid}, {"typ", "at+jwt"}};
    snap->encodedHeader = jose::b64urlEncode(header.dump()) + ".";
  }
  snap->jwksJson = jwks.dump();
  snapshot_.store(std::shared_ptr<const KeySnapshot>(std::move(snap)));
  nextChangeMs_.store(next);
}

bool KeyRing::needsRefresh(std::int64_t nowMs) const { return nowMs >= nextChangeMs_.load(); }

std::string KeyRing::ensureKey(store::Store& store, const Clock& clock, const std::string& alg) {
  std::int64_t now = clock.nowMs();
  for (const auto& k : store.listKeys())
    if (canSign(k, now) || (k.activeFromMs > now && isPublished(k, now))) return k.kid;
  auto k = generate(alg, now);
  store.insertKey(k);
  return k.kid;
}

std::string KeyRing::rotate(store::Store& store, const Clock& clock, const RotationOptions& options) {
  std::int64_t now = clock.nowMs();
  auto fresh = generate(options.alg, now);
  fresh.activeFromMs = now + options.activateAfterMs;
  for (auto k : store.listKeys()) {
    if (k.retiredAtMs != 0 && k.retiredAtMs <= fresh.activeFromMs) continue;  // already on its way out
    k.retiredAtMs = fresh.activeFromMs;
    k.removeAfterMs = fresh.activeFromMs + options.keepOldMs;
    store.updateKey(k);
  }
  store.insertKey(fresh);
  return fresh.kid;
}

}  // namespace mandate::oauth
