#include "oauth/oauth_error.h"

#include <nlohmann/json.hpp>

namespace mandate::oauth {

OAuthError invalidClient(std::string d, bool basicUsed) {
  // RFC 6749 §5.2: 401 with a challenge matching the scheme the client tried; a client that
  // tried none still gets one so it knows how to authenticate.
  (void)basicUsed;
  return {401, "invalid_client", std::move(d), "Basic realm=\"mandate\", error=\"invalid_client\""};
}

http::Response noStoreJson(std::string body, int status) {
  http::Response r;
  r.status = status;
  r.contentType = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Pragma", "no-cache");
  r.body = std::move(body);
  return r;
}

OAuthError auditUnavailable() {
  return {503, "temporarily_unavailable", "the audit trail is unavailable: the request cannot be recorded, so nothing is issued", {}};
}

http::Response errorResponse(const OAuthError& e) {
  nlohmann::json j{{"error", e.error}};
  if (!e.description.empty()) j["error_description"] = e.description;
  auto r = noStoreJson(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), e.status);
  if (e.status == 401 && !e.challenge.empty()) r.headers.emplace_back("WWW-Authenticate", e.challenge);
  return r;
}

}  // namespace mandate::oauth
