// mandate audit replay: re-decides the recorded token decisions under another policy bundle and
// reports which would change, by rule, with examples (server/oauth/replay.h; docs/audit.md).
#include <sys/stat.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "commands.h"
#include "compile_sources.h"
#include "oauth/replay.h"
#include "server_setup.h"
#include "value/literals.h"

namespace mandate::cli {
namespace {

struct ReplayArgs {
  std::string dataDir = "./mandate-data", db, bundle, policies, trustedKey, since, until, subject;
  int examples = 5;
  bool json = false;
};

bool parseUs(const std::string& text, std::optional<std::int64_t>& out, std::string& why) {
  std::int64_t secs = 0;
  if (!lit::parseTime(text, secs, why)) return false;
  out = secs * 1'000'000;
  return true;
}

std::string oneLine(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string text(const oauth::ReplayReport& r, const nlohmann::json& j) {
  std::string out = "replayed " + std::to_string(r.replayed) + " token decisions under " + r.bundle + "\n";
  out += "recorded under:";
  for (const auto& h : r.oldBundles) out += " " + (h.empty() ? std::string("(none)") : h);
  if (r.oldBundlesCapped) out += " ...";
  out += "\nunchanged " + std::to_string(r.unchanged) + ", changed " + std::to_string(r.changed) + " (";
  bool first = true;
  for (const char* kind : {"denied_entirely", "narrowed", "widened", "mixed", "limits_changed"}) {
    out += (first ? "" : ", ") + std::string(kind) + " " + std::to_string(j["changes"][kind].get<std::uint64_t>());
    first = false;
  }
  out += "), skipped " + std::to_string(r.skipped) + "\n";
  if (!r.byRule.empty()) out += "\nby rule (decisions changed):\n";
  for (const oauth::RuleImpact* impact : r.rulesByCount()) {
    out += "  " + impact->rule + "  " + std::to_string(impact->decisions) + "\n";
    for (const auto& e : impact->examples) {
      out += "    seq " + std::to_string(e["seq"].get<std::uint64_t>()) + "  " + e["ts"].get<std::string>() +
             "  client " + e["client"].get<std::string>() + "  subject " + e["subject"].get<std::string>() + "  (" +
             e["change"].get<std::string>() + ")\n";
      out += "      before: scope \"" + e["before"]["scope"].get<std::string>() + "\" " +
             oneLine(e["before"]["authorization_details"]) + "\n";
      out += "      after:  scope \"" + e["after"]["scope"].get<std::string>() + "\" " +
             oneLine(e["after"]["authorization_details"]) + "\n";
      for (const auto& rule : e["rules"]) {
        out += "      " + rule["rule"].get<std::string>() + " " + rule["effect"].get<std::string>() + " " +
               oneLine(rule["cells"]);
        if (rule.contains("limits")) out += " limits " + oneLine(rule["limits"]);
        if (rule.contains("reason")) out += ": " + rule["reason"].get<std::string>();
        out += "\n";
      }
    }
  }
  if (!r.skippedBy.empty()) out += "\nskipped:\n";
  for (const auto& [reason, s] : r.skippedBy) {
    out += "  " + reason + ": " + std::to_string(s.records) + " (";
    for (std::size_t i = 0; i < s.examples.size(); ++i) {
      out += (i ? ", seq " : "seq ") + std::to_string(s.examples[i]["seq"].get<std::uint64_t>());
      if (s.examples[i].contains("detail")) out += ": " + s.examples[i]["detail"].get<std::string>();
    }
    out += ")\n";
  }
  if (r.changedSeqsCapped) out += "(changed_seqs capped)\n";
  return out;
}

int runReplay(const ReplayArgs& a) {
  const char* me = "mandate audit replay";
  if (a.bundle.empty() == a.policies.empty()) {
    std::cerr << me << ": give exactly one of --bundle FILE and --policies DIR\n";
    return kExitUsage;
  }
  if (a.examples < 0) {
    std::cerr << me << ": --examples must be 0 or more\n";
    return kExitUsage;
  }
  oauth::ReplayOptions o;
  std::string why;
  if (!a.since.empty() && !parseUs(a.since, o.sinceUs, why)) {
    std::cerr << me << ": --since: " << why << "\n";
    return kExitUsage;
  }
  if (!a.until.empty() && !parseUs(a.until, o.untilUs, why)) {
    std::cerr << me << ": --until: " << why << "\n";
    return kExitUsage;
  }
  o.subject = a.subject;
  o.examplesPerRule = static_cast<std::size_t>(a.examples);
  o.progress = [me](std::uint64_t n) { std::cerr << me << ": " << n << " records read\n"; };

  std::string dbPath = a.db.empty() ? auditDbPath(a.dataDir) : a.db;
  struct stat st{};
  if (::stat(dbPath.c_str(), &st) != 0) {
    std::cerr << me << ": no audit log at " << dbPath << "\n";
    return kExitProblems;
  }
  std::string pem, error;
  if (!a.trustedKey.empty() && !readWholeFile(a.trustedKey, 64 * 1024, pem, error)) {
    std::cerr << me << ": --trusted-key: " << error << "\n";
    return kExitProblems;
  }
  oauth::LoadedPolicy policy;
  policy.bundle = loadPolicy(a.policies, a.bundle, pem, error);
  if (!policy.bundle) {
    std::cerr << me << ": " << error << "\n";
    return kExitProblems;
  }
  if (!policy.bundle->schema.present) {
    std::cerr << me << ": the policy bundle has no schema\n";
    return kExitProblems;
  }
  policy.hash = policy.bundle->contentHash;
  policy.loadedMs = wallClockMs();

  oauth::ReplayReport report;
  try {
    report = oauth::replayLog(dbPath, policy, o);
  } catch (const audit::AuditError& e) {
    std::cerr << me << ": " << e.what() << "\n";
    return kExitProblems;
  }
  nlohmann::json j = oauth::reportJson(report);
  if (a.json)
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else
    std::cout << text(report, j);
  return kExitOk;
}

}  // namespace

void addAuditReplayCommand(CLI::App& audit, int& result) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* c = audit.add_subcommand(
      "replay", "Re-decide the recorded token decisions under another policy bundle and report what would change");
  c->add_option("--data-dir", args->dataDir, "The server's data directory")->capture_default_str();
  c->add_option("--db", args->db, "The audit database (default DATA_DIR/audit.db)");
  c->add_option("--bundle", args->bundle, "The policy bundle to replay under (mandate build -o FILE)");
  c->add_option("--policies", args->policies, "Or a policies directory, compiled");
  c->add_option("--trusted-key", args->trustedKey, "Require the bundle to be signed by this public key (PEM)");
  c->add_option("--since", args->since, "From this time (RFC 3339, UTC), inclusive");
  c->add_option("--until", args->until, "Up to this time, exclusive");
  c->add_option("--subject", args->subject, "Only the decisions for this subject");
  c->add_option("--examples", args->examples, "Examples per rule")->capture_default_str();
  c->add_flag("--json", args->json, "JSON output");
  c->footer(
      "Replays token.issued and token.denied records in sequence order. Exit status: 0 the replay ran "
      "(whether or not decisions change), 1 error (unreadable log, bad bundle), 2 usage.");
  c->callback([args, &result] { guarded(result, [&] { return runReplay(*args); }); });
}

}  // namespace mandate::cli
