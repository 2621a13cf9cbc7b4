#pragma once
// Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
// RFC 7523 §2.2 / §3): exactly one method per request, and it must be the one the client
// registered. Unknown client, wrong secret, disabled client: the same invalid_client answer, so
// the endpoint tells an attacker nothing about which ids exist.
#include <memory>
#include <optional>
#include <string>

#include "http/server.h"
#include "oauth/context.h"
#include "oauth/form.h"
#include "oauth/oauth_error.h"

namespace mandate::oauth {

struct AuthenticatedClient {
  std::shared_ptr<const ClientEntry> entry;
  std::string method;  // client_secret_basic | client_secret_post | private_key_jwt
  // Authenticator assurance of the client's credential (request.aal in the policy input):
  // a shared secret is AAL1; proof of possession of a registered private key is AAL2.
  int aal = 1;
};

// `endpointUrl`: the URL the request was sent to (also accepted as an assertion audience).
std::optional<AuthenticatedClient> authenticateClient(Context& ctx, const http::Request& req, const Form& form,
                                                      const std::string& endpointUrl, OAuthError& error);

inline constexpr std::size_t kMaxClientIdBytes = 256;
inline constexpr std::size_t kMaxSecretBytes = 512;
inline constexpr std::size_t kMaxAssertionBytes = 8192;

}  // namespace mandate::oauth
