#include "testing/policy_tests.h"

#include "check/internal/fold.h"
#include "value/literals.h"
#include "vm/frame.h"
#include "vm/report.h"
#include "vm/vm.h"

namespace mandate::testing {
namespace {

using ast::Expr;
using ast::ExprKind;

// A checked constant expression as the JSON the frame filler reads.
nlohmann::json toJson(const Expr& e, const Schema& s) {
  const Expr* x = &e;
  while (x->kind == ExprKind::Paren) x = x->kids[0].get();
  if (x->kind == ExprKind::Name && x->ref == ast::Ref::Const && x->constRef) return toJson(*x->constRef->value, s);
  if (x->kind == ExprKind::Set) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& k : x->kids) arr.push_back(toJson(*k, s));
    return arr;
  }
  if (x->kind == ExprKind::Name && x->ref == ast::Ref::EnumValue) return s.enums[x->type.enumId].values[x->enumValue];
  if (x->kind == ExprKind::Name && x->ref == ast::Ref::Country) return x->text;
  switch (x->kind) {
    case ExprKind::String:
    case ExprKind::Region:
    case ExprKind::Ip:
    case ExprKind::Cidr: return x->text;
    default: break;
  }
  check::FoldError err = check::FoldError::None;
  auto v = check::fold(*x, err);
  if (!v) return nullptr;
  switch (v->kind) {
    case TypeKind::Bool: return v->b;
    case TypeKind::Int: return v->i;
    case TypeKind::Decimal: return lit::toString(v->d);
    case TypeKind::Duration: return std::to_string(v->i) + "ms";
    case TypeKind::Time: return v->i;
    default: return v->s;
  }
}

std::vector<std::pair<std::size_t, std::size_t>> cellsOf(const Schema& s, const ast::Target& t) {
  std::vector<std::pair<std::size_t, std::size_t>> cells;
  auto addAction = [&](std::size_t a) {
    if (!s.actionHasProducts[a]) {
      cells.emplace_back(a, 0);
      return;
    }
    if (!t.hasProducts || t.allProducts) {
      for (std::size_t p = 0; p < s.productCount(); ++p) cells.emplace_back(a, p);
    } else {
      for (auto& p : t.products) cells.emplace_back(a, static_cast<std::size_t>(s.findProduct(p.text)));
    }
  };
  if (t.allActions) {  // with `on`, only the actions that have product classes
    for (std::size_t a = 0; a < s.actions.size(); ++a)
      if (!t.hasProducts || s.actionHasProducts[a]) addAction(a);
  }
  for (auto& a : t.actions) addAction(static_cast<std::size_t>(s.findAction(a.text)));
  return cells;
}

std::string cellName(const Schema& s, std::pair<std::size_t, std::size_t> c) {
  return s.actions[c.first] + (s.actionHasProducts[c.first] ? " on " + s.enums[s.productsEnum].values[c.second] : "");
}

bool compare(ast::BinOp op, int c) {
  switch (op) {
    case ast::BinOp::Eq: return c == 0;
    case ast::BinOp::Ne: return c != 0;
    case ast::BinOp::Lt: return c < 0;
    case ast::BinOp::Le: return c <= 0;
    case ast::BinOp::Gt: return c > 0;
    default: return c >= 0;
  }
}

// Expected values are compared exactly: decimals as decimals, durations in ms.
bool expectedValue(const Expr& e, TypeKind want, bundle::Value& out) {
  check::FoldError err = check::FoldError::None;
  auto v = check::fold(e, err);
  if (!v) return false;
  if (want == TypeKind::Decimal) {
    auto n = v->number();
    if (!n) return false;
    out = bundle::decimalValue(n->units);
    return true;
  }
  out = bundle::Value{v->i, 0};
  return true;
}

}  // namespace

TestRun runTests(const Program& program, const bundle::Bundle& b) {
  TestRun run;
  run.firedCount.assign(b.rules.size(), 0);
  const Schema& s = b.schema;
  vm::Decision d;
  for (const auto& f : program.files) {
    for (const auto& item : f.items) {
      const auto* t = std::get_if<ast::TestDecl>(&item);
      if (t == nullptr) continue;
      TestResult r;
      r.name = t->name.text;
      r.file = program.sources.file(f.id).path;
      r.line = t->span.line;
      nlohmann::json input = nlohmann::json::object();
      for (const auto& g : t->givens) {
        if (g.value) {
          input[g.section.text] = toJson(*g.value, s);
          continue;
        }
        nlohmann::json sec = input.contains(g.section.text) ? input[g.section.text] : nlohmann::json::object();
        for (const auto& fi : g.fields) sec[fi.name.text] = toJson(*fi.value, s);
        input[g.section.text] = sec;
      }
      vm::Frame frame;
      std::vector<std::string> errors;
      vm::FrameOptions fo;
      fo.requireAll = false;
      vm::fillFrame(s, input, frame, errors, fo);
      for (auto& e : errors) r.failures.push_back("input: " + e);
      vm::evaluate(b, frame, d);
      for (std::size_t i = 0; i < b.rules.size(); ++i)
        if (d.outcome[i] != vm::Outcome::NotApplicable) ++run.firedCount[i];
      for (const auto& e : t->expects) {
        std::string where = "line " + std::to_string(e.span.line) + ": ";
        switch (e.kind) {
          case ast::Expect::Kind::Permit:
          case ast::Expect::Kind::Deny: {
            bool wantAllowed = e.kind == ast::Expect::Kind::Permit;
            for (auto c : cellsOf(s, e.target)) {
              if (d.allowed(c.first, c.second) == wantAllowed) continue;
              std::string why;
              if (!wantAllowed) {
                why = "it is permitted";
              } else if ((d.denied[c.first] >> c.second) & 1) {
                why = "denied by " + b.rules[d.denyRule[c.first * 64 + c.second]].id;
              } else {
                why = "no permit rule grants it";
              }
              r.failures.push_back(where + "expected " + (wantAllowed ? "permit " : "deny ") + cellName(s, c) + ", but " + why);
            }
            break;
          }
          case ast::Expect::Kind::Limit: {
            int li = s.findLimit(e.name.text);
            TypeKind lt = s.limits[li].type.kind;
            bundle::Value want;
            if (!expectedValue(*e.value, lt, want)) {
              r.failures.push_back(where + "the expected value is not a constant");
              break;
            }
            for (auto c : cellsOf(s, e.target)) {
              std::size_t idx = static_cast<std::size_t>(li) * d.actions * 64 + c.first * 64 + c.second;
              if (!d.allowed(c.first, c.second)) {
                r.failures.push_back(where + "expected limit " + e.name.text + " on " + cellName(s, c) + ", but the cell is not permitted");
                continue;
              }
              if (d.limitRule[idx] < 0) {
                r.failures.push_back(where + "expected limit " + e.name.text + " on " + cellName(s, c) + ", but no limit applies");
                continue;
              }
              int cmp = bundle::compareElements(lt, d.limit[idx], want);
              if (!compare(e.op, cmp)) {
                r.failures.push_back(where + "expected " + e.name.text + " " + ast::spelling(e.op) + " " +
                                     vm::formatValue(s, Type::of(lt), want) + " on " + cellName(s, c) + ", got " +
                                     vm::formatValue(s, Type::of(lt), d.limit[idx]));
              }
            }
            break;
          }
          case ast::Expect::Kind::Obligation: {
            const std::string& n = e.name.text;
            TypeKind kind = n == "aal" ? TypeKind::Int : TypeKind::Duration;
            bundle::Value want;
            if (!expectedValue(*e.value, kind, want)) {
              r.failures.push_back(where + "the expected value is not a constant");
              break;
            }
            if (n == "ttl") {
              if (d.ttlCapMs < 0 || !compare(e.op, d.ttlCapMs < want.a ? -1 : d.ttlCapMs > want.a ? 1 : 0)) {
                r.failures.push_back(where + "expected ttl " + ast::spelling(e.op) + " " + lit::formatDuration(want.a) + ", got " +
                                     (d.ttlCapMs < 0 ? std::string("no cap") : lit::formatDuration(d.ttlCapMs)));
              }
              break;
            }
            ast::Target all;
            all.allActions = true;
            for (auto c : cellsOf(s, e.hasTarget ? e.target : all)) {
              std::int64_t got = n == "aal" ? d.aal[c.first * 64 + c.second] : d.authAgeMs[c.first * 64 + c.second];
              bool none = n == "auth_age" && got < 0;
              if (none || !compare(e.op, got < want.a ? -1 : got > want.a ? 1 : 0)) {
                r.failures.push_back(where + "expected " + n + " " + ast::spelling(e.op) + " " +
                                     (n == "aal" ? std::to_string(want.a) : lit::formatDuration(want.a)) + " on " +
                                     cellName(s, c) + ", got " +
                                     (none ? std::string("none") : n == "aal" ? std::to_string(got) : lit::formatDuration(got)));
              }
            }
            break;
          }
        }
      }
      for (std::uint32_t i = 0; i < d.errorCount; ++i) {
        const auto& er = d.errors[i];
        // Errors are legitimate outcomes (fail closed); they are reported only when a test fails.
        if (!r.failures.empty()) {
          std::string what = b.rules[er.rule].id + ": " + vm::describe(er.error);
          if (er.error == vm::EvalError::Absent) what += " (" + s.attrs[er.slot].section + "." + s.attrs[er.slot].name + ")";
          r.failures.push_back("note: evaluation error in " + what);
        }
      }
      r.passed = r.failures.empty();
      (r.passed ? run.passed : run.failed)++;
      run.results.push_back(std::move(r));
    }
  }
  return run;
}

}  // namespace mandate::testing
