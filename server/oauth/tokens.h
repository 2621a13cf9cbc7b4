#pragma once
// Minting and checking tokens. Access tokens are RFC 9068 JWTs signed by the key ring's current
// key; refresh tokens are 256-bit random strings whose SHA-256 alone is stored, chained in
// families for rotation and reuse detection (RFC 9700 §4.14.2).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "oauth/client_auth.h"
#include "oauth/context.h"
#include "oauth/permissions.h"

namespace mandate::oauth {

struct IssueRequest {
  const AuthenticatedClient* client = nullptr;
  const SubjectEntry* subject = nullptr;
  const Grant* grant = nullptr;
  const LoadedPolicy* policy = nullptr;
  std::string resource;            // becomes aud when set
  PermissionRequest original;      // kept with a refresh token, re-evaluated on refresh
  std::string familyId;            // refresh: the family being rotated; empty: a new family
  std::int64_t familyExpiresMs = 0;
};

// What issueTokens minted, for the audit record.
struct IssuedToken {
  std::string jti;
  std::int64_t exp = 0;  // seconds since the epoch
  bool refresh = false;
  std::string familyId;
};

// The token response (200) or an error (500 when no signing key or the store fails).
http::Response issueTokens(Context& ctx, const IssueRequest& req, IssuedToken& issued);

// Verifies one of our access tokens: signature by a published key, typ at+jwt, iss, exp, not
// revoked (by jti or by its refresh family). Returns the claims when active.
std::optional<nlohmann::json> activeAccessToken(Context& ctx, std::string_view token);
// Claims of an access token with a valid signature and issuer, ignoring expiry and revocation
// (revocation needs them to identify the token).
std::optional<nlohmann::json> signedAccessToken(Context& ctx, std::string_view token);

std::string hexSha256(std::string_view s);

}  // namespace mandate::oauth
