// mandate keys list|rotate: the token signing keys.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "oauth/keyring.h"
#include "admin_audit.h"
#include "server_setup.h"

namespace mandate::cli {
namespace {

struct KeysArgs {
  std::string dataDir = "./mandate-data", alg = "ES256";
  std::int64_t activateAfter = 120, keep = 86400;
  bool json = false;
};

std::string isoTime(std::int64_t ms) {
  if (ms == 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string state(const store::SigningKey& k, std::int64_t now) {
  if (k.removeAfterMs != 0 && now >= k.removeAfterMs) return "removed";
  if (k.retiredAtMs != 0 && now >= k.retiredAtMs) return "retired (published, not signing)";
  if (k.activeFromMs > now) return "published, signs from " + isoTime(k.activeFromMs);
  return "signing";
}

int runList(const KeysArgs& a) {
  auto store = openDataDir(a.dataDir);
  std::int64_t now = wallClockMs();
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  for (const auto& k : store->listKeys()) {
    all.push_back({{"kid", k.kid},
                   {"alg", k.alg},
                   {"created_ms", k.createdMs},
                   {"active_from_ms", k.activeFromMs},
                   {"retired_at_ms", k.retiredAtMs},
                   {"remove_after_ms", k.removeAfterMs},
                   {"state", state(k, now)}});
    text += k.kid + "  " + k.alg + "  created " + isoTime(k.createdMs) + "  " + state(k, now) + "\n";
  }
  if (!text.empty()) text.pop_back();
  printJsonOrText(a.json, all.dump(), text.empty() ? "(no keys: the server creates one on first start)" : text);
  return kExitOk;
}

int runRotate(const KeysArgs& a) {
  auto store = openDataDir(a.dataDir);
  oauth::SystemClock clock;
  oauth::RotationOptions o;
  o.activateAfterMs = a.activateAfter * 1000;
  o.keepOldMs = a.keep * 1000;
  o.alg = a.alg;
  nlohmann::json before = nlohmann::json::array();
  for (const auto& k : store->listKeys()) before.push_back({{"kid", k.kid}, {"alg", k.alg}, {"state", state(k, wallClockMs())}});
  std::string kid = oauth::KeyRing::rotate(*store, clock, o);
  nlohmann::json after = nlohmann::json::array();
  for (const auto& k : store->listKeys())
    after.push_back({{"kid", k.kid}, {"alg", k.alg}, {"state", state(k, wallClockMs())}, {"active_from_ms", k.activeFromMs}});
  if (!recordAdminChange(a.dataDir, "key.rotated", kid, before, after)) return kExitProblems;
  printJsonOrText(a.json, nlohmann::json{{"kid", kid}, {"active_from_ms", wallClockMs() + o.activateAfterMs}}.dump(),
                  "new key " + kid + " published now; it signs from " + isoTime(wallClockMs() + o.activateAfterMs) +
                      " and the current key stays published " + std::to_string(a.keep) + " s after that");
  return kExitOk;
}

}  // namespace

void addKeysCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<KeysArgs>();
  CLI::App* cmd = app.add_subcommand("keys", "Manage token signing keys");
  cmd->require_subcommand(1);
  CLI::App* list = cmd->add_subcommand("list", "List signing keys and their state");
  CLI::App* rotate = cmd->add_subcommand("rotate", "Publish a new signing key, then switch to it");
  for (CLI::App* c : {list, rotate}) {
    c->add_option("--data-dir", args->dataDir, "Data directory")->capture_default_str();
    c->add_flag("--json", args->json, "JSON output");
  }
  rotate->add_option("--activate-after", args->activateAfter,
                     "Seconds between publishing the new key in /jwks and signing with it (covers JWKS caches)")
      ->capture_default_str()
      ->check(CLI::Range(0, 7 * 86400));
  rotate->add_option("--keep", args->keep,
                     "Seconds the old key stays published after it stops signing (>= the longest token lifetime)")
      ->capture_default_str()
      ->check(CLI::Range(0, 365 * 86400));
  rotate->add_option("--alg", args->alg, "ES256, EdDSA or PS256")->capture_default_str()->check(
      CLI::IsMember({"ES256", "EdDSA", "PS256"}));
  list->callback([args, &result] { guarded(result, [&] { return runList(*args); }); });
  rotate->callback([args, &result] { guarded(result, [&] { return runRotate(*args); }); });
}

}  // namespace mandate::cli
