// mandate audit verify|show|export: reading the tamper-evident audit trail (server/audit).
#include <sys/stat.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "audit/export.h"
#include "audit/verify.h"
#include "bundle/codec.h"
#include "commands.h"
#include "server_setup.h"
#include "value/literals.h"

namespace mandate::cli {

// tools/audit_replay.cpp
void addAuditReplayCommand(CLI::App& audit, int& result);

namespace {

struct AuditArgs {
  std::string dataDir = "./mandate-data", db, checkpoint, key, since, until, subject, type, format = "jsonl";
  std::uint64_t seq = 0;
  bool json = false;
};

std::string dbPath(const AuditArgs& a) { return a.db.empty() ? a.dataDir + "/audit.db" : a.db; }

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

// RFC 3339 (or a date) to UTC microseconds.
bool parseUs(const std::string& text, std::int64_t& out, std::string& why) {
  std::int64_t secs = 0;
  if (!lit::parseTime(text, secs, why)) return false;
  out = secs * 1'000'000;
  return true;
}

std::string headHex(const std::string& raw) {
  return bundle::hex(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
}

int runVerify(const AuditArgs& a) {
  std::string path = dbPath(a);
  if (!exists(path)) {
    std::cerr << "mandate audit verify: no audit log at " << path << "\n";
    return kExitUsage;
  }
  audit::VerifyOptions o;
  o.checkpointFile = a.checkpoint;
  o.trustedKey = a.key;
  auto r = audit::verify(path, o);
  nlohmann::json j{{"ok", r.ok()},           {"kind", audit::tamperName(r.kind)}, {"first_bad_seq", r.firstBadSeq},
                   {"detail", r.detail},     {"records", r.records},              {"checkpoints", r.checkpoints},
                   {"head", headHex(r.head)}};
  std::string text = r.ok() ? "ok: " + std::to_string(r.records) + " records, " + std::to_string(r.checkpoints) +
                                  " signed checkpoints, head " + headHex(r.head)
                            : std::string("TAMPERED (") + audit::tamperName(r.kind) + ") at sequence " +
                                  std::to_string(r.firstBadSeq) + ": " + r.detail;
  printJsonOrText(a.json, j.dump(), text);
  return r.ok() ? kExitOk : kExitProblems;
}

int runShow(const AuditArgs& a) {
  auto r = audit::show(dbPath(a), a.seq);
  if (!r) {
    std::cerr << "mandate audit show: no record " << a.seq << "\n";
    return kExitProblems;
  }
  std::cout << audit::toJsonLine(*r) << "\n";
  return kExitOk;
}

int runExport(const AuditArgs& a) {
  audit::ExportFilter f;
  std::string why;
  std::int64_t us = 0;
  if (!a.since.empty()) {
    if (!parseUs(a.since, us, why)) {
      std::cerr << "mandate audit export: --since: " << why << "\n";
      return kExitUsage;
    }
    f.sinceUs = us;
  }
  if (!a.until.empty()) {
    if (!parseUs(a.until, us, why)) {
      std::cerr << "mandate audit export: --until: " << why << "\n";
      return kExitUsage;
    }
    f.untilUs = us;
  }
  f.subject = a.subject;
  f.type = a.type;
  if (a.format != "jsonl" && a.format != "csv") {
    std::cerr << "mandate audit export: --format is jsonl or csv\n";
    return kExitUsage;
  }
  if (!exists(dbPath(a))) {
    std::cerr << "mandate audit export: no audit log at " << dbPath(a) << "\n";
    return kExitUsage;
  }
  auto n = audit::exportRecords(dbPath(a), f, a.format == "csv" ? audit::Format::Csv : audit::Format::Jsonl, std::cout);
  std::cerr << "exported " << n << " records\n";
  return kExitOk;
}

}  // namespace

void addAuditCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* cmd = app.add_subcommand("audit", "Read and verify the tamper-evident audit trail");
  cmd->require_subcommand(1);
  cmd->footer("The audit log is DATA_DIR/audit.db (docs/audit.md describes records, hashes and checkpoints).");
  auto common = [&](CLI::App* c) {
    c->add_option("--data-dir", args->dataDir, "The server's data directory")->capture_default_str();
    c->add_option("--db", args->db, "The audit database (default DATA_DIR/audit.db)");
  };
  CLI::App* verify = cmd->add_subcommand("verify", "Recompute the hash chain and check the signed checkpoints");
  common(verify);
  verify->add_option("--checkpoint", args->checkpoint, "An audit-checkpoint.txt anchored elsewhere");
  verify->add_option("--key", args->key, "The checkpoint public key to trust (base64url)");
  verify->add_flag("--json", args->json, "JSON output");
  verify->footer("Exit status: 0 intact, 1 tampered (the kind and first bad sequence are printed), 2 no log.");
  verify->callback([args, &result] { guarded(result, [&] { return runVerify(*args); }); });
  CLI::App* show = cmd->add_subcommand("show", "Print one record as JSON");
  common(show);
  show->add_option("seq", args->seq, "Sequence number")->required();
  show->callback([args, &result] { guarded(result, [&] { return runShow(*args); }); });
  CLI::App* exp = cmd->add_subcommand("export", "Stream records as JSON lines or CSV (constant memory)");
  common(exp);
  exp->add_option("--since", args->since, "From this time (RFC 3339, UTC), inclusive");
  exp->add_option("--until", args->until, "Up to this time, exclusive");
  exp->add_option("--subject", args->subject, "Only records whose actor subject is this");
  exp->add_option("--type", args->type, "Only records of this event type");
  exp->add_option("--format", args->format, "jsonl or csv")->capture_default_str();
  exp->callback([args, &result] { guarded(result, [&] { return runExport(*args); }); });
  addAuditReplayCommand(*cmd, result);
}

}  // namespace mandate::cli
