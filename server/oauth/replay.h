#pragma once
// Replaying recorded token decisions under another policy bundle: the impact report a compliance
// officer reads before a policy change ships. Each token.issued / token.denied record kept the
// input document the server evaluated and what was asked; decideInput() evaluates it again under
// the new bundle exactly as the token endpoint would, and the difference is attributed to the
// rules that cause it. docs/audit.md ("Replay") states the semantics.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "oauth/permissions.h"
#include "oauth/policy_holder.h"

namespace mandate::oauth {

enum class ChangeKind { None, DeniedEntirely, Narrowed, Widened, Mixed, Limits };
const char* changeKindName(ChangeKind k);

// Why one cell of a decision changed, and which rule made it so.
struct CellChange {
  enum class Effect { Lost, Gained, Limit } effect = Effect::Lost;
  std::string rule;    // rule id, or "(obligation)", "(not permitted)", "(newly permitted)", "(limit removed)"
  std::string reason;  // the rule's `because`, when a rule is named
  std::size_t action = 0, product = 0;
  std::string limit;   // Limit: the limit's name
};

// The replay of one record.
struct RecordReplay {
  bool skipped = false;
  std::string skipReason;  // a short category (the same text for like records, so it can be counted)
  std::string skipDetail;  // the specifics of this record
  ChangeKind change = ChangeKind::None;
  CellSet beforeCells, afterCells;
  nlohmann::json beforeDetails, afterDetails;  // authorization_details arrays
  std::string beforeScope, afterScope;
  std::vector<CellChange> cells;
  std::vector<std::string> rules;  // the distinct rules of `cells`, in first-seen order
};

// Re-decides one token.issued / token.denied record under `policy`. Never throws on bad record
// content: such a record comes back skipped with the reason.
RecordReplay replayRecord(const LoadedPolicy& policy, Evaluator& ev, const audit::StoredRecord& record);

struct ReplayOptions {
  std::optional<std::int64_t> sinceUs;  // ts_us >= since
  std::optional<std::int64_t> untilUs;  // ts_us < until
  std::string subject;                  // actor.subject; empty = any
  std::size_t examplesPerRule = 5;
  std::size_t maxChangedSeqs = 100000;
  std::size_t maxSkipExamples = 5;
  // Called every `progressEvery` records read (long replays report on stderr).
  std::function<void(std::uint64_t records)> progress;
  std::uint64_t progressEvery = 100000;
};

struct RuleImpact {
  std::string rule;
  std::uint64_t decisions = 0;
  std::vector<nlohmann::json> examples;
};

struct SkipImpact {
  std::uint64_t records = 0;
  std::vector<nlohmann::json> examples;  // {seq, detail}
};

struct ReplayReport {
  std::string bundle;               // the new bundle's hash
  std::set<std::string> oldBundles;  // the policy_hash values of the replayed records (bounded)
  bool oldBundlesCapped = false;
  std::uint64_t replayed = 0, unchanged = 0, changed = 0, skipped = 0;
  std::map<ChangeKind, std::uint64_t> byKind;
  std::map<std::string, RuleImpact> byRule;
  std::map<std::string, SkipImpact> skippedBy;
  std::vector<std::uint64_t> changedSeqs;
  bool changedSeqsCapped = false;

  // by_rule sorted by decisions (most first), then rule id.
  std::vector<const RuleImpact*> rulesByCount() const;
};

// Streams the token decisions of the audit database at `dbPath` in sequence order (one read
// snapshot, constant memory apart from the report) and replays each. Throws audit::AuditError
// when the database cannot be read.
ReplayReport replayLog(const std::string& dbPath, const LoadedPolicy& policy, const ReplayOptions& options);

// Adds one record's replay to the report (replayLog uses it; exposed for tests).
void account(ReplayReport& report, const ReplayOptions& options, const LoadedPolicy& policy,
             const audit::StoredRecord& record, const RecordReplay& r);

// The report as JSON (docs/audit.md, "Replay").
nlohmann::json reportJson(const ReplayReport& report);

}  // namespace mandate::oauth
