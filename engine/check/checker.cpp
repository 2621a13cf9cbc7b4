// Name resolution and type checking. Errors are reported once at their origin; an
// expression whose type is Error is accepted silently by its parents (no cascades).
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "check/internal/fold.h"
#include "check/program.h"
#include "value/literals.h"

namespace mandate {
namespace {

using ast::Expr;
using ast::ExprKind;

std::string quote(std::string_view s) { return "`" + std::string(s) + "`"; }

std::string didYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best = closestMatch(name, candidates);
  return best.empty() ? std::string() : "did you mean " + quote(best) + "?";
}

bool isOrdered(TypeKind k) {
  return k == TypeKind::Int || k == TypeKind::Decimal || k == TypeKind::Duration || k == TypeKind::Time;
}
bool isNumeric(TypeKind k) { return k == TypeKind::Int || k == TypeKind::Decimal; }

bool assignable(const Type& from, const Type& to) {
  if (from.isError() || to.isError()) return true;
  if (from == to) return true;
  if (from.kind == TypeKind::Int && to.kind == TypeKind::Decimal) return true;
  if (from.kind == TypeKind::EmptySet && to.kind == TypeKind::Set) return true;
  if (from.kind == TypeKind::Set && to.kind == TypeKind::Set && from.elem == TypeKind::Int &&
      to.elem == TypeKind::Decimal)
    return true;
  return false;
}

// Per-file scope: its own constants and those of the files it imports directly.
struct Scope {
  std::map<std::string, ast::ConstDecl*> consts;
  std::map<std::string, FileId> origin;
  bool brokenImport = false;  // an import failed (E0207): unknown names may be its constants
};

struct Ctx {
  FileId file = 0;
  bool inCell = false;        // `product` is meaningful
  bool constantOnly = false;  // const values and test inputs: no attributes
  const char* constWhat = "";
  std::set<std::string> guarded;  // section.name guarded by `has` on the left of an `and`
};

class Checker {
 public:
  Checker(Program& p, Diagnostics& d) : p_(p), d_(d), s_(p.schema) {}

  void run() {
    buildSchema();
    buildScopes();
    for (auto& f : p_.files) {
      Ctx ctx;
      ctx.file = f.id;
      for (auto& item : f.items) {
        if (auto* c = std::get_if<ast::ConstDecl>(&item)) checkConst(*c);
      }
    }
    std::map<std::string, const ast::Policy*> policies;
    std::map<std::string, const ast::TestDecl*> tests;
    for (auto& f : p_.files) {
      for (auto& item : f.items) {
        if (auto* pol = std::get_if<ast::Policy>(&item)) {
          auto [it, fresh] = policies.emplace(pol->name.text, pol);
          if (!fresh) duplicate(pol->name, "policy", it->second->name.span);
          checkPolicy(*pol, f.id);
        } else if (auto* t = std::get_if<ast::TestDecl>(&item)) {
          auto [it, fresh] = tests.emplace(t->name.text, t);
          if (!fresh) duplicate(t->name, "test", it->second->name.span);
          checkTest(*t, f.id);
        }
      }
    }
  }

 private:
  Program& p_;
  Diagnostics& d_;
  Schema& s_;
  std::vector<Scope> scopes_;
  std::map<const ast::ConstDecl*, int> constState_;  // 1 = checking, 2 = done
  std::map<const ast::ConstDecl*, FileId> constFile_;

  void duplicate(const ast::Name& n, const char* what, Span first) {
    const auto& f = p_.sources.file(first.file);
    d_.report(Code::E0205, n.span, std::string(what) + " " + quote(n.text) + " is already declared",
              "first declared at " + f.path + ":" + std::to_string(first.line) + ":" + std::to_string(first.col));
  }

  // ---- schema ----------------------------------------------------------

  bool schemaUser() const {
    for (auto& f : p_.files)
      for (auto& item : f.items)
        if (std::holds_alternative<ast::Policy>(item) || std::holds_alternative<ast::TestDecl>(item)) return true;
    return false;
  }

  Type resolveType(const ast::TypeRef& t, bool allowSet) {
    static const std::map<std::string, TypeKind> builtins = {
        {"bool", TypeKind::Bool},       {"int", TypeKind::Int},       {"decimal", TypeKind::Decimal},
        {"string", TypeKind::String},   {"country", TypeKind::Country}, {"region", TypeKind::Region},
        {"ip", TypeKind::Ip},           {"cidr", TypeKind::Cidr},     {"time", TypeKind::Time},
        {"duration", TypeKind::Duration}};
    if (t.name.text == "set") {
      if (!t.arg) {
        d_.report(Code::E0213, t.span, "`set` needs an element type", "write e.g. `set<country>`");
        return Type{};
      }
      if (!allowSet) {
        d_.report(Code::E0310, t.span, "sets cannot contain sets");
        return Type{};
      }
      Type e = resolveType(*t.arg, false);
      return e.isError() ? e : Type::setOf(e);
    }
    if (t.arg) {
      d_.report(Code::E0213, t.span, quote(t.name.text) + " takes no type argument");
      return Type{};
    }
    if (auto it = builtins.find(t.name.text); it != builtins.end()) return Type::of(it->second);
    int e = s_.findEnum(t.name.text);
    if (e >= 0) return Type::enumOf(e);
    std::vector<std::string> cands;
    for (auto& [k, v] : builtins) cands.push_back(k);
    for (auto& en : s_.enums) cands.push_back(en.name);
    cands.push_back("set");
    std::string hint = didYouMean(t.name.text, cands);
    if (hint.empty()) {
      std::vector<std::string> enums;
      for (auto& en : s_.enums) enums.push_back(en.name);
      hint = "the types are bool, int, decimal, string, country, region, ip, cidr, time, duration, set<T>";
      hint += enums.empty() ? " and enums declared in the schema" : " and the enums " + join(enums);
    }
    d_.report(Code::E0213, t.name.span, "unknown type " + quote(t.name.text), hint);
    return Type{};
  }

  void buildSchema() {
    for (auto& f : p_.files) {
      for (auto& item : f.items) {
        auto* sd = std::get_if<ast::SchemaDecl>(&item);
        if (sd == nullptr) continue;
        if (p_.schemaDecl != nullptr) {
          const auto& first = p_.sources.file(p_.schemaDecl->span.file);
          d_.report(Code::E0209, sd->span, "a second schema is declared",
                    "the schema is declared at " + first.path + ":" + std::to_string(p_.schemaDecl->span.line));
          continue;
        }
        p_.schemaDecl = sd;
      }
    }
    if (p_.schemaDecl == nullptr) {
      if (schemaUser()) {
        Span at{};
        for (auto& f : p_.files)
          for (auto& item : f.items) {
            if (auto* pol = std::get_if<ast::Policy>(&item); pol != nullptr && !at.valid()) at = pol->name.span;
            if (auto* t = std::get_if<ast::TestDecl>(&item); t != nullptr && !at.valid()) at = t->name.span;
          }
        d_.report(Code::E0208, at, "no schema is declared in the checked files",
                  "check the schema file together with the policies, or import it");
      }
      return;
    }
    const ast::SchemaDecl& sd = *p_.schemaDecl;
    s_.present = true;
    for (auto& e : sd.enums) {
      if (int prev = s_.findEnum(e.name.text); prev >= 0) {
        duplicate(e.name, "enum", s_.enums[prev].span);
        continue;
      }
      EnumInfo info{e.name.text, {}, e.name.span};
      std::map<std::string, Span> seen;
      for (auto& v : e.values) {
        if (auto it = seen.find(v.text); it != seen.end()) {
          duplicate(v, "enum value", it->second);
          continue;
        }
        seen.emplace(v.text, v.span);
        info.values.push_back(v.text);
      }
      s_.enums.push_back(std::move(info));
    }
    if (!sd.actions) {
      d_.report(Code::E0310, sd.span, "the schema declares no `actions`", "add e.g. `actions { read, trade, withdraw }`");
    } else {
      std::map<std::string, Span> seen;
      for (auto& a : *sd.actions) {
        if (auto it = seen.find(a.text); it != seen.end()) {
          duplicate(a, "action", it->second);
          continue;
        }
        seen.emplace(a.text, a.span);
        s_.actions.push_back(a.text);
      }
    }
    s_.actionHasProducts.assign(s_.actions.size(), false);
    if (sd.productsEnum) {
      int e = s_.findEnum(sd.productsEnum->text);
      if (e < 0) {
        std::vector<std::string> cands;
        for (auto& en : s_.enums) cands.push_back(en.name);
        d_.report(Code::E0213, sd.productsEnum->span, "unknown enum " + quote(sd.productsEnum->text),
                  didYouMean(sd.productsEnum->text, cands));
      } else if (s_.enums[e].values.size() > kMaxProductClasses) {
        d_.report(Code::E0310, sd.productsEnum->span,
                  "at most " + std::to_string(kMaxProductClasses) + " product classes are supported");
      } else {
        s_.productsEnum = e;
        if (sd.productActions.empty()) {
          s_.actionHasProducts.assign(s_.actions.size(), true);
        }
        for (auto& a : sd.productActions) {
          int ai = s_.findAction(a.text);
          if (ai < 0) {
            d_.report(Code::E0210, a.span, "unknown action " + quote(a.text), didYouMean(a.text, s_.actions));
          } else {
            s_.actionHasProducts[ai] = true;
          }
        }
      }
    }
    std::set<std::string> sections;
    int slot = 0;
    for (auto& sec : sd.sections) {
      if (std::find(std::begin(kSections), std::end(kSections), sec.name.text) == std::end(kSections)) {
        std::vector<std::string> cands(std::begin(kSections), std::end(kSections));
        d_.report(Code::E0214, sec.name.span, "unknown attribute section " + quote(sec.name.text),
                  didYouMean(sec.name.text, cands).empty() ? "sections are subject, client, request and risk"
                                                           : didYouMean(sec.name.text, cands));
        continue;
      }
      if (!sections.insert(sec.name.text).second) {
        d_.report(Code::E0205, sec.name.span, "section " + quote(sec.name.text) + " is declared twice");
        continue;
      }
      for (auto& a : sec.attrs) {
        if (const AttrInfo* prev = s_.findAttr(sec.name.text, a.name.text)) {
          duplicate(a.name, "attribute", prev->span);
          continue;
        }
        Type t = resolveType(a.type, true);
        s_.attrs.push_back(AttrInfo{sec.name.text, a.name.text, t, a.optional, slot++, a.name.span});
      }
    }
    if (sd.limits) {
      for (auto& a : sd.limits->attrs) {
        if (int prev = s_.findLimit(a.name.text); prev >= 0) {
          duplicate(a.name, "limit", s_.limits[prev].span);
          continue;
        }
        Type t = resolveType(a.type, true);  // a set is rejected below, as a limit type
        if (!t.isError() && t.kind != TypeKind::Int && t.kind != TypeKind::Decimal && t.kind != TypeKind::Duration) {
          d_.report(Code::E0310, a.type.span, "limit " + quote(a.name.text) + " must be int, decimal or duration");
          t = Type{};
        }
        if (a.optional) d_.report(Code::E0310, a.span, "limits cannot be optional: a limit applies or it does not");
        s_.limits.push_back(LimitInfo{a.name.text, t, a.name.span});
      }
    }
  }

  // ---- scopes ----------------------------------------------------------

  void buildScopes() {
    scopes_.resize(p_.files.size());
    for (auto& f : p_.files) {
      Scope& sc = scopes_[f.id];
      for (auto& item : f.items) {
        if (auto* c = std::get_if<ast::ConstDecl>(&item)) {
          constFile_[c] = f.id;
          if (auto it = sc.consts.find(c->name.text); it != sc.consts.end()) {
            duplicate(c->name, "constant", it->second->name.span);
            c->used = true;  // out of scope now; reported once, not also as unused (W0404)
            continue;
          }
          sc.consts.emplace(c->name.text, c);
          sc.origin.emplace(c->name.text, f.id);
        }
      }
    }
    // Imported constants, after every file's own are known.
    std::vector<Scope> own = scopes_;
    for (auto& f : p_.files) {
      Scope& sc = scopes_[f.id];
      for (auto& item : f.items) {
        auto* imp = std::get_if<ast::Import>(&item);
        if (imp != nullptr && !imp->resolved) sc.brokenImport = true;
        if (imp == nullptr || !imp->resolved || imp->target == f.id) continue;
        for (auto& [name, decl] : own[imp->target].consts) {
          auto it = sc.consts.find(name);
          if (it == sc.consts.end()) {
            sc.consts.emplace(name, decl);
            sc.origin.emplace(name, imp->target);
          } else if (it->second != decl) {
            d_.report(Code::E0205, imp->span,
                      "constant " + quote(name) + " from this import is already declared in " +
                          p_.sources.file(sc.origin[name]).path,
                      "rename one of them");
          }
        }
      }
    }
  }

  // ---- constants -------------------------------------------------------

  void checkConst(ast::ConstDecl& c) {
    auto& st = constState_[&c];
    if (st != 0) return;
    st = 1;
    Ctx ctx;
    ctx.file = constFile_[&c];
    ctx.constantOnly = true;
    ctx.constWhat = "a constant";
    Type declared;
    bool hasDeclared = c.declared.has_value();
    if (hasDeclared) declared = resolveType(*c.declared, true);
    Type t = check(*c.value, hasDeclared && !declared.isError() ? &declared : nullptr, ctx);
    if (hasDeclared && !declared.isError() && !t.isError() && !assignable(t, declared)) {
      mismatch(c.value->span, declared, t);
    }
    if (t.kind == TypeKind::EmptySet && !hasDeclared) {
      d_.report(Code::E0307, c.value->span, "cannot infer the element type of an empty set",
                "declare it, e.g. `const NONE: set<country> = {}`");
    }
    // Overflow is reported by the arithmetic node that causes it (foldReportIfConstant), not
    // again here: a value that merely uses a broken constant is not a second error.
    if (hasDeclared && !declared.isError() && !t.isError()) c.value->type = declared;
    st = 2;
  }

  // ---- policies ----------------------------------------------------------

  // Resolves a target's names; returns whether every cell it covers has a product class.
  bool checkTarget(const ast::Target& t) {
    bool allHaveProducts = true;
    std::vector<int> acts;
    if (t.allActions) {
      // `all on PRODUCTS` means every action that has product classes (see cellsOf in lint.cpp).
      for (std::size_t i = 0; i < s_.actions.size(); ++i)
        if (!t.hasProducts || s_.actionHasProducts[i]) acts.push_back(static_cast<int>(i));
    }
    for (auto& a : t.actions) {
      int ai = s_.findAction(a.text);
      if (ai < 0) {
        d_.report(Code::E0210, a.span, "unknown action " + quote(a.text), didYouMean(a.text, s_.actions));
        allHaveProducts = false;
        continue;
      }
      acts.push_back(ai);
    }
    for (int ai : acts)
      if (!s_.actionHasProducts[ai]) allHaveProducts = false;
    if (acts.empty()) allHaveProducts = false;
    if (t.hasProducts) {
      for (int ai : acts) {
        if (!s_.actionHasProducts[ai] && !t.allActions) {
          const ast::Name* n = nullptr;
          for (auto& a : t.actions)
            if (a.text == s_.actions[ai]) n = &a;
          d_.report(Code::E0211, n ? n->span : t.span, "action " + quote(s_.actions[ai]) + " has no product classes",
                    "drop the `on` clause or declare the action under `products ... on`");
        }
      }
      std::vector<std::string> cands = s_.productsEnum >= 0 ? s_.enums[s_.productsEnum].values
                                                            : std::vector<std::string>{};
      for (auto& pr : t.products) {
        if (s_.findProduct(pr.text) < 0) {
          d_.report(Code::E0211, pr.span, "unknown product class " + quote(pr.text), didYouMean(pr.text, cands));
        }
      }
    }
    return allHaveProducts;
  }

  void checkCondition(Expr* when, Ctx& ctx) {
    if (when == nullptr) return;
    Type b = Type::of(TypeKind::Bool);
    Type t = check(*when, &b, ctx);
    if (!t.isError() && t.kind != TypeKind::Bool) {
      d_.report(Code::E0305, when->span, "a `when` condition must be bool, found " + quote(s_.typeName(t)));
    }
  }

  void checkPolicy(ast::Policy& pol, FileId file) {
    if (!s_.present) return;
    for (auto& r : pol.rules) {
      r.id = pol.name.text + "." + (r.label ? r.label->text : std::to_string(r.index));
      Ctx ctx;
      ctx.file = file;
      bool cell = true;
      if (r.target) {
        cell = checkTarget(*r.target);
      } else {
        cell = !s_.actionHasProducts.empty() &&
               std::all_of(s_.actionHasProducts.begin(), s_.actionHasProducts.end(), [](bool b) { return b; });
      }
      ctx.inCell = cell && r.kind != ast::RuleKind::CapTtl;
      checkCondition(r.when.get(), ctx);
      // `has` guards in `when` also protect the value expression.
      Ctx valueCtx = ctx;
      if (r.when) collectGuards(*r.when, valueCtx.guarded);
      switch (r.kind) {
        case ast::RuleKind::Limit: {
          int li = s_.findLimit(r.limitName.text);
          if (li < 0) {
            std::vector<std::string> cands;
            for (auto& l : s_.limits) cands.push_back(l.name);
            d_.report(Code::E0212, r.limitName.span, "unknown limit " + quote(r.limitName.text),
                      didYouMean(r.limitName.text, cands));
            check(*r.value, nullptr, valueCtx);
            break;
          }
          expectType(*r.value, s_.limits[li].type, valueCtx);
          break;
        }
        case ast::RuleKind::Require: {
          const std::string& n = r.limitName.text;
          if (n == "aal" && r.requireOp == ast::BinOp::Ge) {
            expectType(*r.value, Type::of(TypeKind::Int), valueCtx);
          } else if (n == "auth_age" && r.requireOp == ast::BinOp::Le) {
            expectType(*r.value, Type::of(TypeKind::Duration), valueCtx);
          } else {
            std::string hint = n == "aal" ? "write `require aal >= N`"
                               : n == "auth_age" ? "write `require auth_age <= DURATION`"
                                                 : "obligations are `aal >= N` and `auth_age <= DURATION`";
            std::string best = closestMatch(n, {"aal", "auth_age"});
            if (!best.empty() && best != n) hint = "did you mean " + quote(best) + "?";
            d_.report(Code::E0215, r.limitName.span,
                      "cannot require " + quote(n + " " + ast::spelling(r.requireOp)), hint);
            check(*r.value, nullptr, valueCtx);
          }
          break;
        }
        case ast::RuleKind::CapTtl:
          expectType(*r.value, Type::of(TypeKind::Duration), valueCtx);
          break;
        default:
          break;
      }
    }
  }

  void collectGuards(const Expr& e, std::set<std::string>& out) {
    if (e.kind == ExprKind::Has) out.insert(e.section + "." + e.text);
    if (e.kind == ExprKind::Paren) collectGuards(*e.kids[0], out);
    if (e.kind == ExprKind::Binary && e.binop == ast::BinOp::And) {
      collectGuards(*e.kids[0], out);
      collectGuards(*e.kids[1], out);
    }
  }

  void expectType(Expr& e, const Type& want, Ctx& ctx) {
    Type t = check(e, &want, ctx);
    if (!assignable(t, want)) mismatch(e.span, want, t);
  }

  void mismatch(Span at, const Type& want, const Type& got) {
    d_.report(Code::E0301, at, "expected " + quote(s_.typeName(want)) + ", found " + quote(s_.typeName(got)));
  }

  // ---- tests -------------------------------------------------------------

  void checkTest(ast::TestDecl& t, FileId file) {
    if (!s_.present) return;
    Ctx ctx;
    ctx.file = file;
    ctx.constantOnly = true;
    ctx.constWhat = "a test input";
    std::set<std::string> seenSections;
    for (auto& g : t.givens) {
      const std::string& sec = g.section.text;
      if (g.value) {
        if (sec != "now") {
          d_.report(Code::E0214, g.section.span, "unknown test input " + quote(sec),
                    "inputs are `now = TIME` and the sections subject, client, request, risk");
          continue;
        }
        expectType(*g.value, Type::of(TypeKind::Time), ctx);
        continue;
      }
      if (std::find(std::begin(kSections), std::end(kSections), sec) == std::end(kSections)) {
        std::vector<std::string> cands(std::begin(kSections), std::end(kSections));
        d_.report(Code::E0214, g.section.span, "unknown attribute section " + quote(sec), didYouMean(sec, cands));
        continue;
      }
      std::map<std::string, Span> seen;
      for (auto& f : g.fields) {
        if (auto it = seen.find(f.name.text); it != seen.end()) {
          duplicate(f.name, "test input", it->second);
          continue;
        }
        seen.emplace(f.name.text, f.name.span);
        const AttrInfo* a = s_.findAttr(sec, f.name.text);
        if (a == nullptr) {
          d_.report(Code::E0201, f.name.span, "unknown attribute " + quote(sec + "." + f.name.text),
                    didYouMean(f.name.text, s_.attrNames(sec)));
          check(*f.value, nullptr, ctx);
          continue;
        }
        expectType(*f.value, a->type, ctx);
      }
    }
    for (auto& e : t.expects) {
      Ctx ectx = ctx;
      if (e.hasTarget) checkTarget(e.target);
      switch (e.kind) {
        case ast::Expect::Kind::Limit: {
          int li = s_.findLimit(e.name.text);
          if (li < 0) {
            std::vector<std::string> cands;
            for (auto& l : s_.limits) cands.push_back(l.name);
            d_.report(Code::E0212, e.name.span, "unknown limit " + quote(e.name.text), didYouMean(e.name.text, cands));
            break;
          }
          expectType(*e.value, s_.limits[li].type, ectx);
          break;
        }
        case ast::Expect::Kind::Obligation: {
          const std::string& n = e.name.text;
          if (n == "aal") {
            expectType(*e.value, Type::of(TypeKind::Int), ectx);
          } else if (n == "auth_age" || n == "ttl") {
            expectType(*e.value, Type::of(TypeKind::Duration), ectx);
            if (n == "ttl" && e.hasTarget) {
              d_.report(Code::E0215, e.target.span, "the ttl cap applies to the whole token, not to cells");
            }
          } else {
            d_.report(Code::E0215, e.name.span, "unknown obligation " + quote(n), didYouMean(n, {"aal", "auth_age", "ttl"}));
          }
          break;
        }
        default:
          break;
      }
    }
  }

  // ---- expressions -------------------------------------------------------

  // A bare name or set literal gets its meaning from the other operand's type.
  bool contextual(const Expr& e, const Ctx& ctx) const {
    if (e.kind == ExprKind::Paren) return contextual(*e.kids[0], ctx);
    if (e.kind == ExprKind::Set) return true;
    if (e.kind == ExprKind::Name) return e.text != "now" && scopes_[ctx.file].consts.count(e.text) == 0;
    return false;
  }

  Type set(Expr& e, Type t) {
    e.type = t;
    return t;
  }

  Type check(Expr& e, const Type* expected, Ctx& ctx) {
    switch (e.kind) {
      case ExprKind::Int: return set(e, Type::of(TypeKind::Int));
      case ExprKind::Decimal: return set(e, Type::of(TypeKind::Decimal));
      case ExprKind::Duration: return set(e, Type::of(TypeKind::Duration));
      case ExprKind::Time: return set(e, Type::of(TypeKind::Time));
      case ExprKind::Bool: return set(e, Type::of(TypeKind::Bool));
      case ExprKind::Region: return set(e, Type::of(TypeKind::Region));
      case ExprKind::Ip: return set(e, Type::of(TypeKind::Ip));
      case ExprKind::Cidr: return set(e, Type::of(TypeKind::Cidr));
      case ExprKind::String: {
        // IPv6 addresses and blocks are written as strings where an ip or cidr is expected.
        if (expected != nullptr && (expected->kind == TypeKind::Ip || expected->kind == TypeKind::Cidr)) {
          std::string why;
          bool ok = expected->kind == TypeKind::Ip ? lit::parseIp(e.text, why) : lit::parseCidr(e.text, why);
          if (!ok) {
            d_.report(Code::E0107, e.span, "invalid " + s_.typeName(*expected) + " " + ast::escapeString(e.text) + ": " + why);
            return set(e, Type{});
          }
          e.kind = expected->kind == TypeKind::Ip ? ExprKind::Ip : ExprKind::Cidr;
          return set(e, *expected);
        }
        return set(e, Type::of(TypeKind::String));
      }
      case ExprKind::Paren: return set(e, check(*e.kids[0], expected, ctx));
      case ExprKind::Product:
        if (!ctx.inCell || s_.productsEnum < 0) {
          d_.report(Code::E0306, e.span,
                    ctx.constantOnly ? "`product` cannot be used in " + std::string(ctx.constWhat)
                                     : "`product` is only defined for rules whose actions all have product classes",
                    "name product classes in the rule's `on` clause instead");
          return set(e, Type{});
        }
        return set(e, Type::enumOf(s_.productsEnum));
      case ExprKind::Name: return checkName(e, expected, ctx);
      case ExprKind::Attr:
      case ExprKind::Has: return checkAttr(e, ctx);
      case ExprKind::Set: return checkSet(e, expected, ctx);
      case ExprKind::Match: return checkMatch(e, expected, ctx);
      case ExprKind::Unary: return checkUnary(e, ctx);
      case ExprKind::Binary: return checkBinary(e, expected, ctx);
    }
    return set(e, Type{});
  }

  Type checkName(Expr& e, const Type* expected, Ctx& ctx) {
    if (e.text.empty()) return set(e, Type{});  // malformed path, already reported
    if (e.text == "now") {
      if (ctx.constantOnly) {
        d_.report(Code::E0308, e.span, "`now` is not constant and cannot be used in " + std::string(ctx.constWhat));
        return set(e, Type{});
      }
      return set(e, Type::of(TypeKind::Time));
    }
    Scope& sc = scopes_[ctx.file];
    if (auto it = sc.consts.find(e.text); it != sc.consts.end()) {
      ast::ConstDecl* c = it->second;
      if (constState_[c] == 1) {
        d_.report(Code::E0202, e.span, "constant " + quote(e.text) + " refers to itself");
        return set(e, Type{});
      }
      checkConst(*c);
      c->used = true;
      usedFrom_[ctx.file].insert(sc.origin[e.text]);
      e.ref = ast::Ref::Const;
      e.constRef = c;
      return set(e, c->value->type);
    }
    Type want = expected != nullptr ? *expected : Type{};
    if (want.kind == TypeKind::Enum) {
      const EnumInfo& en = s_.enums[want.enumId];
      int v = en.indexOf(e.text);
      if (v < 0) {
        d_.report(Code::E0203, e.span, quote(e.text) + " is not a value of enum " + quote(en.name),
                  didYouMean(e.text, en.values).empty() ? "values are: " + join(en.values) : didYouMean(e.text, en.values));
        return set(e, Type{});
      }
      e.ref = ast::Ref::EnumValue;
      e.enumValue = v;
      return set(e, want);
    }
    bool looksCountry = e.text.size() == 2 && std::isupper(static_cast<unsigned char>(e.text[0])) &&
                        std::isupper(static_cast<unsigned char>(e.text[1]));
    if (want.kind == TypeKind::Country) {
      if (!lit::isCountry(e.text)) {
        d_.report(Code::E0204, e.span, quote(e.text) + " is not an ISO 3166-1 alpha-2 country code",
                  looksCountry ? assignedCodeHint(e.text) : "country codes are two capital letters, e.g. GB");
        return set(e, Type{});
      }
      e.ref = ast::Ref::Country;
      return set(e, want);
    }
    // No usable expectation: an enum value unique across enums, or a country code.
    int found = -1, foundValue = -1, matches = 0;
    for (std::size_t i = 0; i < s_.enums.size(); ++i) {
      int v = s_.enums[i].indexOf(e.text);
      if (v >= 0) {
        found = static_cast<int>(i);
        foundValue = v;
        ++matches;
      }
    }
    if (matches == 1) {
      e.ref = ast::Ref::EnumValue;
      e.enumValue = foundValue;
      return set(e, Type::enumOf(found));
    }
    if (looksCountry && lit::isCountry(e.text)) {
      e.ref = ast::Ref::Country;
      return set(e, Type::of(TypeKind::Country));
    }
    if (matches > 1) {
      d_.report(Code::E0202, e.span, quote(e.text) + " is a value of several enums; its meaning is ambiguous here",
                "compare it with an attribute so its enum is known");
      return set(e, Type{});
    }
    if (looksCountry) {
      d_.report(Code::E0204, e.span, quote(e.text) + " is not an ISO 3166-1 alpha-2 country code",
                assignedCodeHint(e.text));
      return set(e, Type{});
    }
    if (sc.brokenImport) return set(e, Type{});  // reported once, as the failed import
    std::vector<std::string> cands;
    for (auto& [k, v] : sc.consts) cands.push_back(k);
    for (auto& en : s_.enums)
      for (auto& v : en.values) cands.push_back(v);
    cands.push_back("now");
    cands.push_back("product");
    std::string hint = didYouMean(e.text, cands);
    if (hint.empty() && (e.text == "subject" || e.text == "client" || e.text == "request" || e.text == "risk")) {
      hint = "attributes are written SECTION.NAME, e.g. `" + e.text + ".x`";
    }
    if (hint.empty()) {
      // Declared in a file this one does not import directly (constants are not re-exported).
      for (auto& f : p_.files)
        for (auto& item : f.items)
          if (auto* c = std::get_if<ast::ConstDecl>(&item); c != nullptr && c->name.text == e.text && hint.empty())
            hint = quote(e.text) + " is declared in " + p_.sources.file(f.id).path +
                   "; import that file here (imports are not transitive)";
    }
    d_.report(Code::E0202, e.span, "unknown name " + quote(e.text), hint);
    return set(e, Type{});
  }

  // The codes people reach for that ISO 3166-1 does not assign (the EU's own usage).
  static std::string assignedCodeHint(const std::string& code) {
    if (code == "UK") return "the United Kingdom is GB";
    if (code == "EL") return "Greece is GR";
    return "use an assigned two-letter code such as GB, US or DE";
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < 12; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > 12) out += ", ...";
    return out;
  }

  Type checkAttr(Expr& e, Ctx& ctx) {
    if (ctx.constantOnly) {
      d_.report(Code::E0308, e.span, "attribute " + quote(e.section + "." + e.text) + " cannot be used in " + ctx.constWhat,
                "constants and test inputs must be fixed values");
      return set(e, Type{});
    }
    if (std::find(std::begin(kSections), std::end(kSections), e.section) == std::end(kSections)) {
      std::vector<std::string> cands(std::begin(kSections), std::end(kSections));
      std::string hint = didYouMean(e.section, cands);
      d_.report(Code::E0214, e.sectionSpan, "unknown attribute section " + quote(e.section),
                hint.empty() ? "sections are subject, client, request and risk" : hint);
      return set(e, Type{});
    }
    const AttrInfo* a = s_.findAttr(e.section, e.text);
    if (a == nullptr) {
      Span at = e.sectionSpan;
      at.len = e.nameSpan.col + e.nameSpan.len - e.sectionSpan.col;
      std::string hint = didYouMean(e.text, s_.attrNames(e.section));
      if (hint.empty()) {
        for (auto sec : kSections) {
          if (sec != e.section && s_.findAttr(sec, e.text) != nullptr) {
            hint = "did you mean " + quote(std::string(sec) + "." + e.text) + "?";
            break;
          }
        }
      }
      d_.report(Code::E0201, at, "unknown attribute " + quote(e.section + "." + e.text), hint);
      return set(e, Type{});
    }
    if (e.kind == ExprKind::Has) return set(e, Type::of(TypeKind::Bool));
    if (a->optional && ctx.guarded.count(e.section + "." + e.text) == 0) {
      d_.report(Code::W0409, e.span,
                "optional attribute " + quote(e.section + "." + e.text) + " is read without a `has` guard",
                "write `has " + e.section + "." + e.text + " and ...`; unguarded, an absent value is an evaluation error");
    }
    return set(e, a->type);
  }

  Type checkSet(Expr& e, const Type* expected, Ctx& ctx) {
    Type elem;
    bool haveElem = false;
    if (expected != nullptr && expected->kind == TypeKind::Set) {
      elem = expected->element();
      haveElem = true;
    }
    if (e.kids.empty()) {
      if (haveElem) return set(e, *expected);
      return set(e, Type::of(TypeKind::EmptySet));
    }
    bool broken = false;
    for (auto& k : e.kids) {
      if (k->kind == ExprKind::Set) {
        d_.report(Code::E0301, k->span, "sets cannot contain sets");
        broken = true;
        continue;
      }
      Type t = check(*k, haveElem ? &elem : nullptr, ctx);
      if (t.isError()) {
        broken = true;
        continue;
      }
      if (!haveElem) {
        elem = t;
        haveElem = true;
      } else if (!assignable(t, elem)) {
        if (elem.kind == TypeKind::Int && t.kind == TypeKind::Decimal && expected == nullptr) {
          elem = t;
        } else {
          mismatch(k->span, elem, t);
          broken = true;
        }
      }
    }
    if (broken && !haveElem) return set(e, Type{});
    return set(e, Type::setOf(elem));
  }

  Type checkMatch(Expr& e, const Type* expected, Ctx& ctx) {
    Type subj = check(*e.kids[0], nullptr, ctx);
    if (!subj.isError() && subj.kind != TypeKind::Int && subj.kind != TypeKind::Enum) {
      d_.report(Code::E0302, e.kids[0]->span, "match works on int and enum values, not " + quote(s_.typeName(subj)));
      subj = Type{};
    }
    bool hasDefault = false;
    std::set<std::string> seen;
    Type result;
    bool haveResult = false;
    if (expected != nullptr && !expected->isError()) {
      result = *expected;
      haveResult = true;
    }
    for (auto& arm : e.arms) {
      for (auto& pat : arm.patterns) {
        if (pat.isDefault) {
          if (hasDefault) d_.report(Code::E0304, pat.span, "a second default arm `_`");
          hasDefault = true;
          continue;
        }
        if (subj.isError()) continue;
        Type pt = check(*pat.value, &subj, ctx);
        if (pt.isError()) continue;
        if (pt != subj) {
          mismatch(pat.span, subj, pt);
          continue;
        }
        // Arms are compared by value: `1_000` and `1000` are the same arm.
        std::string key = pat.value->text;
        check::FoldError ferr = check::FoldError::None;
        if (auto v = check::fold(*pat.value, ferr); v && v->kind == TypeKind::Int) key = std::to_string(v->i);
        if (!seen.insert(key).second) d_.report(Code::E0304, pat.span, "match arm " + quote(key) + " is repeated");
      }
      Type rt = check(*arm.result, haveResult ? &result : nullptr, ctx);
      if (rt.isError()) continue;
      if (!haveResult) {
        result = rt;
        haveResult = true;
      } else if (!assignable(rt, result)) {
        if (result.kind == TypeKind::Int && rt.kind == TypeKind::Decimal && expected == nullptr) {
          result = rt;
        } else {
          mismatch(arm.result->span, result, rt);
        }
      }
    }
    if (!hasDefault) {
      d_.report(Code::E0303, e.span, "match has no default arm",
                "add `_ => VALUE` so every input has a result");
    }
    return set(e, haveResult ? result : Type{});
  }

  Type checkUnary(Expr& e, Ctx& ctx) {
    if (e.unop == ast::UnOp::Not) {
      Type b = Type::of(TypeKind::Bool);
      Type t = check(*e.kids[0], &b, ctx);
      if (!t.isError() && t.kind != TypeKind::Bool) {
        d_.report(Code::E0302, e.kids[0]->span, "`not` needs a bool, found " + quote(s_.typeName(t)));
      }
      return set(e, b);
    }
    Type t = check(*e.kids[0], nullptr, ctx);
    if (t.isError()) return set(e, t);
    if (!isNumeric(t.kind) && t.kind != TypeKind::Duration) {
      d_.report(Code::E0302, e.span, "cannot negate " + quote(s_.typeName(t)));
      return set(e, Type{});
    }
    set(e, t);
    foldReportIfConstant(e);  // -(the smallest int) overflows
    return t;
  }

  Type checkBinary(Expr& e, const Type* expected, Ctx& ctx) {
    using B = ast::BinOp;
    Expr& l = *e.kids[0];
    Expr& r = *e.kids[1];
    Type boolT = Type::of(TypeKind::Bool);
    switch (e.binop) {
      case B::And:
      case B::Or: {
        Type lt = check(l, &boolT, ctx);
        Ctx rctx = ctx;
        if (e.binop == B::And) collectGuards(l, rctx.guarded);
        Type rt = check(r, &boolT, rctx);
        if (!lt.isError() && lt.kind != TypeKind::Bool)
          d_.report(Code::E0302, l.span, quote(ast::spelling(e.binop)) + " needs bool operands, found " + quote(s_.typeName(lt)));
        if (!rt.isError() && rt.kind != TypeKind::Bool)
          d_.report(Code::E0302, r.span, quote(ast::spelling(e.binop)) + " needs bool operands, found " + quote(s_.typeName(rt)));
        return set(e, boolT);
      }
      case B::In:
      case B::NotIn: return checkIn(e, ctx);
      case B::Eq:
      case B::Ne:
      case B::Lt:
      case B::Le:
      case B::Gt:
      case B::Ge: {
        Type lt, rt;
        if (contextual(l, ctx) && !contextual(r, ctx)) {
          rt = check(r, nullptr, ctx);
          lt = check(l, rt.isError() ? nullptr : &rt, ctx);
        } else {
          lt = check(l, nullptr, ctx);
          rt = check(r, lt.isError() ? nullptr : &lt, ctx);
        }
        if (lt.isError() || rt.isError()) return set(e, boolT);
        bool ordering = e.binop != B::Eq && e.binop != B::Ne;
        bool comparable = assignable(lt, rt) || assignable(rt, lt);
        if (!comparable) {
          d_.report(Code::E0302, e.span,
                    "cannot compare " + quote(s_.typeName(lt)) + " with " + quote(s_.typeName(rt)));
        } else if (ordering && !isOrdered(lt.kind)) {
          d_.report(Code::E0302, e.span, quote(ast::spelling(e.binop)) + " is not defined for " + quote(s_.typeName(lt)),
                    "only int, decimal, duration and time are ordered");
        } else if (lt.kind == TypeKind::Set || lt.kind == TypeKind::EmptySet) {
          d_.report(Code::E0302, e.span, "sets cannot be compared with " + quote(ast::spelling(e.binop)),
                    "test membership with `in`");
        }
        return set(e, boolT);
      }
      default: break;
    }
    // Arithmetic.
    // Only a numeric expectation passes to the left operand (an int `match` may become decimal):
    // a duration may come from `time - time` or `int * duration`, whose left operand is no duration.
    const Type* lexp = expected != nullptr && isNumeric(expected->kind) ? expected : nullptr;
    Type lt = check(l, lexp, ctx);
    Type rt = check(r, nullptr, ctx);
    if (lt.isError() || rt.isError()) return set(e, Type{});
    TypeKind a = lt.kind, b = rt.kind;
    Type result;
    auto is = [](TypeKind k, TypeKind x) { return k == x; };
    switch (e.binop) {
      case B::Add:
      case B::Sub:
        if (isNumeric(a) && isNumeric(b)) {
          result = Type::of(a == TypeKind::Decimal || b == TypeKind::Decimal ? TypeKind::Decimal : TypeKind::Int);
        } else if (is(a, TypeKind::Duration) && is(b, TypeKind::Duration)) {
          result = lt;
        } else if (is(a, TypeKind::Time) && is(b, TypeKind::Duration)) {
          result = lt;
        } else if (e.binop == B::Add && is(a, TypeKind::Duration) && is(b, TypeKind::Time)) {
          result = rt;
        } else if (e.binop == B::Sub && is(a, TypeKind::Time) && is(b, TypeKind::Time)) {
          result = Type::of(TypeKind::Duration);
        }
        break;
      case B::Mul:
        if (isNumeric(a) && isNumeric(b)) {
          result = Type::of(a == TypeKind::Decimal || b == TypeKind::Decimal ? TypeKind::Decimal : TypeKind::Int);
        } else if ((is(a, TypeKind::Duration) && is(b, TypeKind::Int)) || (is(a, TypeKind::Int) && is(b, TypeKind::Duration))) {
          result = Type::of(TypeKind::Duration);
        }
        break;
      case B::Div:
        if (isNumeric(a) && isNumeric(b)) {
          result = Type::of(a == TypeKind::Decimal || b == TypeKind::Decimal ? TypeKind::Decimal : TypeKind::Int);
        } else if (is(a, TypeKind::Duration) && is(b, TypeKind::Int)) {
          result = lt;
        }
        break;
      default: break;
    }
    if (result.isError()) {
      d_.report(Code::E0302, e.span,
                quote(ast::spelling(e.binop)) + " is not defined for " + quote(s_.typeName(lt)) + " and " +
                    quote(s_.typeName(rt)));
      return set(e, Type{});
    }
    set(e, result);
    foldReportIfConstant(e);
    return result;
  }

  // Arithmetic on literals and constants is folded at compile time; overflow is an error there.
  void foldReportIfConstant(const Expr& e) {
    check::FoldError err = check::FoldError::None;
    check::fold(e, err);
    if (err == check::FoldError::Overflow || err == check::FoldError::DivideByZero) {
      // Report only at the outermost failing node: children that failed were reported already.
      for (auto& k : e.kids) {
        check::FoldError kerr = check::FoldError::None;
        check::fold(*k, kerr);
        if (kerr == check::FoldError::Overflow || kerr == check::FoldError::DivideByZero) return;
      }
      d_.report(Code::E0309, e.span,
                err == check::FoldError::Overflow ? "constant arithmetic overflows" : "division by zero");
    }
  }

  Type checkIn(Expr& e, Ctx& ctx) {
    Expr& l = *e.kids[0];
    Expr& r = *e.kids[1];
    Type boolT = Type::of(TypeKind::Bool);
    Type lt, rt;
    if (contextual(l, ctx) && !contextual(r, ctx)) {
      rt = check(r, nullptr, ctx);
      Type elem = rt.kind == TypeKind::Set ? rt.element() : Type{};
      if (elem.kind == TypeKind::Cidr) elem = Type::of(TypeKind::Ip);
      lt = check(l, elem.isError() ? nullptr : &elem, ctx);
    } else {
      lt = check(l, nullptr, ctx);
      Type want = lt.isError() ? Type{} : Type::setOf(lt.kind == TypeKind::Ip ? Type::of(TypeKind::Cidr) : lt);
      rt = check(r, want.kind == TypeKind::Set ? &want : nullptr, ctx);
    }
    if (lt.isError() || rt.isError()) return set(e, boolT);
    bool ok = false;
    if (rt.kind == TypeKind::EmptySet) ok = true;
    if (rt.kind == TypeKind::Set) {
      Type elem = rt.element();
      ok = assignable(lt, elem) || (lt.kind == TypeKind::Ip && elem.kind == TypeKind::Cidr);
    }
    if (rt.kind == TypeKind::Cidr && lt.kind == TypeKind::Ip) ok = true;
    if (!ok) {
      std::string hint = rt.kind == TypeKind::Set ? "" : "the right side of `in` must be a set";
      d_.report(Code::E0302, e.span,
                "cannot test whether " + quote(s_.typeName(lt)) + " is in " + quote(s_.typeName(rt)), hint);
    }
    return set(e, boolT);
  }

 public:
  std::map<FileId, std::set<FileId>> usedFrom_;
};

}  // namespace

void resolveAndTypeCheck(Program& p, Diagnostics& diags) {
  Checker c(p, diags);
  c.run();
  // Record which imports were used, for the unused-import lint.
  for (auto& f : p.files) {
    for (auto& item : f.items) {
      auto* imp = std::get_if<ast::Import>(&item);
      if (imp == nullptr || !imp->resolved) continue;
      auto it = c.usedFrom_.find(f.id);
      imp->used = it != c.usedFrom_.end() && it->second.count(imp->target) > 0;
    }
  }
}

}  // namespace mandate
