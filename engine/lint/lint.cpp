// Lints: warnings about policies that are legal but almost certainly not what was meant.
#include <map>
#include <optional>
#include <set>

#include "check/internal/fold.h"
#include "check/program.h"

namespace mandate {
namespace {

using check::ConstValue;

std::string quote(std::string_view s) { return "`" + std::string(s) + "`"; }

// The cells a rule covers: per action, a mask over product classes (bit 0 alone for
// actions without the product axis).
using Cells = std::vector<std::uint64_t>;

Cells universe(const Schema& s) {
  Cells c(s.actions.size(), 0);
  std::size_t n = s.productCount();
  std::uint64_t all = n >= 64 ? ~0ULL : ((1ULL << n) - 1);
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = s.actionHasProducts[i] ? all : 1;
  return c;
}

Cells cellsOf(const Schema& s, const std::optional<ast::Target>& t) {
  Cells all = universe(s);
  if (!t) return all;
  Cells c(s.actions.size(), 0);
  std::uint64_t products = ~0ULL;
  if (t->hasProducts && !t->allProducts) {
    products = 0;
    for (auto& p : t->products) {
      int pi = s.findProduct(p.text);
      if (pi >= 0) products |= 1ULL << pi;
    }
  }
  auto addAction = [&](int ai) { c[ai] = s.actionHasProducts[ai] ? (all[ai] & products) : 1; };
  if (t->allActions) {
    // With an `on` clause, `all` is every action that has product classes: `deny all on future`
    // must not deny `withdraw`, which has no product to be a future.
    for (std::size_t i = 0; i < c.size(); ++i)
      if (!t->hasProducts || s.actionHasProducts[i]) addAction(static_cast<int>(i));
  }
  for (auto& a : t->actions) {
    int ai = s.findAction(a.text);
    if (ai >= 0) addAction(ai);
  }
  return c;
}

bool subset(const Cells& a, const Cells& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] & ~b[i]) != 0) return false;
  return true;
}
bool empty(const Cells& a) {
  for (auto m : a)
    if (m != 0) return false;
  return true;
}
bool intersects(const Cells& a, const Cells& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] & b[i]) != 0) return true;
  return false;
}
void unite(Cells& a, const Cells& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] |= b[i];
}

// ---- contradiction analysis over a conjunction of simple comparisons --------

struct Bound {
  bool set = false;
  lit::Decimal v;
  bool strict = false;
};

struct Facts {
  Bound lo, hi;
  std::optional<ConstValue> eq;
  std::vector<ConstValue> ne;
  bool contradiction = false;
};

std::string subjectKey(const ast::Expr& e) {
  const ast::Expr* x = &e;
  while (x->kind == ast::ExprKind::Paren) x = x->kids[0].get();
  if (x->kind == ast::ExprKind::Attr) return x->section + "." + x->text;
  if (x->kind == ast::ExprKind::Product) return "product";
  if (x->kind == ast::ExprKind::Name && x->text == "now" && x->ref == ast::Ref::None) return "now";
  return {};
}

std::optional<ConstValue> constant(const ast::Expr& e) {
  if (e.type.isError()) return std::nullopt;
  check::FoldError err = check::FoldError::None;
  return check::fold(e, err);
}

ast::BinOp flip(ast::BinOp op) {
  switch (op) {
    case ast::BinOp::Lt: return ast::BinOp::Gt;
    case ast::BinOp::Le: return ast::BinOp::Ge;
    case ast::BinOp::Gt: return ast::BinOp::Lt;
    case ast::BinOp::Ge: return ast::BinOp::Le;
    default: return op;
  }
}

void addFact(Facts& f, ast::BinOp op, const ConstValue& v) {
  auto n = v.number();
  switch (op) {
    case ast::BinOp::Eq:
      if (f.eq && !f.eq->sameValue(v)) f.contradiction = true;
      f.eq = v;
      break;
    case ast::BinOp::Ne: f.ne.push_back(v); break;
    case ast::BinOp::Lt:
    case ast::BinOp::Le:
      if (n && (!f.hi.set || *n < f.hi.v || (*n == f.hi.v && op == ast::BinOp::Lt))) f.hi = {true, *n, op == ast::BinOp::Lt};
      break;
    case ast::BinOp::Gt:
    case ast::BinOp::Ge:
      if (n && (!f.lo.set || *n > f.lo.v || (*n == f.lo.v && op == ast::BinOp::Gt))) f.lo = {true, *n, op == ast::BinOp::Gt};
      break;
    default: break;
  }
}

bool contradictory(const Facts& f) {
  if (f.contradiction) return true;
  if (f.lo.set && f.hi.set && (f.lo.v > f.hi.v || (f.lo.v == f.hi.v && (f.lo.strict || f.hi.strict)))) return true;
  if (f.eq) {
    for (auto& x : f.ne)
      if (f.eq->sameValue(x)) return true;
    if (auto n = f.eq->number()) {
      if (f.lo.set && (*n < f.lo.v || (*n == f.lo.v && f.lo.strict))) return true;
      if (f.hi.set && (*n > f.hi.v || (*n == f.hi.v && f.hi.strict))) return true;
    }
  }
  return false;
}

void collectConjuncts(const ast::Expr& e, std::vector<const ast::Expr*>& out) {
  if (e.kind == ast::ExprKind::Paren) return collectConjuncts(*e.kids[0], out);
  if (e.kind == ast::ExprKind::Binary && e.binop == ast::BinOp::And) {
    collectConjuncts(*e.kids[0], out);
    collectConjuncts(*e.kids[1], out);
    return;
  }
  out.push_back(&e);
}

// True when the condition can be shown never to hold.
bool neverTrue(const ast::Expr& cond) {
  if (auto c = constant(cond); c && c->kind == TypeKind::Bool) return !c->b;
  std::vector<const ast::Expr*> atoms;
  collectConjuncts(cond, atoms);
  std::map<std::string, Facts> facts;
  for (const ast::Expr* a : atoms) {
    if (a->kind == ast::ExprKind::Bool && a->text == "false") return true;
    if (a->type.kind == TypeKind::Bool && a->kind != ast::ExprKind::Binary) {
      bool negated = a->kind == ast::ExprKind::Unary && a->unop == ast::UnOp::Not;
      std::string key = subjectKey(negated ? *a->kids[0] : *a);
      if (!key.empty()) {
        ConstValue v;
        v.kind = TypeKind::Bool;
        v.b = !negated;
        addFact(facts[key], ast::BinOp::Eq, v);
      }
      continue;
    }
    if (a->kind != ast::ExprKind::Binary) continue;
    auto op = a->binop;
    if (op != ast::BinOp::Eq && op != ast::BinOp::Ne && op != ast::BinOp::Lt && op != ast::BinOp::Le &&
        op != ast::BinOp::Gt && op != ast::BinOp::Ge)
      continue;
    std::string key = subjectKey(*a->kids[0]);
    const ast::Expr* other = a->kids[1].get();
    if (key.empty()) {
      key = subjectKey(*a->kids[1]);
      other = a->kids[0].get();
      op = flip(op);
    }
    if (key.empty()) continue;
    auto v = constant(*other);
    if (!v) continue;
    addFact(facts[key], op, *v);
  }
  for (auto& [k, f] : facts)
    if (contradictory(f)) return true;
  return false;
}

class Linter {
 public:
  Linter(const Program& p, Diagnostics& d) : p_(p), d_(d), s_(p.schema) {}

  void run() {
    for (auto& f : p_.files) {
      bool hasUsers = false;
      for (auto& item : f.items)
        hasUsers |= std::holds_alternative<ast::Policy>(item) || std::holds_alternative<ast::TestDecl>(item);
      // Without a schema (E0208) policies and tests are not checked, so their uses are unknown.
      bool usesUnknown = hasUsers && !s_.present;
      for (auto& item : f.items) {
        if (auto* c = std::get_if<ast::ConstDecl>(&item)) {
          // Only constants next to the policies or tests that could use them are judged. A
          // library of constants (a file of consts and imports, like common/regions.policy)
          // offers them to any importer, present or future; an unused import is W0405.
          if (!c->used && hasUsers && !usesUnknown) {
            d_.report(Code::W0404, c->name.span, "constant " + quote(c->name.text) + " is never used",
                      "remove it, or use it in a rule");
          }
        } else if (auto* imp = std::get_if<ast::Import>(&item)) {
          if (imp->resolved && !imp->used && !usesUnknown && importIsOnlyConstants(imp->target)) {
            d_.report(Code::W0405, imp->span, "nothing from \"" + imp->path + "\" is used", "remove the import");
          }
        }
      }
    }
    if (!s_.present) return;
    collectRuleCells();
    for (auto& f : p_.files)
      for (auto& item : f.items)
        if (auto* pol = std::get_if<ast::Policy>(&item)) lintPolicy(*pol);
  }

 private:
  const Program& p_;
  Diagnostics& d_;
  const Schema& s_;
  Cells permitCells_;
  struct Deny {
    const ast::Rule* rule;
    Cells cells;
  };
  std::vector<Deny> unconditionalDenies_;

  bool importIsOnlyConstants(FileId target) const {
    bool consts = false;
    for (auto& item : p_.files[target].items) {
      if (std::holds_alternative<ast::SchemaDecl>(item) || std::holds_alternative<ast::Policy>(item) ||
          std::holds_alternative<ast::TestDecl>(item))
        return false;
      consts |= std::holds_alternative<ast::ConstDecl>(item);
    }
    return consts;
  }

  void collectRuleCells() {
    permitCells_.assign(s_.actions.size(), 0);
    for (auto& f : p_.files)
      for (auto& item : f.items)
        if (auto* pol = std::get_if<ast::Policy>(&item))
          for (auto& r : pol->rules) {
            if (r.kind == ast::RuleKind::Permit) unite(permitCells_, cellsOf(s_, r.target));
            if (r.kind == ast::RuleKind::Deny && !r.when) unconditionalDenies_.push_back({&r, cellsOf(s_, r.target)});
          }
  }

  void lintPolicy(const ast::Policy& pol) {
    std::map<std::string, Span> labels;
    Cells denied(s_.actions.size(), 0);
    for (auto& r : pol.rules) {
      if (r.label) {
        auto [it, fresh] = labels.emplace(r.label->text, r.label->span);
        if (!fresh) {
          d_.report(Code::W0406, r.label->span, "label " + quote(r.label->text) + " is already used in policy " + quote(pol.name.text),
                    "rule ids must be unique; rename one of them");
        }
      }
      if (r.kind == ast::RuleKind::Deny && !r.because) {
        d_.report(Code::W0403, r.span, "deny rule " + quote(r.id) + " has no `because`",
                  "add `because \"...\"`: the reason is shown to users and auditors");
      }
      if (r.when && neverTrue(*r.when)) {
        d_.report(Code::W0401, r.when->span, "the condition of " + quote(r.id) + " can never be true",
                  "the rule never fires; check the comparisons");
      }
      Cells cells = cellsOf(s_, r.target);
      if (r.kind == ast::RuleKind::Permit && !empty(cells)) {
        for (auto& d : unconditionalDenies_) {
          if (subset(cells, d.cells)) {
            d_.report(Code::W0402, r.span, "permit " + quote(r.id) + " never grants anything: " + quote(d.rule->id) +
                                               " denies all of its cells unconditionally");
            break;
          }
        }
      }
      if (r.kind == ast::RuleKind::Limit && !empty(cells) && !intersects(cells, permitCells_)) {
        d_.report(Code::W0407, r.span, "limit " + quote(r.id) + " never applies: no permit rule grants any of its cells");
      }
      if (r.kind == ast::RuleKind::Deny && !r.when) unite(denied, cells);
    }
    if (!s_.actions.empty() && subset(universe(s_), denied)) {
      d_.report(Code::W0408, pol.name.span, "policy " + quote(pol.name.text) + " denies every permission unconditionally",
                "add a `when` condition to its deny rules");
    }
  }
};

}  // namespace

void lintProgram(const Program& p, Diagnostics& diags) { Linter(p, diags).run(); }

}  // namespace mandate
