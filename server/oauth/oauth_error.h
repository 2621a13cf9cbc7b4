#pragma once
// RFC 6749 §5.2 error responses: JSON, the right status, Cache-Control: no-store, and a
// WWW-Authenticate challenge on 401 (RFC 6749 §5.2 for invalid_client with Basic).
#include <string>
#include <vector>

#include "http/server.h"

namespace mandate::oauth {

struct OAuthError {
  OAuthError() = default;
  OAuthError(int s, std::string e, std::string d, std::string c = {})
      : status(s), error(std::move(e)), description(std::move(d)), challenge(std::move(c)) {}
  int status = 400;
  std::string error;        // invalid_request, invalid_client, ...
  std::string description;  // for people; never contains a secret
  std::string challenge;    // WWW-Authenticate value on 401 (e.g. `Basic realm="mandate"`)
  std::vector<std::string> denyingRules;  // a policy refusal: the rules that denied (metrics, audit)
  std::string claimedClient;  // a failed client authentication: the id claimed, if a registered client
};

inline OAuthError invalidRequest(std::string d) { return {400, "invalid_request", std::move(d), {}}; }
inline OAuthError invalidGrant(std::string d) { return {400, "invalid_grant", std::move(d), {}}; }
OAuthError invalidClient(std::string d, bool basicUsed);
// 503: the audit trail cannot record the request, so nothing is issued.
OAuthError auditUnavailable();

http::Response errorResponse(const OAuthError& e);
// A JSON 200 answer with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1).
http::Response noStoreJson(std::string body, int status = 200);

}  // namespace mandate::oauth
