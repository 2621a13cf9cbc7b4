#include "oauth/audit_events.h"

#include <nlohmann/json.hpp>

#include "oauth/json_text.h"

namespace mandate::oauth {

audit::Record* AuditSlot::begin(const char* type, const http::Request& req) {
  if (!enabled) return nullptr;
  record.emplace();
  record->type = type;
  record->sourceIp = req.remoteIp;
  return &*record;
}

void auditAuthFailure(AuditSlot& slot, const http::Request& req, const OAuthError& error) {
  if (error.status != 401) return;
  audit::Record* r = slot.begin("client.auth_failed", req);
  if (r == nullptr) return;
  r->actor.client = error.claimedClient;
  std::string data = R"({"endpoint":)";
  appendJsonString(data, req.path);
  data += R"(,"reason":)";
  appendJsonString(data, error.description);
  data.push_back('}');
  r->dataJson = std::move(data);
}

namespace {

// A value the client sent as JSON text (authorization_details): embedded as JSON when it parses
// as an array, else as a string, so the record stays valid JSON whatever was sent.
void appendClientJson(std::string& out, const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded() && j.is_array())
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  else
    appendJsonString(out, text);
}

}  // namespace

std::string decisionData(const DecisionRecord& d) {
  const Schema& schema = *d.schema;
  const Grant& g = *d.grant;
  std::string out;
  out.reserve(512 + (d.inputText ? d.inputText->size() : 0) + g.authorizationDetailsJson.size());
  out += R"({"grant_type":)";
  appendJsonString(out, d.grantType);
  out += R"(,"request":{)";
  bool first = true;
  auto member = [&](const char* name) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out += name;
    out += "\":";
  };
  if (d.asked && d.asked->scope) {
    member("scope");
    appendJsonString(out, *d.asked->scope);
  }
  if (d.asked && d.asked->authorizationDetails) {
    member("authorization_details");
    appendClientJson(out, *d.asked->authorizationDetails);
  }
  if (d.resource && !d.resource->empty()) {
    member("resource");
    appendJsonString(out, *d.resource);
  }
  out += R"(},"requested":)";
  appendCellsJson(out, schema, *d.requested, true);
  out += R"(,"decision":{"granted":)";
  appendCellsJson(out, schema, g.cells);
  out += R"(,"authorization_details":)";
  out += g.authorizationDetailsJson.empty() ? "[]" : g.authorizationDetailsJson;
  out += R"(,"scope":)";
  appendJsonString(out, g.scope);
  out += R"(,"denied":[)";
  for (std::size_t i = 0; i < g.denials.size(); ++i) {
    if (i) out.push_back(',');
    out += R"({"rule":)";
    appendJsonString(out, g.denials[i].rule);
    out += R"(,"reason":)";
    appendJsonString(out, g.denials[i].reason);
    out += R"(,"cells":)";
    appendCellsJson(out, schema, g.denials[i].cells);
    out.push_back('}');
  }
  out += R"(],"obligations":{)";
  first = true;
  if (g.ttlCapMs >= 0) {
    member("ttl_cap_s");
    appendJsonInt(out, g.ttlCapMs / 1000);
  }
  if (g.aalRequired > 0) {
    member("aal_required");
    appendJsonInt(out, g.aalRequired);
  }
  out += R"(},"errors":[)";
  for (std::size_t i = 0; i < g.evalErrors.size(); ++i) {
    if (i) out.push_back(',');
    appendJsonString(out, g.evalErrors[i]);
  }
  out += "]}";
  if (d.denial) {
    out += R"(,"error":{"error":)";
    appendJsonString(out, d.denial->error);
    out += R"(,"error_description":)";
    appendJsonString(out, d.denial->description);
    out.push_back('}');
  } else {
    out += R"(,"token":{"exp":)";
    appendJsonInt(out, d.exp);
    out += d.refresh ? R"(,"refresh":true)" : R"(,"refresh":false)";
    if (!d.family.empty()) {
      out += R"(,"family":)";
      appendJsonString(out, d.family);
    }
    out.push_back('}');
  }
  if (d.inputText && !d.inputText->empty()) {
    out += R"(,"input":)";
    out += *d.inputText;
  }
  out.push_back('}');
  return out;
}

}  // namespace mandate::oauth
