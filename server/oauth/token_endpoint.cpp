#include "oauth/client_auth.h"
#include "oauth/endpoints.h"
#include "oauth/json_text.h"
#include "oauth/log.h"
#include "oauth/tokens.h"

namespace mandate::oauth {

namespace {

bool isAbsoluteUri(const std::string& s) {
  // RFC 8707 §2: an absolute URI without a fragment.
  auto colon = s.find("://");
  if (colon == std::string::npos || colon == 0 || s.size() > 2048) return false;
  for (std::size_t i = 0; i < colon; ++i)
    if (!std::isalnum(static_cast<unsigned char>(s[i])) && s[i] != '+' && s[i] != '-' && s[i] != '.') return false;
  if (s.find('#') != std::string::npos) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

OAuthError policyUnavailable() { return {503, "temporarily_unavailable", "no policy bundle is loaded", {}}; }

// Shared by both grants: evaluate, then mint; the decision goes to the audit trail either way.
http::Response grantTokens(Context& ctx, const AuthenticatedClient& client, const http::Request& req,
                           AuditSlot& audit, const char* grantType, const PermissionRequest& asked,
                           const std::string& resource, const std::string& familyId, std::int64_t familyExpiresMs) {
  auto policy = ctx.policy.current();
  if (!policy) return errorResponse(policyUnavailable());
  const Schema& schema = policy->bundle->schema;
  OAuthError error;
  auto cells = requestedCells(schema, *client.entry, asked, error);
  if (!cells) return errorResponse(error);
  auto subject = ctx.directory.subject(client.entry->client.subject);
  if (!subject) {
    logEvent(Level::Warn, "client's subject is unknown",
             {{"client_id", client.entry->client.id}, {"subject", client.entry->client.subject}});
    return errorResponse({400, "invalid_grant", "the client's subject has no attributes on record", {}});
  }
  RequestFacts facts;
  facts.ip = req.remoteIp;
  facts.aal = client.aal;
  facts.nowMs = ctx.clock.nowMs();
  auto names = actionNames(schema, *cells);
  std::string inputText;
  Grant grant = decide(*policy, subject, client.entry, *cells, names, facts, asked.authorizationDetails.has_value(),
                       error, audit.enabled ? &inputText : nullptr);
  DecisionRecord dr;
  dr.schema = &schema;
  dr.grantType = grantType;
  dr.asked = &asked;
  dr.resource = &resource;
  dr.requested = &*cells;
  dr.grant = &grant;
  dr.inputText = &inputText;
  auto startRecord = [&](const char* type) {
    audit::Record* r = audit.begin(type, req);
    if (r != nullptr) {
      r->actor.client = client.entry->client.id;
      r->actor.subject = client.entry->client.subject;
      r->policyHash = policy->hash;
    }
    return r;
  };
  if (!grant.any()) {
    // The denying rules are counted; nothing else about the subject is logged.
    for (const auto& rule : error.denyingRules) ctx.metrics.tokenDenied(rule);
    if (error.denyingRules.empty()) ctx.metrics.tokenDenied("(none permits)");
    if (audit::Record* r = startRecord("token.denied")) {
      dr.denial = &error;
      r->dataJson = decisionData(dr);
      r->dataWellFormed = true;  // built as JSON: tests/server/oauth/decision_data_test.cpp
    }
    return errorResponse(error);
  }
  IssueRequest ir;
  ir.client = &client;
  ir.subject = subject.get();
  ir.grant = &grant;
  ir.policy = policy.get();
  ir.resource = resource;
  ir.original = asked;
  ir.familyId = familyId;
  ir.familyExpiresMs = familyExpiresMs;
  IssuedToken issued;
  http::Response response = issueTokens(ctx, ir, issued);
  if (response.status == 200) {
    if (audit::Record* r = startRecord("token.issued")) {
      r->jti = issued.jti;
      dr.exp = issued.exp;
      dr.refresh = issued.refresh;
      dr.family = issued.familyId;
      r->dataJson = decisionData(dr);
      r->dataWellFormed = true;  // built as JSON: tests/server/oauth/decision_data_test.cpp
    }
  }
  return response;
}

http::Response clientCredentials(Context& ctx, const AuthenticatedClient& client, const http::Request& req,
                                 const Form& form, AuditSlot& audit) {
  PermissionRequest asked;
  if (auto s = form.get("scope")) asked.scope = *s;
  if (auto d = form.get("authorization_details")) asked.authorizationDetails = *d;
  std::string resource;
  if (auto r = form.get("resource")) {
    if (!isAbsoluteUri(*r)) return errorResponse({400, "invalid_target", "resource must be an absolute URI without a fragment", {}});
    resource = *r;
  }
  return grantTokens(ctx, client, req, audit, "client_credentials", asked, resource, "", 0);
}

http::Response refreshGrant(Context& ctx, const AuthenticatedClient& client, const http::Request& req,
                            const Form& form, AuditSlot& audit) {
  const std::string* token = form.get("refresh_token");
  if (token == nullptr || token->empty()) return errorResponse(invalidRequest("refresh_token is required"));
  if (token->size() > 512) return errorResponse(invalidGrant("unknown refresh token"));
  std::string hash = hexSha256(*token);
  // A token presented by a client it was not issued to is refused without being consumed: the
  // rightful client's family stays intact.
  auto existing = ctx.store.getRefresh(hash);
  if (!existing || existing->clientId != client.entry->client.id)
    return errorResponse(invalidGrant("unknown refresh token"));
  // RFC 6749 §6: a narrower scope may be asked for, never a wider one; checked before the token
  // is consumed, so a refused request leaves it usable.
  std::optional<std::string> narrowed;
  if (auto s = form.get("scope")) {
    auto original = splitSpaces(existing->scope.empty() ? client.entry->client.scope : existing->scope);
    if (!existing->authorizationDetailsJson.empty() && existing->scope.empty())
      return errorResponse({400, "invalid_scope", "this grant was made with authorization_details; refresh it without scope", {}});
    for (const auto& n : splitSpaces(*s))
      if (std::find(original.begin(), original.end(), n) == original.end())
        return errorResponse({400, "invalid_scope", "scope `" + n + "` exceeds the original grant", {}});
    narrowed = *s;
  }
  // Rotation consumes the token before its record is written; if the record then failed, the
  // client would never see the new token and its retry would look like reuse and revoke the
  // family. While the trail is failing, refuse before consuming.
  if (!audit.writable()) return errorResponse(auditUnavailable());
  store::RefreshToken rt;
  switch (ctx.store.consumeRefresh(hash, ctx.clock.nowMs(), rt)) {
    case store::RefreshUse::Ok: break;
    case store::RefreshUse::Unknown: return errorResponse(invalidGrant("unknown refresh token"));
    case store::RefreshUse::Expired: return errorResponse(invalidGrant("refresh token expired"));
    case store::RefreshUse::Revoked: return errorResponse(invalidGrant("refresh token revoked"));
    case store::RefreshUse::Reused:
      logEvent(Level::Warn, "refresh token reuse: family revoked",
               {{"client_id", client.entry->client.id}, {"family", existing->familyId}});
      if (audit::Record* r = audit.begin("refresh.reuse_detected", req)) {
        r->actor.client = client.entry->client.id;
        r->actor.subject = existing->subject;
        r->dataJson = R"({"family":)";
        appendJsonString(r->dataJson, existing->familyId);
        r->dataJson.push_back('}');
      }
      return errorResponse(invalidGrant("refresh token already used; its family is revoked"));
  }
  PermissionRequest asked;
  if (!rt.scope.empty()) asked.scope = rt.scope;
  if (!rt.authorizationDetailsJson.empty()) asked.authorizationDetails = rt.authorizationDetailsJson;
  if (narrowed) {
    asked.scope = *narrowed;
    asked.authorizationDetails.reset();
  }
  return grantTokens(ctx, client, req, audit, "refresh_token", asked, rt.resource, rt.familyId, rt.familyExpiresMs);
}

}  // namespace

bool readFormRequest(const http::Request& req, Form& form, http::Response& out) {
  if (req.method != "POST") {
    out = errorResponse(invalidRequest("use POST"));
    out.status = 405;
    out.headers.emplace_back("Allow", "POST");
    return false;
  }
  const std::string* ct = req.header("content-type");
  std::string type = ct ? ct->substr(0, ct->find(';')) : "";
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type != "application/x-www-form-urlencoded") {
    out = errorResponse(invalidRequest("Content-Type must be application/x-www-form-urlencoded"));
    return false;
  }
  std::string error;
  if (!parseForm(req.body, form, error)) {
    out = errorResponse(invalidRequest(error));
    return false;
  }
  return true;
}

http::Response tokenEndpoint(Context& ctx, const http::Request& req, AuditSlot& audit) {
  Form form;
  http::Response out;
  if (!readFormRequest(req, form, out)) return out;
  OAuthError error;
  auto client = authenticateClient(ctx, req, form, ctx.tokenEndpoint, error);
  if (!client) {
    auditAuthFailure(audit, req, error);
    return errorResponse(error);
  }
  const std::string* grant = form.get("grant_type");
  if (grant == nullptr) return errorResponse(invalidRequest("grant_type is required"));
  if (*grant != "client_credentials" && *grant != "refresh_token")
    return errorResponse({400, "unsupported_grant_type", "supported: client_credentials, refresh_token", {}});
  if (!client->entry->hasGrant(*grant))
    return errorResponse({400, "unauthorized_client", "the client is not registered for " + *grant, {}});
  try {
    if (*grant == "client_credentials") return clientCredentials(ctx, *client, req, form, audit);
    return refreshGrant(ctx, *client, req, form, audit);
  } catch (const store::StoreError& e) {
    logEvent(Level::Error, "store failure", {{"error", e.what()}});
    return errorResponse({503, "temporarily_unavailable", "storage is unavailable", {}});
  }
}

}  // namespace mandate::oauth
