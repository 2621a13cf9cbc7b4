#pragma once
// What every endpoint works with. Owned by AuthServer; endpoints borrow it.
#include <string>

#include "oauth/clock.h"
#include "oauth/config.h"
#include "oauth/directory.h"
#include "oauth/keyring.h"
#include "oauth/metrics.h"
#include "oauth/policy_holder.h"
#include "store/store.h"

namespace mandate::oauth {

struct Context {
  Config config;
  std::string issuer;  // no trailing slash
  std::string tokenEndpoint, introspectionEndpoint, revocationEndpoint, jwksUri;
  store::Store& store;
  Directory& directory;
  KeyRing& keys;
  PolicyHolder& policy;
  Metrics& metrics;
  const Clock& clock;
  RandomSource random;

  void setIssuer(const std::string& iss) {
    issuer = iss;
    tokenEndpoint = iss + "/token";
    introspectionEndpoint = iss + "/introspect";
    revocationEndpoint = iss + "/revoke";
    jwksUri = iss + "/jwks";
  }
};

}  // namespace mandate::oauth
