#include "vm/report.h"

#include <algorithm>

#include "value/literals.h"

namespace mandate::vm {
namespace {

std::string productName(const bundle::Bundle& b, std::size_t action, std::size_t p) {
  if (!b.schema.actionHasProducts[action]) return {};
  return b.schema.enums[b.schema.productsEnum].values[p];
}

std::size_t cellsOf(const bundle::Bundle& b, std::size_t action) {
  return b.schema.actionHasProducts[action] ? b.schema.productCount() : 1;
}

const bundle::DebugEntry* debugAt(const bundle::Bundle& b, std::uint32_t pc) {
  auto it = std::lower_bound(b.debug.begin(), b.debug.end(), pc, [](const bundle::DebugEntry& e, std::uint32_t x) { return e.pc < x; });
  return it != b.debug.end() && it->pc == pc ? &*it : nullptr;
}


const char* outcomeName(Outcome o) {
  switch (o) {
    case Outcome::Fired: return "fired";
    case Outcome::Errored: return "error";
    default: return "did not apply";
  }
}

// Explanation lines for one rule: attribute values read and sub-conditions decided.
std::vector<std::string> explainRule(const bundle::Bundle& b, const Trace& t, std::uint32_t rule) {
  std::vector<std::string> out;
  for (const auto& e : t.events) {
    if (e.rule != rule) continue;
    const bundle::DebugEntry* dbg = debugAt(b, e.pc);
    if (dbg == nullptr && !e.isLoad) continue;  // internal steps (match arms) have no source text
    std::string where = dbg ? dbg->text : "pc " + std::to_string(e.pc);
    std::string prod = e.product >= 0 ? " [product " + b.schema.enums[b.schema.productsEnum].values[e.product] + "]" : "";
    if (e.isLoad) {
      const AttrInfo& a = b.schema.attrs[b.code[e.pc].a];
      out.push_back(a.section + "." + a.name + " = " + formatValue(b.schema, a.type, e.value) + prod);
    } else {
      out.push_back("`" + where + "` -> " + (e.value.a ? "true" : "false") + prod);
    }
  }
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::string limitText(const bundle::Bundle& b, const Decision& d, std::size_t limit, std::size_t action, std::size_t product) {
  std::size_t idx = limit * d.actions * 64 + action * 64 + product;
  if (d.limitRule[idx] < 0) return {};
  return formatValue(b.schema, b.schema.limits[limit].type, d.limit[idx]);
}

nlohmann::json decisionJson(const bundle::Bundle& b, const Decision& d, const Trace* trace) {
  nlohmann::json j;
  j["policy"] = b.contentHash;
  nlohmann::json permitted = nlohmann::json::array(), denied = nlohmann::json::array();
  for (std::size_t a = 0; a < d.actions; ++a) {
    for (std::size_t p = 0; p < cellsOf(b, a); ++p) {
      nlohmann::json cell;
      cell["action"] = b.schema.actions[a];
      if (b.schema.actionHasProducts[a]) cell["product_class"] = productName(b, a, p);
      if (d.allowed(a, p)) {
        nlohmann::json limits = nlohmann::json::object();
        for (std::size_t l = 0; l < b.schema.limits.size(); ++l) {
          std::string v = limitText(b, d, l, a, p);
          if (!v.empty()) limits[b.schema.limits[l].name] = v;
        }
        if (!limits.empty()) cell["limits"] = limits;
        if (d.aal[a * 64 + p] > 0) cell["aal"] = d.aal[a * 64 + p];
        if (d.authAgeMs[a * 64 + p] >= 0) cell["max_auth_age_ms"] = d.authAgeMs[a * 64 + p];
        permitted.push_back(cell);
      } else if ((d.denied[a] >> p) & 1) {
        const bundle::Rule& r = b.rules[d.denyRule[a * 64 + p]];
        cell["rule"] = r.id;
        cell["reason"] = r.reason;
        cell["source"] = r.file + ":" + std::to_string(r.line) + ":" + std::to_string(r.col);
        denied.push_back(cell);
      }
    }
  }
  j["permitted"] = permitted;
  j["denied"] = denied;
  if (d.ttlCapMs >= 0) j["ttl_cap_ms"] = d.ttlCapMs;
  nlohmann::json errors = nlohmann::json::array();
  for (std::uint32_t i = 0; i < d.errorCount; ++i) {
    const RuleError& e = d.errors[i];
    nlohmann::json x = {{"rule", b.rules[e.rule].id}, {"error", describe(e.error)}};
    if (e.error == EvalError::Absent) x["attribute"] = b.schema.attrs[e.slot].section + "." + b.schema.attrs[e.slot].name;
    errors.push_back(x);
  }
  j["errors"] = errors;
  if (trace != nullptr) {
    nlohmann::json rules = nlohmann::json::array();
    for (std::uint32_t i = 0; i < b.rules.size(); ++i) {
      const auto& r = b.rules[i];
      rules.push_back({{"rule", r.id},
                       {"kind", bundle::ruleKindName(r.kind)},
                       {"outcome", outcomeName(d.outcome[i])},
                       {"source", r.file + ":" + std::to_string(r.line) + ":" + std::to_string(r.col)},
                       {"reason", r.reason},
                       {"because_of", explainRule(b, *trace, i)}});
    }
    j["explain"] = rules;
  }
  return j;
}

std::string decisionText(const bundle::Bundle& b, const Decision& d, const Trace* trace) {
  std::string out = "policy " + b.contentHash + "\n";
  out += "permitted:\n";
  bool any = false;
  for (std::size_t a = 0; a < d.actions; ++a) {
    for (std::size_t p = 0; p < cellsOf(b, a); ++p) {
      if (!d.allowed(a, p)) continue;
      any = true;
      std::string cell = "  " + b.schema.actions[a] + (b.schema.actionHasProducts[a] ? " on " + productName(b, a, p) : "");
      for (std::size_t l = 0; l < b.schema.limits.size(); ++l) {
        std::string v = limitText(b, d, l, a, p);
        if (!v.empty()) cell += "  " + b.schema.limits[l].name + "=" + v;
      }
      if (d.aal[a * 64 + p] > 0) cell += "  aal>=" + std::to_string(d.aal[a * 64 + p]);
      if (d.authAgeMs[a * 64 + p] >= 0) cell += "  auth_age<=" + lit::formatDuration(d.authAgeMs[a * 64 + p]);
      out += cell + "\n";
    }
  }
  if (!any) out += "  (nothing)\n";
  out += "denied:\n";
  any = false;
  for (std::size_t a = 0; a < d.actions; ++a) {
    for (std::size_t p = 0; p < cellsOf(b, a); ++p) {
      if (!((d.denied[a] >> p) & 1)) continue;
      any = true;
      const bundle::Rule& r = b.rules[d.denyRule[a * 64 + p]];
      out += "  " + b.schema.actions[a] + (b.schema.actionHasProducts[a] ? " on " + productName(b, a, p) : "") + "  by " +
             r.id + " (" + r.file + ":" + std::to_string(r.line) + ")" + (r.reason.empty() ? "" : ": " + r.reason) + "\n";
    }
  }
  if (!any) out += "  (nothing denied by a rule; anything not permitted is denied by default)\n";
  if (d.ttlCapMs >= 0) out += "token lifetime capped at " + lit::formatDuration(d.ttlCapMs) + "\n";
  for (std::uint32_t i = 0; i < d.errorCount; ++i) {
    const RuleError& e = d.errors[i];
    out += "error in " + b.rules[e.rule].id + ": " + describe(e.error);
    if (e.error == EvalError::Absent) out += " (" + b.schema.attrs[e.slot].section + "." + b.schema.attrs[e.slot].name + ")";
    out += "; failed closed\n";
  }
  if (trace != nullptr) {
    out += "explanation:\n";
    for (std::uint32_t i = 0; i < b.rules.size(); ++i) {
      const auto& r = b.rules[i];
      out += "  " + r.id + " (" + r.file + ":" + std::to_string(r.line) + ") " + bundle::ruleKindName(r.kind) + ": " +
             outcomeName(d.outcome[i]) + (r.reason.empty() ? "" : " — " + r.reason) + "\n";
      for (const auto& line : explainRule(b, *trace, i)) out += "      " + line + "\n";
    }
  }
  return out;
}

}  // namespace mandate::vm
