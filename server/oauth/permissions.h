#pragma once
// The policy in the token endpoint: what was asked (scope, authorization_details) becomes a set
// of cells (action x product class); the input frame is built from the subject, the client and
// the request; the VM decides; the grant is the intersection of what was asked and what the
// policy permits, rendered as RFC 9396 authorization_details.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oauth/directory.h"
#include "oauth/oauth_error.h"
#include "oauth/policy_holder.h"

namespace mandate::oauth {

// One mask per schema action: bit p = product class p; actions without products use bit 0.
using CellSet = std::vector<std::uint64_t>;

struct PermissionRequest {
  std::optional<std::string> scope;               // as sent
  std::optional<std::string> authorizationDetails;  // as sent (JSON text)
};

// Resolves a request against the schema and the client's maximum scope. Errors: invalid_scope,
// invalid_authorization_details.
std::optional<CellSet> requestedCells(const Schema& schema, const ClientEntry& client, const PermissionRequest& req,
                                      OAuthError& error);

struct RequestFacts {
  std::string ip;
  int aal = 1;
  std::int64_t authAgeMs = 0;
  std::int64_t nowMs = 0;
  int riskScore = 0;
};

struct Grant {
  CellSet cells;
  std::string scope;                     // actions with at least one granted cell
  std::string authorizationDetailsJson;  // RFC 9396 array, as JSON text
  std::int64_t ttlCapMs = -1;            // from obligations; -1 none
  std::vector<std::string> denyingRules;  // rules that denied a requested cell
  std::vector<std::string> evalErrors;    // evaluation errors (fail-closed) for logs and audit
};

// Evaluates. Returns the grant (possibly empty: then `error` explains, naming the denying rules).
std::optional<Grant> decide(const LoadedPolicy& policy, const std::shared_ptr<const SubjectEntry>& subject,
                            const std::shared_ptr<const ClientEntry>& client,
                            const CellSet& requested, const std::vector<std::string>& requestedScopes,
                            const RequestFacts& facts, bool detailsUsed, OAuthError& error);

// The action names of a cell set (for the scope claim and the policy's request.scopes).
std::vector<std::string> actionNames(const Schema& schema, const CellSet& cells);

}  // namespace mandate::oauth
