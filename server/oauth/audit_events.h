#pragma once
// What the endpoints leave for the audit trail: one record per audited request, appended by
// AuthServer::handle, which answers only once the record is durable. docs/audit.md lists the
// event types and the data each carries.
#include <cstdint>
#include <optional>
#include <string>

#include "audit/audit_log.h"
#include "http/server.h"
#include "oauth/oauth_error.h"
#include "oauth/permissions.h"

namespace mandate::oauth {

struct AuditSlot {
  bool enabled = false;  // false: audit is off, endpoints build nothing
  const audit::AuditLog* log = nullptr;
  std::optional<audit::Record> record;

  // False while the trail is known to be failing: a request that would change state it cannot
  // undo (consuming a refresh token) is refused before it does. Always true when audit is off.
  bool writable() const { return log == nullptr || log->healthy(); }

  // Starts this request's record (replacing any earlier one); nullptr when audit is off.
  audit::Record* begin(const char* type, const http::Request& req);
};

// client.auth_failed for a 401 at `req.path`; the actor is the claimed id only when registered.
void auditAuthFailure(AuditSlot& slot, const http::Request& req, const OAuthError& error);

// The data of token.issued / token.denied.
struct DecisionRecord {
  const Schema* schema = nullptr;
  const char* grantType = "";
  const PermissionRequest* asked = nullptr;
  const std::string* resource = nullptr;
  const CellSet* requested = nullptr;
  const Grant* grant = nullptr;
  const std::string* inputText = nullptr;  // the evaluated input document, JSON
  const OAuthError* denial = nullptr;      // token.denied: the error answered
  // token.issued
  std::int64_t exp = 0;
  bool refresh = false;
  std::string family;
};
std::string decisionData(const DecisionRecord& d);

}  // namespace mandate::oauth
