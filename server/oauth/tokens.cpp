#include "oauth/tokens.h"

#include "oauth/json_text.h"
#include "oauth/log.h"

namespace mandate::oauth {

std::string hexSha256(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string raw = jose::sha256(s), h;
  h.reserve(64);
  for (unsigned char c : raw) {
    h.push_back(d[c >> 4]);
    h.push_back(d[c & 15]);
  }
  return h;
}

http::Response issueTokens(Context& ctx, const IssueRequest& req, IssuedToken& issued) {
  auto keys = ctx.keys.current();
  if (!keys || !keys->signing) {
    logEvent(Level::Error, "no signing key can sign now");
    return errorResponse({500, "server_error", "no signing key is available", {}});
  }
  const auto& client = req.client->entry->client;
  std::int64_t now = ctx.clock.nowMs();
  std::int64_t ttlMs = std::min<std::int64_t>(client.tokenTtlS, ctx.config.tokens.maxAccessTtlS) * 1000;
  if (req.grant->ttlCapMs >= 0) ttlMs = std::min(ttlMs, req.grant->ttlCapMs);
  std::int64_t ttlS = std::max<std::int64_t>(ttlMs / 1000, 1);
  std::int64_t iat = now / 1000;

  std::string jti = jose::b64urlEncode(ctx.random(16));
  bool wantsRefresh = req.client->entry->hasGrant("refresh_token");
  std::string familyId = req.familyId;
  if (wantsRefresh && familyId.empty()) familyId = jose::b64urlEncode(ctx.random(16));

  // RFC 9068 §2.2 claims, as text (see json_text.h for why not a DOM).
  std::string claims;
  claims.reserve(320 + req.grant->authorizationDetailsJson.size());
  auto member = [&claims](const char* name) {
    claims.push_back(claims.empty() ? '{' : ',');
    claims.push_back('"');
    claims += name;
    claims += "\":";
  };
  member("iss");
  appendJsonString(claims, ctx.issuer);
  member("sub");
  appendJsonString(claims, client.subject);
  member("aud");
  appendJsonString(claims, req.resource.empty() ? ctx.issuer : req.resource);
  member("exp");
  appendJsonInt(claims, iat + ttlS);
  member("iat");
  appendJsonInt(claims, iat);
  member("jti");
  appendJsonString(claims, jti);
  member("client_id");
  appendJsonString(claims, client.id);
  member("scope");
  appendJsonString(claims, req.grant->scope);
  member("authorization_details");
  claims += req.grant->authorizationDetailsJson;
  member("policy");
  appendJsonString(claims, req.policy->hash);
  if (!familyId.empty()) {  // lets revoking a refresh family reach its access tokens
    member("fid");
    appendJsonString(claims, familyId);
  }
  claims.push_back('}');
  std::string error;
  auto jwt = jose::signWithEncodedHeader(keys->encodedHeader, claims, *keys->signing, error);
  if (!jwt) {
    logEvent(Level::Error, "signing failed", {{"error", error}});
    return errorResponse({500, "server_error", "signing failed", {}});
  }
  std::string body;
  body.reserve(jwt->size() + req.grant->authorizationDetailsJson.size() + 200);
  body += R"({"access_token":")";
  body += *jwt;  // base64url and dots: nothing to escape
  body.push_back('"');
  body += R"(,"token_type":"Bearer","expires_in":)";
  appendJsonInt(body, ttlS);
  body += R"(,"scope":)";
  appendJsonString(body, req.grant->scope);
  body += R"(,"authorization_details":)";
  body += req.grant->authorizationDetailsJson;
  if (wantsRefresh) {
    std::string refresh = jose::b64urlEncode(ctx.random(32));
    store::RefreshToken rt;
    rt.tokenHash = hexSha256(refresh);
    rt.familyId = familyId;
    rt.clientId = client.id;
    rt.subject = client.subject;
    rt.scope = req.original.scope.value_or("");
    rt.authorizationDetailsJson = req.original.authorizationDetails.value_or("");
    rt.resource = req.resource;
    rt.issuedMs = now;
    rt.familyExpiresMs = req.familyExpiresMs > 0 ? req.familyExpiresMs : now + ctx.config.tokens.refreshAbsoluteS * 1000;
    rt.expiresMs = std::min(now + ctx.config.tokens.refreshTtlS * 1000, rt.familyExpiresMs);
    ctx.store.insertRefresh(rt);
    body += R"(,"refresh_token":)";
    appendJsonString(body, refresh);
  }
  body.push_back('}');
  ctx.metrics.tokenIssued();
  issued.jti = std::move(jti);
  issued.exp = iat + ttlS;
  issued.refresh = wantsRefresh;
  issued.familyId = std::move(familyId);
  return noStoreJson(std::move(body));
}

std::optional<nlohmann::json> signedAccessToken(Context& ctx, std::string_view token) {
  std::string error;
  auto jws = jose::parse(token, error);
  if (!jws) return std::nullopt;
  auto kid = jws->header.find("kid");
  auto typ = jws->header.find("typ");
  if (kid == jws->header.end() || !kid->is_string() || typ == jws->header.end() || *typ != "at+jwt")
    return std::nullopt;
  auto keys = ctx.keys.current();
  const jose::Key* key = keys ? keys->find(kid->get<std::string>()) : nullptr;
  if (key == nullptr) return std::nullopt;
  const jose::Alg allowed[] = {key->alg()};
  if (!jose::verify(*jws, *key, allowed, error)) return std::nullopt;
  auto claims = nlohmann::json::parse(jws->payload, nullptr, false);
  if (!claims.is_object() || claims.value("iss", "") != ctx.issuer) return std::nullopt;
  if (!claims.contains("exp") || !claims["exp"].is_number_integer() || !claims.contains("jti") ||
      !claims["jti"].is_string())
    return std::nullopt;
  return claims;
}

std::optional<nlohmann::json> activeAccessToken(Context& ctx, std::string_view token) {
  auto claims = signedAccessToken(ctx, token);
  if (!claims) return std::nullopt;
  if ((*claims)["exp"].get<std::int64_t>() <= ctx.clock.nowMs() / 1000) return std::nullopt;
  if (ctx.store.isAccessTokenRevoked((*claims)["jti"].get<std::string>())) return std::nullopt;
  if (auto fid = claims->find("fid"); fid != claims->end() && fid->is_string() &&
                                       ctx.store.isFamilyRevoked(fid->get<std::string>()))
    return std::nullopt;
  return claims;
}

}  // namespace mandate::oauth
