#include "oauth/replay.h"

#include <algorithm>
#include <climits>

#include "audit/export.h"
#include "audit/read_db.h"
#include "oauth/json_text.h"
#include "vm/report.h"

namespace mandate::oauth {

const char* changeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::None: return "unchanged";
    case ChangeKind::DeniedEntirely: return "denied_entirely";
    case ChangeKind::Narrowed: return "narrowed";
    case ChangeKind::Widened: return "widened";
    case ChangeKind::Mixed: return "mixed";
    case ChangeKind::Limits: return "limits_changed";
  }
  return "?";
}

namespace {

using Json = nlohmann::json;

RecordReplay skip(std::string reason, std::string detail = {}) {
  RecordReplay r;
  r.skipped = true;
  r.skipReason = std::move(reason);
  r.skipDetail = std::move(detail);
  return r;
}

bool anyCell(const CellSet& c) {
  return std::any_of(c.begin(), c.end(), [](std::uint64_t m) { return m != 0; });
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 5) out += ", ...";
  return out;
}

// The limits a recorded authorization_details array gave each cell: cell -> {limit name: value}.
// False (with the unknown names) when it names actions or classes the schema does not know.
bool recordedLimits(const Schema& schema, const Json& details, std::map<std::size_t, Json>& out,
                    std::vector<std::string>& unknown) {
  if (!details.is_array()) return false;
  for (const auto& entry : details) {
    if (!entry.is_object()) return false;
    auto actions = entry.find("actions");
    if (actions == entry.end() || !actions->is_array()) return false;
    Json limits = Json::object();
    if (auto l = entry.find("limits"); l != entry.end() && l->is_object()) limits = *l;
    std::uint64_t products = ~0ULL;
    if (auto pc = entry.find("product_classes"); pc != entry.end() && pc->is_array()) {
      products = 0;
      for (const auto& p : *pc) {
        int idx = p.is_string() ? schema.findProduct(p.get<std::string>()) : -1;
        if (idx < 0)
          unknown.push_back("product class " + p.dump());
        else
          products |= 1ULL << idx;
      }
    }
    for (const auto& a : *actions) {
      int idx = a.is_string() ? schema.findAction(a.get<std::string>()) : -1;
      if (idx < 0) {
        unknown.push_back("action " + a.dump());
        continue;
      }
      auto ai = static_cast<std::size_t>(idx);
      if (!schema.actionHasProducts[ai]) {
        out[ai * 64] = limits;
        continue;
      }
      std::size_t n = std::min<std::size_t>(schema.productCount(), 64);
      for (std::size_t p = 0; p < n; ++p)
        if ((products >> p) & 1) out[ai * 64 + p] = limits;
    }
  }
  return unknown.empty();
}

// The new decision's limits of one cell, as authorization_details renders them.
Json newLimits(const bundle::Bundle& b, const vm::Decision& d, std::size_t a, std::size_t p) {
  Json out = Json::object();
  for (std::size_t l = 0; l < b.schema.limits.size(); ++l) {
    std::string text = vm::limitText(b, d, l, a, p);
    if (text.empty()) continue;
    std::string rendered;
    appendJsonNumberText(rendered, text);
    out[b.schema.limits[l].name] = Json::parse(rendered, nullptr, false);
  }
  return out;
}

ChangeKind classify(const CellSet& before, const CellSet& after) {
  bool lost = false, gained = false;
  for (std::size_t a = 0; a < before.size(); ++a) {
    lost |= (before[a] & ~after[a]) != 0;
    gained |= (after[a] & ~before[a]) != 0;
  }
  if (lost && !anyCell(after)) return ChangeKind::DeniedEntirely;
  if (lost && gained) return ChangeKind::Mixed;
  if (lost) return ChangeKind::Narrowed;
  if (gained) return ChangeKind::Widened;
  return ChangeKind::Limits;
}

const std::string* stringAt(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

}  // namespace

RecordReplay replayRecord(const LoadedPolicy& policy, Evaluator& ev, const audit::StoredRecord& record) {
  const bundle::Bundle& b = *policy.bundle;
  const Schema& schema = b.schema;
  Json data = Json::parse(record.dataJson, nullptr, false);
  if (data.is_discarded() || !data.is_object()) return skip("data is not a JSON object");
  auto input = data.find("input");
  if (input == data.end() || !input->is_object()) return skip("no input document");
  auto requestedJson = data.find("requested");
  if (requestedJson == data.end() || !requestedJson->is_object()) return skip("no requested cells");
  auto decision = data.find("decision");
  if (decision == data.end() || !decision->is_object()) return skip("no recorded decision");
  auto granted = decision->find("granted");
  if (granted == decision->end() || !granted->is_object()) return skip("no recorded decision");

  RecordReplay r;
  std::vector<std::string> unknown;
  CellSet requested = cellsFromJson(schema, *requestedJson, &unknown);
  r.beforeCells = cellsFromJson(schema, *granted, &unknown);
  struct RecordedDenial {
    std::string rule, reason;
    CellSet cells;
  };
  std::vector<RecordedDenial> recordedDenials;
  if (auto denied = decision->find("denied"); denied != decision->end() && denied->is_array()) {
    for (const auto& den : *denied) {
      const std::string* rule = stringAt(den, "rule");
      if (rule == nullptr || !den.contains("cells")) return skip("a recorded denial is unreadable");
      const std::string* reason = stringAt(den, "reason");
      recordedDenials.push_back({*rule, reason ? *reason : "", cellsFromJson(schema, den["cells"], &unknown)});
    }
  }
  r.beforeDetails = Json::array();
  if (auto d = decision->find("authorization_details"); d != decision->end()) r.beforeDetails = *d;
  std::map<std::size_t, Json> oldLimits;
  std::vector<std::string> unknownInDetails;
  if (!recordedLimits(schema, r.beforeDetails, oldLimits, unknownInDetails) && unknownInDetails.empty())
    return skip("the recorded authorization_details are unreadable");
  unknown.insert(unknown.end(), unknownInDetails.begin(), unknownInDetails.end());
  if (!unknown.empty()) return skip("names the new schema does not know", joined(unknown));
  if (const std::string* s = stringAt(*decision, "scope")) r.beforeScope = *s;

  int aal = 1;
  std::int64_t authAgeMs = 0;
  if (auto req = input->find("request"); req != input->end() && req->is_object()) {
    if (auto it = req->find("aal"); it != req->end()) {
      if (!it->is_number_integer()) return skip("input.request.aal is not an integer");
      aal = static_cast<int>(std::clamp<std::int64_t>(it->get<std::int64_t>(), INT_MIN, INT_MAX));
    }
    if (auto it = req->find("auth_age"); it != req->end()) {
      if (!it->is_number_integer()) return skip("input.request.auth_age is not an integer");
      authAgeMs = std::clamp<std::int64_t>(it->get<std::int64_t>(), 0, INT64_MAX / 1000) * 1000;
    }
  }
  bool detailsUsed = false;
  if (auto req = data.find("request"); req != data.end() && req->is_object())
    detailsUsed = req->contains("authorization_details");

  Grant g;
  OAuthError error;
  try {
    g = decideInput(policy, *input, requested, aal, authAgeMs, detailsUsed, error, ev);
  } catch (const std::exception& e) {
    return skip("evaluation failed", e.what());
  }
  r.afterCells = g.cells;
  r.afterScope = g.scope;
  r.afterDetails = Json::parse(g.authorizationDetailsJson, nullptr, false);
  if (r.afterDetails.is_discarded()) r.afterDetails = Json::array();  // cannot happen: rendered by decideInput

  if (r.beforeCells == r.afterCells && r.beforeDetails == r.afterDetails) return r;
  r.change = classify(r.beforeCells, r.afterCells);

  const vm::Decision& d = ev.decision;
  auto ruleAt = [&](std::int32_t index) -> const bundle::Rule& { return b.rules[static_cast<std::size_t>(index)]; };
  for (std::size_t a = 0; a < r.beforeCells.size(); ++a) {
    std::uint64_t before = r.beforeCells[a], after = r.afterCells[a];
    for (std::uint64_t m = before | after; m != 0; m &= m - 1) {
      auto p = static_cast<std::size_t>(__builtin_ctzll(m));
      std::size_t cell = a * 64 + p;
      bool was = (before >> p) & 1, is = (after >> p) & 1;
      if (was && !is) {
        CellChange c{CellChange::Effect::Lost, "", "", a, p, ""};
        if (a < d.actions && d.denyRule[cell] >= 0) {
          c.rule = ruleAt(d.denyRule[cell]).id;
          c.reason = ruleAt(d.denyRule[cell]).reason;
        } else {
          // Permitted and not denied, yet not granted: an obligation (AAL, auth age) withheld it.
          c.rule = a < d.actions && d.allowed(a, p) ? "(obligation)" : "(not permitted)";
        }
        r.cells.push_back(std::move(c));
      } else if (!was && is) {
        bool named = false;
        for (const auto& den : recordedDenials) {
          if (a < den.cells.size() && ((den.cells[a] >> p) & 1)) {
            r.cells.push_back({CellChange::Effect::Gained, den.rule, den.reason, a, p, ""});
            named = true;
          }
        }
        if (!named) r.cells.push_back({CellChange::Effect::Gained, "(newly permitted)", "", a, p, ""});
      } else {
        Json oldL = Json::object();
        if (auto it = oldLimits.find(cell); it != oldLimits.end()) oldL = it->second;
        Json newL = newLimits(b, d, a, p);
        std::set<std::string> names;
        for (const auto& [k, v] : oldL.items()) names.insert(k);
        for (const auto& [k, v] : newL.items()) names.insert(k);
        for (const auto& name : names) {
          auto o = oldL.find(name), n = newL.find(name);
          bool same = o != oldL.end() && n != newL.end() && *o == *n;
          if (same) continue;
          CellChange c{CellChange::Effect::Limit, "(limit removed)", "", a, p, name};
          if (n != newL.end()) {
            for (std::size_t l = 0; l < schema.limits.size(); ++l) {
              if (schema.limits[l].name != name) continue;
              std::int32_t rule = d.limitRule[l * d.actions * 64 + cell];
              if (rule >= 0) {
                c.rule = ruleAt(rule).id;
                c.reason = ruleAt(rule).reason;
              }
            }
          }
          r.cells.push_back(std::move(c));
        }
      }
    }
  }
  // The same cells and limits rendered differently (a schema that reordered its classes).
  if (r.cells.empty()) r.cells.push_back({CellChange::Effect::Limit, "(rendering)", "", 0, 0, ""});
  for (const auto& c : r.cells)
    if (std::find(r.rules.begin(), r.rules.end(), c.rule) == r.rules.end()) r.rules.push_back(c.rule);
  return r;
}

std::vector<const RuleImpact*> ReplayReport::rulesByCount() const {
  std::vector<const RuleImpact*> out;
  for (const auto& [id, impact] : byRule) out.push_back(&impact);
  std::stable_sort(out.begin(), out.end(),
                   [](const RuleImpact* x, const RuleImpact* y) { return x->decisions > y->decisions; });
  return out;
}

namespace {

const char* effectName(CellChange::Effect e) {
  switch (e) {
    case CellChange::Effect::Lost: return "denied";
    case CellChange::Effect::Gained: return "granted";
    case CellChange::Effect::Limit: return "limit";
  }
  return "?";
}

Json cellsJson(const Schema& schema, const CellSet& cells) {
  std::string text;
  appendCellsJson(text, schema, cells);
  return Json::parse(text);
}

Json exampleJson(const Schema& schema, const audit::StoredRecord& rec, const RecordReplay& r) {
  Json actor = Json::parse(rec.actorJson, nullptr, false);
  const std::string* client = stringAt(actor, "client");
  const std::string* subject = stringAt(actor, "subject");
  Json rules = Json::array();
  // One entry per (rule, effect): the cells it changed, the limits for limit changes.
  for (const auto& id : r.rules) {
    for (auto effect : {CellChange::Effect::Lost, CellChange::Effect::Gained, CellChange::Effect::Limit}) {
      CellSet cells(r.beforeCells.size(), 0);
      std::set<std::string> limits;
      std::string reason;
      bool any = false;
      for (const auto& c : r.cells) {
        if (c.rule != id || c.effect != effect) continue;
        any = true;
        if (c.action < cells.size()) cells[c.action] |= 1ULL << c.product;
        if (!c.limit.empty()) limits.insert(c.limit);
        if (reason.empty()) reason = c.reason;
      }
      if (!any) continue;
      Json e{{"rule", id}, {"effect", effectName(effect)}, {"cells", cellsJson(schema, cells)}};
      if (!reason.empty()) e["reason"] = reason;
      if (!limits.empty()) e["limits"] = limits;
      rules.push_back(std::move(e));
    }
  }
  return Json{{"seq", rec.seq},
              {"ts", audit::formatTimestamp(rec.tsUs)},
              {"type", rec.type},
              {"client", client ? *client : ""},
              {"subject", subject ? *subject : ""},
              {"policy_hash", rec.policyHash},
              {"change", changeKindName(r.change)},
              {"before", {{"scope", r.beforeScope}, {"authorization_details", r.beforeDetails}}},
              {"after", {{"scope", r.afterScope}, {"authorization_details", r.afterDetails}}},
              {"rules", std::move(rules)}};
}

constexpr std::size_t kMaxOldBundles = 64;
constexpr std::size_t kMaxSkipReasons = 32;

}  // namespace

void account(ReplayReport& report, const ReplayOptions& options, const LoadedPolicy& policy,
             const audit::StoredRecord& record, const RecordReplay& r) {
  if (r.skipped) {
    ++report.skipped;
    std::string key = r.skipReason;
    if (!report.skippedBy.count(key) && report.skippedBy.size() >= kMaxSkipReasons) key = "(other reasons)";
    SkipImpact& s = report.skippedBy[key];
    ++s.records;
    if (s.examples.size() < options.maxSkipExamples) {
      Json e{{"seq", record.seq}};
      if (!r.skipDetail.empty()) e["detail"] = r.skipDetail;
      s.examples.push_back(std::move(e));
    }
    return;
  }
  ++report.replayed;
  if (report.oldBundles.size() < kMaxOldBundles || report.oldBundles.count(record.policyHash))
    report.oldBundles.insert(record.policyHash);
  else
    report.oldBundlesCapped = true;
  if (r.change == ChangeKind::None) {
    ++report.unchanged;
    return;
  }
  ++report.changed;
  ++report.byKind[r.change];
  if (report.changedSeqs.size() < options.maxChangedSeqs)
    report.changedSeqs.push_back(record.seq);
  else
    report.changedSeqsCapped = true;
  Json example;  // built once, shared by the rules that still want examples
  for (const auto& id : r.rules) {
    RuleImpact& impact = report.byRule[id];
    impact.rule = id;
    ++impact.decisions;
    if (impact.examples.size() < options.examplesPerRule) {
      if (example.is_null()) example = exampleJson(policy.bundle->schema, record, r);
      impact.examples.push_back(example);
    }
  }
}

ReplayReport replayLog(const std::string& dbPath, const LoadedPolicy& policy, const ReplayOptions& options) {
  ReplayReport report;
  report.bundle = policy.hash;
  audit::ReadDb db(dbPath);
  db.beginSnapshot();
  auto [lo, hi] = audit::seqSpan(db, options.sinceUs, options.untilUs);
  std::string sql = std::string("SELECT ") + audit::kRecordColumns +
                    " FROM records WHERE seq BETWEEN ?1 AND ?2 AND type IN ('token.issued', 'token.denied')"
                    " ORDER BY seq";
  audit::Query q(db, sql.c_str());
  q.bind(1, lo).bind(2, hi);
  Evaluator ev;
  audit::StoredRecord rec;
  std::uint64_t read = 0;
  while (q.step()) {
    audit::readRecord(q, rec);
    if (options.progress && options.progressEvery && ++read % options.progressEvery == 0) options.progress(read);
    if (options.sinceUs && rec.tsUs < *options.sinceUs) continue;
    if (options.untilUs && rec.tsUs >= *options.untilUs) continue;
    if (!options.subject.empty()) {
      Json actor = Json::parse(rec.actorJson, nullptr, false);
      const std::string* s = stringAt(actor, "subject");
      if (s == nullptr || *s != options.subject) continue;
    }
    account(report, options, policy, rec, replayRecord(policy, ev, rec));
  }
  return report;
}

Json reportJson(const ReplayReport& report) {
  Json kinds = Json::object();
  for (auto k : {ChangeKind::DeniedEntirely, ChangeKind::Narrowed, ChangeKind::Widened, ChangeKind::Mixed,
                 ChangeKind::Limits}) {
    auto it = report.byKind.find(k);
    kinds[changeKindName(k)] = it == report.byKind.end() ? 0 : it->second;
  }
  Json byRule = Json::array();
  for (const RuleImpact* r : report.rulesByCount())
    byRule.push_back({{"rule", r->rule}, {"decisions", r->decisions}, {"examples", r->examples}});
  Json skipped = Json::array();
  for (const auto& [reason, s] : report.skippedBy)
    skipped.push_back({{"reason", reason}, {"records", s.records}, {"examples", s.examples}});
  Json j{{"bundle", report.bundle},
         {"old_bundles", report.oldBundles},
         {"replayed", report.replayed},
         {"unchanged", report.unchanged},
         {"changed", report.changed},
         {"changes", std::move(kinds)},
         {"skipped", report.skipped},
         {"skipped_reasons", std::move(skipped)},
         {"by_rule", std::move(byRule)},
         {"changed_seqs", report.changedSeqs}};
  if (report.oldBundlesCapped) j["old_bundles_capped"] = true;
  if (report.changedSeqsCapped) j["changed_seqs_capped"] = true;
  return j;
}

}  // namespace mandate::oauth
