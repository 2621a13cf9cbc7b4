#include "oauth/client_auth.h"
#include "oauth/endpoints.h"
#include "oauth/json_text.h"
#include "oauth/log.h"
#include "oauth/tokens.h"

namespace mandate::oauth {

namespace {
constexpr std::size_t kMaxTokenBytes = 16384;
}

// RFC 7662. Any authenticated client may introspect (resource servers are registered as
// clients); an inactive, unknown, malformed, expired or revoked token is just {"active":false}.
http::Response introspectionEndpoint(Context& ctx, const http::Request& req, AuditSlot& audit) {
  Form form;
  http::Response out;
  if (!readFormRequest(req, form, out)) return out;
  OAuthError error;
  auto client = authenticateClient(ctx, req, form, ctx.introspectionEndpoint, error);
  if (!client) {
    auditAuthFailure(audit, req, error);
    return errorResponse(error);
  }
  const std::string* token = form.get("token");
  if (token == nullptr) return errorResponse(invalidRequest("token is required"));
  // Every answer below is audited: who asked about which token, and what they were told.
  auto record = [&](bool active, const char* type, const std::string& jti) {
    if (audit::Record* r = audit.begin("token.introspected", req)) {
      r->actor.client = client->entry->client.id;
      r->jti = jti;
      r->dataJson = active ? R"({"active":true,"token_type":")" + std::string(type) + "\"}" : R"({"active":false})";
    }
  };
  const nlohmann::json inactive{{"active", false}};
  if (token->empty() || token->size() > kMaxTokenBytes) {
    record(false, "", "");
    return noStoreJson(inactive.dump());
  }
  try {
    if (auto claims = activeAccessToken(ctx, *token)) {
      record(true, "access_token", (*claims)["jti"].get<std::string>());
      nlohmann::json j{{"active", true}, {"token_type", "Bearer"}};
      for (const char* k : {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "authorization_details",
                            "policy"})
        if (claims->contains(k)) j[k] = (*claims)[k];
      return noStoreJson(j.dump());
    }
    // Not an access token of ours: perhaps a refresh token (opaque).
    if (token->find('.') == std::string::npos) {
      std::string hash = hexSha256(*token);
      if (ctx.store.isRefreshLive(hash, ctx.clock.nowMs())) {
        if (auto rt = ctx.store.getRefresh(hash)) {
          nlohmann::json j{{"active", true},         {"token_type", "refresh_token"}, {"client_id", rt->clientId},
                           {"sub", rt->subject},      {"iss", ctx.issuer},             {"exp", rt->expiresMs / 1000},
                           {"iat", rt->issuedMs / 1000}};
          if (!rt->scope.empty()) j["scope"] = rt->scope;
          record(true, "refresh_token", "");
          return noStoreJson(j.dump());
        }
      }
    }
  } catch (const store::StoreError& e) {
    logEvent(Level::Error, "store failure", {{"error", e.what()}});
    return errorResponse({503, "temporarily_unavailable", "storage is unavailable", {}});
  }
  record(false, "", "");
  return noStoreJson(inactive.dump());
}

// RFC 7009: 200 for every well-formed request of an authenticated client, whether or not the
// token existed; a client can only revoke its own tokens (others' are left alone, silently).
http::Response revocationEndpoint(Context& ctx, const http::Request& req, AuditSlot& audit) {
  Form form;
  http::Response out;
  if (!readFormRequest(req, form, out)) return out;
  OAuthError error;
  auto client = authenticateClient(ctx, req, form, ctx.revocationEndpoint, error);
  if (!client) {
    auditAuthFailure(audit, req, error);
    return errorResponse(error);
  }
  const std::string* token = form.get("token");
  if (token == nullptr) return errorResponse(invalidRequest("token is required"));
  const std::string& me = client->entry->client.id;
  audit::Record* rec = audit.begin("token.revoked", req);
  if (rec != nullptr) {
    rec->actor.client = me;
    rec->dataJson = R"({"revoked":false})";
  }
  try {
    if (!token->empty() && token->size() <= kMaxTokenBytes) {
      if (auto claims = signedAccessToken(ctx, *token)) {
        if (claims->value("client_id", "") == me) {
          ctx.store.revokeAccessToken((*claims)["jti"].get<std::string>(), (*claims)["exp"].get<std::int64_t>() * 1000);
          logEvent(Level::Info, "access token revoked", {{"client_id", me}, {"jti", (*claims)["jti"]}});
          if (rec != nullptr) {
            rec->actor.subject = claims->value("sub", "");
            rec->jti = (*claims)["jti"].get<std::string>();
            rec->dataJson = R"({"revoked":true,"token_type":"access_token"})";
          }
        }
      } else if (token->find('.') == std::string::npos) {
        std::string hash = hexSha256(*token);
        auto rt = ctx.store.getRefresh(hash);
        if (rt && rt->clientId == me) {
          ctx.store.revokeRefresh(hash);
          logEvent(Level::Info, "refresh token family revoked", {{"client_id", me}, {"family", rt->familyId}});
          if (rec != nullptr) {
            rec->actor.subject = rt->subject;
            rec->dataJson = R"({"revoked":true,"token_type":"refresh_token","family":)";
            appendJsonString(rec->dataJson, rt->familyId);
            rec->dataJson.push_back('}');
          }
        }
      }
    }
  } catch (const store::StoreError& e) {
    logEvent(Level::Error, "store failure", {{"error", e.what()}});
    return errorResponse({503, "temporarily_unavailable", "storage is unavailable", {}});
  }
  auto r = noStoreJson("");
  r.contentType = "application/json";
  return r;
}

http::Response metadataEndpoint(Context& ctx) {
  auto policy = ctx.policy.current();
  nlohmann::json scopes = nlohmann::json::array();
  if (policy)
    for (const auto& a : policy->bundle->schema.actions) scopes.push_back(a);
  nlohmann::json m{
      {"issuer", ctx.issuer},
      {"token_endpoint", ctx.tokenEndpoint},
      {"jwks_uri", ctx.jwksUri},
      {"introspection_endpoint", ctx.introspectionEndpoint},
      {"revocation_endpoint", ctx.revocationEndpoint},
      {"grant_types_supported", {"client_credentials", "refresh_token"}},
      {"response_types_supported", nlohmann::json::array()},
      {"token_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post", "private_key_jwt"}},
      {"token_endpoint_auth_signing_alg_values_supported", {"ES256", "EdDSA", "PS256"}},
      {"introspection_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post", "private_key_jwt"}},
      {"introspection_endpoint_auth_signing_alg_values_supported", {"ES256", "EdDSA", "PS256"}},
      {"revocation_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post", "private_key_jwt"}},
      {"revocation_endpoint_auth_signing_alg_values_supported", {"ES256", "EdDSA", "PS256"}},
      {"authorization_details_types_supported", {"trading"}},
      {"scopes_supported", scopes},
      {"access_token_signing_alg_values_supported", {"ES256", "EdDSA", "PS256"}},
  };
  http::Response r;
  r.body = m.dump();
  r.headers.emplace_back("Cache-Control", "max-age=300");
  return r;
}

http::Response jwksEndpoint(Context& ctx) {
  auto keys = ctx.keys.current();
  http::Response r;
  r.contentType = "application/jwk-set+json";
  r.body = keys ? keys->jwksJson : std::string(R"({"keys":[]})");
  // Short enough that a rotation's pre-publication window covers any cache.
  r.headers.emplace_back("Cache-Control", "max-age=60");
  return r;
}

}  // namespace mandate::oauth
