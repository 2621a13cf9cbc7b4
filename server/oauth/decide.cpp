// The policy decision in the token endpoint: the input document, the VM, and the grant rendered
// as RFC 9396 authorization_details.
#include <algorithm>
#include <map>
#include <set>

#include "oauth/json_text.h"
#include "oauth/permissions.h"
#include "vm/report.h"

namespace mandate::oauth {

bool Grant::any() const {
  return std::any_of(cells.begin(), cells.end(), [](std::uint64_t m) { return m != 0; });
}

namespace {

// The inputs the server fills, in this order; a schema that does not declare one does not get it.
// request.country: GeoIP is not wired yet (the risk work adds it); until then the subject's
// verified residence stands in for the request's country.
constexpr std::pair<std::string_view, std::string_view> kServerInputs[] = {
    {"client", "kind"},  {"client", "ip_allowlist"}, {"request", "ip"},       {"request", "country"},
    {"request", "scopes"}, {"request", "aal"},       {"request", "auth_age"}, {"risk", "score"},
    {"risk", "new_device"}, {"risk", "impossible_travel"}};

struct ThreadState {
  std::uint64_t generation = ~0ULL;  // of the LoadedPolicy `declared` and `input` were made for
  std::vector<std::uint8_t> declared;  // per kServerInputs entry
  nlohmann::json input;
  // The entries `input` was built from. Compared by address only while `hold` keeps them alive,
  // so an address cannot be reused by another entry in the meantime.
  const SubjectEntry* subject = nullptr;
  const ClientEntry* client = nullptr;
  std::shared_ptr<const SubjectEntry> holdSubject;
  std::shared_ptr<const ClientEntry> holdClient;
  std::string fixedText;  // `{"client":..,"subject":..` of `input`, for the audit record
  Evaluator ev;
};

std::string ipOnly(const std::string& ip) { return ip.empty() ? std::string("0.0.0.0") : ip; }

}  // namespace

Grant decide(const LoadedPolicy& policy, const std::shared_ptr<const SubjectEntry>& subjectPtr,
             const std::shared_ptr<const ClientEntry>& clientPtr, const CellSet& requested,
             const std::vector<std::string>& requestedScopes, const RequestFacts& facts, bool detailsUsed,
             OAuthError& error, std::string* inputText) {
  const Schema& schema = policy.bundle->schema;
  const SubjectEntry& subject = *subjectPtr;
  const ClientEntry& client = *clientPtr;
  thread_local ThreadState state;
  if (state.generation != policy.generation) {
    state.generation = policy.generation;
    state.declared.clear();
    state.input = nullptr;
  }

  if (state.declared.empty()) {
    for (auto [section, name] : kServerInputs) state.declared.push_back(schema.findAttr(section, name) != nullptr);
  }
  auto declared = [&](std::size_t i) { return static_cast<bool>(state.declared[i]); };
  // The input document is kept per thread: its subject and client parts are rebuilt only when
  // the subject or client changes (a bot asking again reuses them), the rest every time.
  nlohmann::json& input = state.input;
  if (state.subject != &subject || state.client != &client || !input.is_object()) {
    input = nlohmann::json::object();
    input["subject"] = subject.attrs;
    nlohmann::json clientIn = nlohmann::json::object();
    if (declared(0)) clientIn["kind"] = client.client.kind;
    if (declared(1)) clientIn["ip_allowlist"] = client.client.ipAllowlist;
    input["client"] = std::move(clientIn);
    state.subject = &subject;
    state.client = &client;
    state.holdSubject = subjectPtr;
    state.holdClient = clientPtr;
    state.fixedText.clear();
  }
  nlohmann::json& request = input["request"];
  request = nlohmann::json::object();
  if (declared(2)) request["ip"] = ipOnly(facts.ip);
  if (declared(3))
    if (auto it = subject.attrs.find("residence"); it != subject.attrs.end()) request["country"] = *it;
  if (declared(4)) request["scopes"] = requestedScopes;
  if (declared(5)) request["aal"] = facts.aal;
  if (declared(6)) request["auth_age"] = facts.authAgeMs / 1000;
  nlohmann::json& risk = input["risk"];
  risk = nlohmann::json::object();
  if (declared(7)) risk["score"] = facts.riskScore;
  if (declared(8)) risk["new_device"] = false;
  if (declared(9)) risk["impossible_travel"] = false;
  input["now"] = facts.nowMs / 1000;
  if (inputText != nullptr) {
    if (state.fixedText.empty()) {
      state.fixedText = R"({"client":)";
      state.fixedText += input["client"].dump();
      state.fixedText += R"(,"subject":)";
      state.fixedText += input["subject"].dump();
    }
    std::string& t = *inputText;
    t = state.fixedText;
    t += R"(,"now":)";
    appendJsonInt(t, facts.nowMs / 1000);
    t += R"(,"request":)";
    t += request.dump();
    t += R"(,"risk":)";
    t += risk.dump();
    t.push_back('}');
  }
  return decideInput(policy, input, requested, facts.aal, facts.authAgeMs, detailsUsed, error, state.ev);
}

Grant decideInput(const LoadedPolicy& policy, const nlohmann::json& input, const CellSet& requested, int aal,
                  std::int64_t authAgeMs, bool detailsUsed, OAuthError& error, Evaluator& ev) {
  const bundle::Bundle& b = *policy.bundle;
  const Schema& schema = b.schema;
  if (ev.bundle != &b || ev.generation != policy.generation) {
    ev.decision.reset(b);
    ev.bundle = &b;
    ev.generation = policy.generation;
  }
  std::vector<std::string> frameErrors;
  vm::FrameOptions opts;
  opts.requireAll = false;  // a missing attribute reaches the VM as absent: rules fail closed
  vm::fillFrame(schema, input, ev.frame, frameErrors, opts);

  vm::Decision& d = ev.decision;
  vm::evaluate(b, ev.frame, d);

  Grant g;
  g.cells.assign(requested.size(), 0);
  std::map<std::int32_t, CellSet> denying;  // rule index -> the requested cells it denied
  std::int64_t aalNeeded = 0;
  for (std::size_t a = 0; a < requested.size() && a < d.actions; ++a) {
    std::uint64_t want = requested[a];
    for (std::uint64_t m = want; m != 0; m &= m - 1) {
      auto p = static_cast<std::size_t>(__builtin_ctzll(m));
      std::size_t cell = a * 64 + p;
      if (!d.allowed(a, p)) {
        if (d.denyRule[cell] >= 0) {
          CellSet& denied = denying[d.denyRule[cell]];
          if (denied.empty()) denied.assign(requested.size(), 0);
          denied[a] |= 1ULL << p;
        }
        continue;
      }
      if (d.aal[cell] > aal) {  // the credential is not strong enough for this cell
        aalNeeded = std::max(aalNeeded, d.aal[cell]);
        continue;
      }
      if (d.authAgeMs[cell] >= 0 && authAgeMs > d.authAgeMs[cell]) continue;
      g.cells[a] |= 1ULL << p;
    }
  }
  for (auto& [rule, denied] : denying) {
    const bundle::Rule& r = b.rules[static_cast<std::size_t>(rule)];
    g.denials.push_back({r.id, r.reason, std::move(denied)});
  }
  std::sort(g.denials.begin(), g.denials.end(), [](const Denial& x, const Denial& y) { return x.rule < y.rule; });
  for (const auto& den : g.denials) g.denyingRules.push_back(den.rule);
  g.aalRequired = aalNeeded;
  for (const auto& e : frameErrors) g.evalErrors.push_back(e);
  for (std::uint32_t i = 0; i < d.errorCount; ++i) {
    const auto& re = d.errors[i];
    std::string what = b.rules[re.rule].id + ": " + vm::describe(re.error);
    if (re.error == vm::EvalError::Absent && re.slot < schema.attrs.size())
      what += " `" + schema.attrs[re.slot].section + "." + schema.attrs[re.slot].name + "`";
    g.evalErrors.push_back(what);
  }

  if (!g.any()) {
    std::string desc = "nothing requested is permitted";
    if (!g.denyingRules.empty()) {
      desc += "; denied by ";
      std::size_t shown = 0;
      for (const auto& id : g.denyingRules) {
        if (shown == 5) {
          desc += "; and " + std::to_string(g.denyingRules.size() - 5) + " more";
          break;
        }
        const std::string& reason = g.denials[shown].reason;
        desc += (shown ? "; " : "") + id;
        if (!reason.empty()) desc += " (" + reason + ")";
        ++shown;
      }
    } else if (aalNeeded > 0) {
      desc += ": the policy requires authenticator assurance level " + std::to_string(aalNeeded);
    } else {
      desc += ": no policy rule permits it";
    }
    if (!g.evalErrors.empty()) desc += " [evaluation errors: " + g.evalErrors.front() + "]";
    error = detailsUsed ? OAuthError{400, "invalid_authorization_details", desc, {}}
                        : OAuthError{400, "invalid_scope", desc, {}};
    error.denyingRules = g.denyingRules;
    g.authorizationDetailsJson = "[]";
    return g;
  }

  // authorization_details: per action, product classes grouped by identical limits (compared as
  // raw values, rendered once per group); groups with the same classes and limits across actions
  // share one entry.
  const std::size_t nLimits = schema.limits.size();
  const std::size_t cellsPerLimit = d.actions * 64;
  struct Group {
    std::uint64_t products = 0;  // 0 for actions without products
    std::vector<std::int64_t> sig;  // per limit: present, a, b
    std::size_t firstAction = 0, firstProduct = 0;
    std::vector<std::size_t> actions;
  };
  std::vector<Group> groups;
  std::vector<std::int64_t> sig(nLimits * 3);
  for (std::size_t a = 0; a < g.cells.size(); ++a) {
    if (g.cells[a] == 0) continue;
    std::size_t actionGroupsStart = groups.size();
    for (std::uint64_t m = g.cells[a]; m != 0; m &= m - 1) {
      auto p = static_cast<std::size_t>(__builtin_ctzll(m));
      for (std::size_t l = 0; l < nLimits; ++l) {
        std::size_t idx = l * cellsPerLimit + a * 64 + p;
        bool present = d.limitRule[idx] >= 0;
        sig[l * 3] = present;
        sig[l * 3 + 1] = present ? d.limit[idx].a : 0;
        sig[l * 3 + 2] = present ? d.limit[idx].b : 0;
      }
      std::size_t k = actionGroupsStart;
      while (k < groups.size() && groups[k].sig != sig) ++k;
      if (k == groups.size()) groups.push_back({0, sig, a, p, {a}});
      if (schema.actionHasProducts[a]) groups[k].products |= 1ULL << p;
    }
    // Merge this action's groups into an earlier action's identical group.
    for (std::size_t k = actionGroupsStart; k < groups.size();) {
      std::size_t j = 0;
      while (j < actionGroupsStart && !(groups[j].products == groups[k].products && groups[j].sig == groups[k].sig)) ++j;
      if (j < actionGroupsStart) {
        groups[j].actions.push_back(a);
        groups.erase(groups.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;
      }
    }
  }
  const EnumInfo* products = schema.productsEnum >= 0 ? &schema.enums[schema.productsEnum] : nullptr;
  std::string& out = g.authorizationDetailsJson;
  out.reserve(256 + groups.size() * 160);
  out.push_back('[');
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const Group& gr = groups[k];
    if (k) out.push_back(',');
    out += R"({"type":"trading","actions":[)";
    for (std::size_t i = 0; i < gr.actions.size(); ++i) {
      if (i) out.push_back(',');
      appendJsonString(out, schema.actions[gr.actions[i]]);
    }
    out.push_back(']');
    if (gr.products != 0 && products != nullptr) {
      out += R"(,"product_classes":[)";
      bool first = true;
      for (std::uint64_t m = gr.products; m != 0; m &= m - 1) {
        if (!first) out.push_back(',');
        first = false;
        appendJsonString(out, products->values[static_cast<std::size_t>(__builtin_ctzll(m))]);
      }
      out.push_back(']');
    }
    bool anyLimit = false;
    for (std::size_t l = 0; l < nLimits; ++l) {
      if (!gr.sig[l * 3]) continue;
      out += anyLimit ? "," : R"(,"limits":{)";
      anyLimit = true;
      appendJsonString(out, schema.limits[l].name);
      out.push_back(':');
      appendJsonNumberText(out, vm::limitText(b, d, l, gr.firstAction, gr.firstProduct));
    }
    if (anyLimit) out.push_back('}');
    out.push_back('}');
  }
  out.push_back(']');
  auto names = actionNames(schema, g.cells);
  for (std::size_t i = 0; i < names.size(); ++i) g.scope += (i ? " " : "") + names[i];
  g.ttlCapMs = d.ttlCapMs;
  return g;
}

}  // namespace mandate::oauth
