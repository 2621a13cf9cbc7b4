// mandate subject set|show|list: the account holders and their KYC attributes.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "admin_audit.h"
#include "server_setup.h"
#include "vm/frame.h"

namespace mandate::cli {
namespace {

struct SubjectArgs {
  std::string id, dataDir = "./mandate-data", attrs, policies = "policies", bundle;
  bool json = false;
};

// The attributes must be exactly what the policy schema's `subject` section declares: an
// unknown or mistyped attribute is refused by name, a missing required one too.
bool validate(const Schema& schema, const nlohmann::json& attrs, std::vector<std::string>& problems) {
  if (!attrs.is_object()) {
    problems.push_back("--attrs must be a JSON object");
    return false;
  }
  vm::Frame frame;
  std::vector<std::string> errors;
  vm::fillFrame(schema, nlohmann::json{{"subject", attrs}}, frame, errors, {});
  for (auto& e : errors)
    if (e.find("`subject.") != std::string::npos) problems.push_back(e);
  return problems.empty();
}

int runSet(const SubjectArgs& a) {
  if (!validId(a.id)) {
    std::cerr << "mandate subject set: the id must be 1..256 printable ASCII characters\n";
    return kExitUsage;
  }
  auto attrs = nlohmann::json::parse(a.attrs, nullptr, false);
  if (attrs.is_discarded()) {
    std::cerr << "mandate subject set: --attrs is not valid JSON\n";
    return kExitUsage;
  }
  std::string error;
  auto b = loadPolicy(a.policies, a.bundle, "", error);
  if (!b) {
    std::cerr << "mandate subject set: cannot load the policy schema to check the attributes against: " << error << "\n";
    return kExitUsage;
  }
  std::vector<std::string> problems;
  if (!validate(b->schema, attrs, problems)) {
    for (const auto& p : problems) std::cerr << "mandate subject set: " << p << "\n";
    return kExitProblems;
  }
  auto store = openDataDir(a.dataDir);
  store::Subject s;
  s.id = a.id;
  s.attrsJson = attrs.dump();
  s.updatedMs = wallClockMs();
  auto old = store->getSubject(a.id);
  s.createdMs = old ? old->createdMs : s.updatedMs;
  store->putSubject(s);
  nlohmann::json before = old ? nlohmann::json::parse(old->attrsJson, nullptr, false) : nlohmann::json(nullptr);
  if (before.is_discarded()) before = old->attrsJson;
  if (!recordAdminChange(a.dataDir, "subject.set", a.id, before, attrs)) return kExitProblems;
  printJsonOrText(a.json, nlohmann::json{{"subject", a.id}, {"attrs", attrs}}.dump(), "subject " + a.id + " saved");
  return kExitOk;
}

nlohmann::json subjectJson(const store::Subject& s) {
  auto attrs = nlohmann::json::parse(s.attrsJson, nullptr, false);
  return {{"subject", s.id}, {"attrs", attrs}, {"created_ms", s.createdMs}, {"updated_ms", s.updatedMs}};
}

int runShow(const SubjectArgs& a) {
  auto store = openDataDir(a.dataDir);
  auto s = store->getSubject(a.id);
  if (!s) {
    std::cerr << "mandate subject show: no subject `" << a.id << "`\n";
    return kExitProblems;
  }
  auto j = subjectJson(*s);
  printJsonOrText(a.json, j.dump(), s->id + " " + j["attrs"].dump());
  return kExitOk;
}

int runList(const SubjectArgs& a) {
  auto store = openDataDir(a.dataDir);
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  for (const auto& s : store->listSubjects()) {
    all.push_back(subjectJson(s));
    text += s.id + "\n";
  }
  if (!text.empty()) text.pop_back();
  printJsonOrText(a.json, all.dump(), text.empty() ? "(no subjects)" : text);
  return kExitOk;
}

}  // namespace

void addSubjectCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<SubjectArgs>();
  CLI::App* cmd = app.add_subcommand("subject", "Manage subjects (account holders) and their KYC attributes");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--data-dir", args->dataDir, "Data directory")->capture_default_str();
    c->add_flag("--json", args->json, "JSON output");
  };
  CLI::App* set = cmd->add_subcommand("set", "Create or replace a subject's attributes");
  set->add_option("id", args->id, "Subject id (the `sub` of its tokens)")->required();
  set->add_option("--attrs", args->attrs, "Attributes as a JSON object, checked against the policy schema")->required();
  set->add_option("--policies", args->policies, "Policies whose schema the attributes are checked against")
      ->capture_default_str();
  set->add_option("--bundle", args->bundle, "Or a built bundle carrying the schema");
  common(set);
  set->callback([args, &result] { guarded(result, [&] { return runSet(*args); }); });
  CLI::App* show = cmd->add_subcommand("show", "Show one subject");
  show->add_option("id", args->id, "Subject id")->required();
  common(show);
  show->callback([args, &result] { guarded(result, [&] { return runShow(*args); }); });
  CLI::App* list = cmd->add_subcommand("list", "List subjects");
  common(list);
  list->callback([args, &result] { guarded(result, [&] { return runList(*args); }); });
}

}  // namespace mandate::cli
