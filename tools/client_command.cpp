// mandate client create|list|show|update|disable|rotate-secret: OAuth clients.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "compile_sources.h"
#include "jose/jose.h"
#include "oauth/directory.h"
#include "oauth/tokens.h"
#include "admin_audit.h"
#include "server_setup.h"
#include "vm/frame.h"

namespace mandate::cli {
namespace {

struct ClientArgs {
  std::string id, dataDir = "./mandate-data", subject, auth, jwksFile, scope, kind, policies = "policies", bundle;
  std::vector<std::string> grants, ipAllowlist;
  std::int64_t tokenTtl = 0;
  bool json = false, enable = false;
};

const std::vector<std::string> kGrants{"client_credentials", "refresh_token"};
const std::vector<std::string> kAuthMethods{"client_secret_basic", "client_secret_post", "private_key_jwt"};

// 256 bits from the CSPRNG, base64url: the secret is shown once and only its SHA-256 is kept.
std::string newSecret() {
  std::string bytes = jose::randomBytes(32);
  if (bytes.size() != 32) throw std::runtime_error("the random number generator failed");
  return jose::b64urlEncode(bytes);
}

bool readJwks(const std::string& path, std::string& out, std::string& error) {
  std::string text;
  if (!readWholeFile(path, 64 * 1024, text, error)) return false;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && !j.contains("keys") && j.contains("kty")) j = {{"keys", {j}}};  // a single JWK
  auto keys = j.is_discarded() ? std::nullopt : jose::parseJwks(j, error);
  if (!keys) {
    error = path + ": not a usable public JWK Set: " + (error.empty() ? "invalid JSON" : error);
    return false;
  }
  if (keys->empty()) {
    error = path + ": the JWK Set has no keys";
    return false;
  }
  out = j.dump();
  return true;
}

// kind and ip_allowlist are policy inputs: checked against the schema's `client` section.
bool validateAgainstSchema(const ClientArgs& a, const store::Client& c, std::string& error) {
  auto b = loadPolicy(a.policies, a.bundle, "", error);
  if (!b) {
    error = "cannot load the policy schema to check the client against: " + error;
    return false;
  }
  nlohmann::json client{{"kind", c.kind}, {"ip_allowlist", c.ipAllowlist}};
  for (auto it = client.begin(); it != client.end();)
    it = b->schema.findAttr("client", it.key()) ? std::next(it) : client.erase(it);
  vm::Frame frame;
  std::vector<std::string> errors;
  vm::fillFrame(b->schema, nlohmann::json{{"client", client}}, frame, errors, {});
  for (const auto& e : errors)
    if (e.find("`client.") != std::string::npos && e.find("missing") == std::string::npos) {
      error = e;
      return false;
    }
  for (const auto& s : oauth::splitSpaces(c.scope))
    if (b->schema.findAction(s) < 0) {
      error = "scope `" + s + "` is not an action of the policy schema";
      return false;
    }
  return true;
}

nlohmann::json clientJson(const store::Client& c) {
  return {{"client_id", c.id},
          {"subject", c.subject},
          {"grant_types", c.grants},
          {"token_endpoint_auth_method", c.authMethod},
          {"scope", c.scope},
          {"kind", c.kind},
          {"ip_allowlist", c.ipAllowlist},
          {"token_ttl_s", c.tokenTtlS},
          {"disabled", c.disabled},
          {"jwks", c.jwksJson.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(c.jwksJson, nullptr, false)},
          {"created_ms", c.createdMs},
          {"updated_ms", c.updatedMs}};
}

std::string clientText(const store::Client& c) {
  std::string grants;
  for (const auto& g : c.grants) grants += (grants.empty() ? "" : ",") + g;
  return c.id + "  subject=" + c.subject + "  auth=" + c.authMethod + "  grants=" + grants + "  scope=\"" + c.scope +
         "\"  kind=" + c.kind + "  ttl=" + std::to_string(c.tokenTtlS) + "s" + (c.disabled ? "  DISABLED" : "");
}

bool checkChoices(const ClientArgs& a, std::string& error) {
  for (const auto& g : a.grants)
    if (std::find(kGrants.begin(), kGrants.end(), g) == kGrants.end()) {
      error = "unknown grant `" + g + "` (client_credentials, refresh_token)";
      return false;
    }
  if (!a.auth.empty() && std::find(kAuthMethods.begin(), kAuthMethods.end(), a.auth) == kAuthMethods.end()) {
    error = "unknown --auth `" + a.auth + "` (client_secret_basic, client_secret_post, private_key_jwt)";
    return false;
  }
  if (a.tokenTtl < 0 || a.tokenTtl > 86400) {
    error = "--token-ttl must be 1..86400 seconds";
    return false;
  }
  return true;
}

int runCreate(const ClientArgs& a) {
  std::string error;
  if (!checkChoices(a, error)) {
    std::cerr << "mandate client create: " << error << "\n";
    return kExitUsage;
  }
  if (!validId(a.id)) {
    std::cerr << "mandate client create: --id must be 1..256 printable ASCII characters\n";
    return kExitUsage;
  }
  if (oauth::splitSpaces(a.scope).empty()) {
    std::cerr << "mandate client create: --scope must name at least one action (e.g. --scope \"read trade\")\n";
    return kExitUsage;
  }
  store::Client c;
  c.id = a.id;
  c.subject = a.subject;
  c.grants = a.grants.empty() ? std::vector<std::string>{"client_credentials"} : a.grants;
  c.authMethod = a.auth;
  c.scope = a.scope;
  if (!a.kind.empty()) c.kind = a.kind;
  c.ipAllowlist = a.ipAllowlist;
  if (a.tokenTtl > 0) c.tokenTtlS = a.tokenTtl;
  c.createdMs = c.updatedMs = wallClockMs();
  std::string secret;
  if (c.authMethod == "private_key_jwt") {
    if (a.jwksFile.empty()) {
      std::cerr << "mandate client create: private_key_jwt needs --jwks FILE (the client's public keys)\n";
      return kExitUsage;
    }
    if (!readJwks(a.jwksFile, c.jwksJson, error)) {
      std::cerr << "mandate client create: " << error << "\n";
      return kExitUsage;
    }
  } else {
    if (!a.jwksFile.empty()) {
      std::cerr << "mandate client create: --jwks is only for --auth private_key_jwt\n";
      return kExitUsage;
    }
    secret = newSecret();
    c.secretHash = oauth::hexSha256(secret);
  }
  if (!validateAgainstSchema(a, c, error)) {
    std::cerr << "mandate client create: " << error << "\n";
    return kExitProblems;
  }
  auto store = openDataDir(a.dataDir);
  if (!store->getSubject(c.subject)) {
    std::cerr << "mandate client create: no subject `" << c.subject << "` (create it with `mandate subject set`)\n";
    return kExitProblems;
  }
  if (!store->insertClient(c)) {
    std::cerr << "mandate client create: a client `" << c.id << "` exists already\n";
    return kExitProblems;
  }
  auto j = clientJson(c);
  if (!secret.empty()) j["client_secret"] = secret;
  // Printed before the audit record: the client exists now, and its secret is shown only here.
  printJsonOrText(a.json, j.dump(),
                  "client " + c.id + " created" + (secret.empty() ? "" : "\nclient_secret: " + secret +
                                                                            "\n(shown once; only its hash is stored)"));
  return recordAdminChange(a.dataDir, "client.created", c.id, nullptr, clientJson(c)) ? kExitOk : kExitProblems;
}

std::optional<store::Client> load(store::Store& s, const std::string& id, const char* cmd) {
  auto c = s.getClient(id);
  if (!c) std::cerr << "mandate client " << cmd << ": no client `" << id << "`\n";
  return c;
}

int runShow(const ClientArgs& a) {
  auto store = openDataDir(a.dataDir);
  auto c = load(*store, a.id, "show");
  if (!c) return kExitProblems;
  printJsonOrText(a.json, clientJson(*c).dump(), clientText(*c));
  return kExitOk;
}

int runList(const ClientArgs& a) {
  auto store = openDataDir(a.dataDir);
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  for (const auto& c : store->listClients()) {
    all.push_back(clientJson(c));
    text += clientText(c) + "\n";
  }
  if (!text.empty()) text.pop_back();
  printJsonOrText(a.json, all.dump(), text.empty() ? "(no clients)" : text);
  return kExitOk;
}

int runUpdate(const ClientArgs& a, CLI::App* cmd) {
  std::string error;
  if (!checkChoices(a, error)) {
    std::cerr << "mandate client update: " << error << "\n";
    return kExitUsage;
  }
  auto store = openDataDir(a.dataDir);
  auto c = load(*store, a.id, "update");
  if (!c) return kExitProblems;
  const nlohmann::json before = clientJson(*c);
  if (cmd->count("--subject")) {
    if (!store->getSubject(a.subject)) {
      std::cerr << "mandate client update: no subject `" << a.subject << "`\n";
      return kExitProblems;
    }
    c->subject = a.subject;
  }
  if (cmd->count("--scope")) c->scope = a.scope;
  if (cmd->count("--kind")) c->kind = a.kind;
  if (cmd->count("--grant")) c->grants = a.grants;
  if (cmd->count("--ip-allowlist")) c->ipAllowlist = a.ipAllowlist;
  if (cmd->count("--token-ttl")) c->tokenTtlS = a.tokenTtl;
  if (cmd->count("--enable")) c->disabled = false;
  if (cmd->count("--jwks")) {
    if (c->authMethod != "private_key_jwt") {
      std::cerr << "mandate client update: --jwks is only for private_key_jwt clients\n";
      return kExitUsage;
    }
    if (!readJwks(a.jwksFile, c->jwksJson, error)) {
      std::cerr << "mandate client update: " << error << "\n";
      return kExitUsage;
    }
  }
  if (!validateAgainstSchema(a, *c, error)) {
    std::cerr << "mandate client update: " << error << "\n";
    return kExitProblems;
  }
  c->updatedMs = wallClockMs();
  store->updateClient(*c);
  if (!recordAdminChange(a.dataDir, "client.updated", c->id, before, clientJson(*c))) return kExitProblems;
  printJsonOrText(a.json, clientJson(*c).dump(), "client " + c->id + " updated");
  return kExitOk;
}

int runDisable(const ClientArgs& a) {
  auto store = openDataDir(a.dataDir);
  auto c = load(*store, a.id, "disable");
  if (!c) return kExitProblems;
  const nlohmann::json before = clientJson(*c);
  c->disabled = true;
  c->updatedMs = wallClockMs();
  store->updateClient(*c);
  if (!recordAdminChange(a.dataDir, "client.disabled", c->id, before, clientJson(*c))) return kExitProblems;
  printJsonOrText(a.json, clientJson(*c).dump(), "client " + c->id + " disabled");
  return kExitOk;
}

int runRotate(const ClientArgs& a) {
  auto store = openDataDir(a.dataDir);
  auto c = load(*store, a.id, "rotate-secret");
  if (!c) return kExitProblems;
  if (c->authMethod == "private_key_jwt") {
    std::cerr << "mandate client rotate-secret: " << c->id << " authenticates with private_key_jwt (use update --jwks)\n";
    return kExitUsage;
  }
  const nlohmann::json before = clientJson(*c);
  std::string secret = newSecret();
  c->secretHash = oauth::hexSha256(secret);
  c->updatedMs = wallClockMs();
  store->updateClient(*c);
  auto j = clientJson(*c);
  j["client_secret"] = secret;
  printJsonOrText(a.json, j.dump(), "client_secret: " + secret + "\n(the old secret no longer works)");
  return recordAdminChange(a.dataDir, "client.secret_rotated", c->id, before, clientJson(*c)) ? kExitOk
                                                                                                  : kExitProblems;
}

}  // namespace

void addClientCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<ClientArgs>();
  CLI::App* cmd = app.add_subcommand("client", "Manage OAuth clients");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--data-dir", args->dataDir, "Data directory")->capture_default_str();
    c->add_flag("--json", args->json, "JSON output");
  };
  auto attributes = [&](CLI::App* c) {
    c->add_option("--subject", args->subject, "The subject (account) the client acts for");
    c->add_option("--grant", args->grants, "Grant type: client_credentials, refresh_token (repeatable)");
    c->add_option("--scope", args->scope, "Maximum scope, space separated actions (e.g. \"read trade\")");
    c->add_option("--kind", args->kind, "Client kind (the schema's ClientKind: trading_bot, web, ...)");
    c->add_option("--token-ttl", args->tokenTtl, "Access token lifetime in seconds (policy obligations may cap it)");
    c->add_option("--ip-allowlist", args->ipAllowlist, "CIDR blocks the client may be used from (policy input)");
    c->add_option("--jwks", args->jwksFile, "JWK Set file with the client's public keys (private_key_jwt)");
    c->add_option("--policies", args->policies, "Policies whose schema kind/scope are checked against")
        ->capture_default_str();
    c->add_option("--bundle", args->bundle, "Or a built bundle carrying the schema");
  };
  CLI::App* create = cmd->add_subcommand("create", "Register a client; prints its secret once");
  create->add_option("--id", args->id, "Client id")->required();
  create->add_option("--auth", args->auth, "client_secret_basic | client_secret_post | private_key_jwt")->required();
  attributes(create);
  create->get_option("--subject")->required();
  create->get_option("--scope")->required();
  common(create);
  create->callback([args, &result] { guarded(result, [&] { return runCreate(*args); }); });

  CLI::App* show = cmd->add_subcommand("show", "Show one client");
  show->add_option("id", args->id, "Client id")->required();
  common(show);
  show->callback([args, &result] { guarded(result, [&] { return runShow(*args); }); });

  CLI::App* list = cmd->add_subcommand("list", "List clients");
  common(list);
  list->callback([args, &result] { guarded(result, [&] { return runList(*args); }); });

  CLI::App* update = cmd->add_subcommand("update", "Change a client's attributes");
  update->add_option("id", args->id, "Client id")->required();
  attributes(update);
  update->add_flag("--enable", args->enable, "Re-enable a disabled client");
  common(update);
  update->callback([args, update, &result] { guarded(result, [&] { return runUpdate(*args, update); }); });

  CLI::App* disable = cmd->add_subcommand("disable", "Disable a client (its authentication fails from now on)");
  disable->add_option("id", args->id, "Client id")->required();
  common(disable);
  disable->callback([args, &result] { guarded(result, [&] { return runDisable(*args); }); });

  CLI::App* rotate = cmd->add_subcommand("rotate-secret", "Replace a client's secret; prints the new one once");
  rotate->add_option("id", args->id, "Client id")->required();
  common(rotate);
  rotate->callback([args, &result] { guarded(result, [&] { return runRotate(*args); }); });
}

}  // namespace mandate::cli
