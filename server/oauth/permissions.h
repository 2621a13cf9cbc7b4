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
#include "vm/frame.h"
#include "vm/vm.h"

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

// A rule that denied some of the requested cells.
struct Denial {
  std::string rule;
  std::string reason;
  CellSet cells;
};

struct Grant {
  CellSet cells;                         // empty (all zero) when nothing is granted
  std::string scope;                     // actions with at least one granted cell
  std::string authorizationDetailsJson;  // RFC 9396 array, as JSON text ("[]" when nothing)
  std::int64_t ttlCapMs = -1;            // from obligations; -1 none
  std::int64_t aalRequired = 0;          // highest AAL an obligation asked for and the credential lacked
  std::vector<Denial> denials;           // by rule id
  std::vector<std::string> denyingRules;  // the same rule ids
  std::vector<std::string> evalErrors;    // evaluation errors (fail-closed) for logs and audit
  bool any() const;
};

// The VM's working memory, reused across evaluations of one bundle (no allocation per request).
struct Evaluator {
  const void* bundle = nullptr;
  std::uint64_t generation = ~0ULL;
  vm::Frame frame;
  vm::Decision decision;
};

// Decides on a prepared input document (as decide() builds it, or as an audit record kept it):
// the grant is what was requested, permitted by the policy, with its obligations met by `aal`
// and `authAgeMs`. When nothing is granted, `error` explains, naming the denying rules.
// `ev.decision` holds the VM's full decision afterwards (replay compares limits with it).
Grant decideInput(const LoadedPolicy& policy, const nlohmann::json& input, const CellSet& requested, int aal,
                  std::int64_t authAgeMs, bool detailsUsed, OAuthError& error, Evaluator& ev);

// Builds the input document from the subject, the client and the request, and decides. When
// `inputText` is given it receives the input document as compact JSON (for the audit record).
Grant decide(const LoadedPolicy& policy, const std::shared_ptr<const SubjectEntry>& subject,
             const std::shared_ptr<const ClientEntry>& client, const CellSet& requested,
             const std::vector<std::string>& requestedScopes, const RequestFacts& facts, bool detailsUsed,
             OAuthError& error, std::string* inputText = nullptr);

// The action names of a cell set (for the scope claim and the policy's request.scopes).
std::vector<std::string> actionNames(const Schema& schema, const CellSet& cells);

// A cell set as JSON text {"action":["product class",...],...} (actions without products: []),
// actions and classes in schema order; and back. With `starForAll`, an action with every product
// class is written "*": what was *asked* for (scope=trade asks for the whole action, whatever
// classes a later schema has), never what was granted. Names the schema does not know are
// skipped and listed in `unknown` (a recorded decision replayed under another schema).
void appendCellsJson(std::string& out, const Schema& schema, const CellSet& cells, bool starForAll = false);
CellSet cellsFromJson(const Schema& schema, const nlohmann::json& j, std::vector<std::string>* unknown = nullptr);

}  // namespace mandate::oauth
