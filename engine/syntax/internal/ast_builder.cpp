#include "syntax/internal/ast_builder.h"

#include "value/literals.h"

namespace mandate::syntax {
namespace {

using P = PolicyParser;

class Builder {
 public:
  Builder(FileId file, Diagnostics& diags) : file_(file), diags_(diags) {}

  // False when an expression was too deep to build (reported as E0104).
  bool file(P::File_Context* ctx, ast::File& out) {
    for (auto* item : ctx->item()) {
      if (auto* c = item->importDecl()) {
        out.items.emplace_back(importDecl(c));
      } else if (auto* c = item->constDecl()) {
        out.items.emplace_back(constDecl(c));
      } else if (auto* c = item->schemaDecl()) {
        out.items.emplace_back(schemaDecl(c));
      } else if (auto* c = item->policyDecl()) {
        out.items.emplace_back(policyDecl(c));
      } else if (auto* c = item->testDecl()) {
        out.items.emplace_back(testDecl(c));
      }
    }
    if (tooDeep_) out.items.clear();
    return !tooDeep_;
  }

 private:
  FileId file_;
  Diagnostics& diags_;

  // Operator chains (`a or b or ...`) become left-deep trees, one level per operator, and
  // every later pass recurses over them: the levels of the chains enclosing an expression are
  // limited, like brackets and prefix operators (counted by the parser's prescan).
  static constexpr std::size_t kMaxChainDepth = 1000;
  std::size_t chainDepth_ = 0;
  bool tooDeep_ = false;
  struct ChainLevels {
    std::size_t& depth;
    std::size_t n;
    ChainLevels(std::size_t& d, std::size_t levels) : depth(d), n(levels) { depth += n; }
    ~ChainLevels() { depth -= n; }
  };
  // True (after reporting once) when the chain at `c` goes over the limit; the caller then
  // returns a placeholder and the file is dropped.
  bool chainTooDeep(antlr4::ParserRuleContext* c) {
    if (chainDepth_ <= kMaxChainDepth) return false;
    if (!tooDeep_) {
      diags_.report(Code::E0104, span(c->getStart()),
                    "expression nested deeper than " + std::to_string(kMaxChainDepth) + " operators",
                    "split the expression into named constants");
    }
    tooDeep_ = true;
    return true;
  }

  Span span(antlr4::Token* t) const {
    std::uint32_t len = t->getStopIndex() >= t->getStartIndex()
                            ? static_cast<std::uint32_t>(t->getStopIndex() - t->getStartIndex() + 1)
                            : 1;
    return Span{file_, static_cast<std::uint32_t>(t->getLine()),
                static_cast<std::uint32_t>(t->getCharPositionInLine() + 1), len};
  }
  // A span from the first to the last token of a context; on the first line when it spans several.
  Span span(antlr4::ParserRuleContext* ctx) const {
    Span s = span(ctx->getStart());
    antlr4::Token* stop = ctx->getStop();
    if (stop != nullptr && stop->getStopIndex() >= ctx->getStart()->getStartIndex()) {
      s.len = static_cast<std::uint32_t>(stop->getStopIndex() - ctx->getStart()->getStartIndex() + 1);
    }
    return s;
  }

  static std::uint32_t endLine(antlr4::ParserRuleContext* c) {
    antlr4::Token* t = c->getStop() != nullptr ? c->getStop() : c->getStart();
    return static_cast<std::uint32_t>(t->getLine());
  }

  ast::Name name(P::IdentContext* c) { return ast::Name{c->getText(), span(c)}; }

  ast::Name stringValue(antlr4::tree::TerminalNode* node) {
    ast::Name n{"", span(node->getSymbol())};
    if (!ast::unescapeString(node->getText(), n.text)) {
      diags_.report(Code::E0107, n.span, "unknown escape sequence in string",
                    "the escapes are \\\" \\\\ \\n \\t");
    }
    return n;
  }

  std::vector<ast::Name> names(P::NameListContext* c) {
    std::vector<ast::Name> out;
    for (auto* id : c->ident()) out.push_back(name(id));
    return out;
  }

  ast::Import importDecl(P::ImportDeclContext* c) {
    ast::Import imp;
    imp.path = stringValue(c->STRING()).text;
    imp.span = span(c->STRING()->getSymbol());
    imp.endLine = endLine(c);
    return imp;
  }

  ast::TypeRef typeRef(P::TypeRefContext* c) {
    ast::TypeRef t;
    t.name = name(c->ident());
    t.span = span(c);
    if (c->typeRef() != nullptr) t.arg = std::make_unique<ast::TypeRef>(typeRef(c->typeRef()));
    return t;
  }

  ast::ConstDecl constDecl(P::ConstDeclContext* c) {
    ast::ConstDecl d;
    d.name = name(c->ident());
    if (c->typeRef() != nullptr) d.declared = typeRef(c->typeRef());
    d.value = expr(c->expr());
    d.span = span(c);
    d.endLine = endLine(c);
    return d;
  }

  ast::SectionDecl section(ast::Name n, const std::vector<P::AttrDeclContext*>& attrs, Span s) {
    ast::SectionDecl sec;
    sec.name = std::move(n);
    sec.span = s;
    sec.endLine = s.line;
    for (auto* a : attrs) {
      ast::AttrDecl d;
      d.optional = a->OPTIONAL() != nullptr;
      d.name = name(a->ident());
      d.type = typeRef(a->typeRef());
      d.span = span(a);
      d.endLine = endLine(a);
      sec.endLine = std::max(sec.endLine, d.endLine);
      sec.attrs.push_back(std::move(d));
    }
    return sec;
  }

  ast::SchemaDecl schemaDecl(P::SchemaDeclContext* c) {
    using K = ast::SchemaDecl::ItemKind;
    ast::SchemaDecl s;
    s.span = span(c->SCHEMA()->getSymbol());
    s.endLine = endLine(c);
    for (auto* item : c->schemaItem()) {
      if (auto* e = dynamic_cast<P::EnumDeclContext*>(item)) {
        ast::EnumDecl d;
        d.name = name(e->ident());
        for (auto* v : e->identList()->ident()) d.values.push_back(name(v));
        d.span = span(e);
        d.endLine = endLine(e);
        s.order.emplace_back(K::Enum, s.enums.size());
        s.enums.push_back(std::move(d));
      } else if (auto* a = dynamic_cast<P::ActionsDeclContext*>(item)) {
        std::vector<ast::Name> acts;
        for (auto* v : a->identList()->ident()) acts.push_back(name(v));
        if (s.actions) {
          diags_.report(Code::E0310, span(a), "`actions` is declared twice in the schema");
          continue;
        }
        s.actions = std::move(acts);
        s.actionsSpan = span(a);
        s.order.emplace_back(K::Actions, 0);
      } else if (auto* p = dynamic_cast<P::ProductsDeclContext*>(item)) {
        if (s.productsEnum) {
          diags_.report(Code::E0310, span(p), "`products` is declared twice in the schema");
          continue;
        }
        s.productsEnum = name(p->ident());
        if (p->nameList() != nullptr) s.productActions = names(p->nameList());
        s.productsSpan = span(p);
        s.order.emplace_back(K::Products, 0);
      } else if (auto* l = dynamic_cast<P::LimitsDeclContext*>(item)) {
        if (s.limits) {
          diags_.report(Code::E0310, span(l), "`limits` is declared twice in the schema");
          continue;
        }
        s.limits = section(ast::Name{"limits", span(l->LIMITS()->getSymbol())}, l->attrDecl(), span(l));
        s.limits->endLine = endLine(l);
        s.order.emplace_back(K::Limits, 0);
      } else if (auto* sec = dynamic_cast<P::SectionDeclContext*>(item)) {
        s.order.emplace_back(K::Section, s.sections.size());
        s.sections.push_back(section(name(sec->ident()), sec->attrDecl(), span(sec)));
        s.sections.back().endLine = endLine(sec);
      }
    }
    return s;
  }

  ast::Target target(P::TargetContext* c) {
    ast::Target t;
    t.span = span(c);
    if (c->actionSet()->ALL() != nullptr) {
      t.allActions = true;
    } else {
      t.actions = names(c->actionSet()->nameList());
    }
    if (auto* ps = c->productSet()) {
      t.hasProducts = true;
      if (ps->ALL() != nullptr) {
        t.allProducts = true;
      } else {
        t.products = names(ps->nameList());
      }
    }
    return t;
  }

  void clauses(P::ClausesContext* c, ast::Rule& r) {
    if (c->expr() != nullptr) r.when = expr(c->expr());
    if (c->STRING() != nullptr) r.because = stringValue(c->STRING());
  }

  static ast::BinOp compOp(P::CompOpContext* c) {
    switch (c->getStart()->getType()) {
      case P::EQ: return ast::BinOp::Eq;
      case P::NE: return ast::BinOp::Ne;
      case P::LT: return ast::BinOp::Lt;
      case P::LE: return ast::BinOp::Le;
      case P::GT: return ast::BinOp::Gt;
      default: return ast::BinOp::Ge;
    }
  }

  ast::Rule rule(P::Rule_Context* c) {
    ast::Rule r;
    r.span = span(c);
    r.endLine = endLine(c);
    if (c->ident() != nullptr) r.label = name(c->ident());
    auto* body = c->ruleBody();
    if (auto* p = dynamic_cast<P::PermitRuleContext*>(body)) {
      r.kind = ast::RuleKind::Permit;
      r.target = target(p->target());
      clauses(p->clauses(), r);
    } else if (auto* d = dynamic_cast<P::DenyRuleContext*>(body)) {
      r.kind = ast::RuleKind::Deny;
      r.target = target(d->target());
      clauses(d->clauses(), r);
    } else if (auto* l = dynamic_cast<P::LimitRuleContext*>(body)) {
      r.kind = ast::RuleKind::Limit;
      r.limitName = name(l->ident());
      r.value = expr(l->expr());
      if (l->target() != nullptr) r.target = target(l->target());
      clauses(l->clauses(), r);
    } else if (auto* q = dynamic_cast<P::RequireRuleContext*>(body)) {
      r.kind = ast::RuleKind::Require;
      r.limitName = name(q->ident());
      r.requireOp = compOp(q->compOp());
      r.value = expr(q->expr());
      if (q->target() != nullptr) r.target = target(q->target());
      clauses(q->clauses(), r);
    } else if (auto* t = dynamic_cast<P::CapRuleContext*>(body)) {
      r.kind = ast::RuleKind::CapTtl;
      r.value = expr(t->expr());
      clauses(t->clauses(), r);
    }
    return r;
  }

  ast::Policy policyDecl(P::PolicyDeclContext* c) {
    ast::Policy p;
    p.name = name(c->ident());
    p.span = span(c->POLICY()->getSymbol());
    p.endLine = endLine(c);
    if (c->STRING() != nullptr) p.title = stringValue(c->STRING());
    for (auto* item : c->policyItem()) {
      if (auto* m = item->metaItem()) {
        p.order.emplace_back(false, p.meta.size());
        p.meta.push_back(ast::Meta{endLine(m), m->key->getText(), stringValue(m->STRING()), span(m)});
      } else {
        p.order.emplace_back(true, p.rules.size());
        p.rules.push_back(rule(item->rule_()));
        p.rules.back().index = p.rules.size();
      }
    }
    return p;
  }

  ast::TestDecl testDecl(P::TestDeclContext* c) {
    ast::TestDecl t;
    t.name = stringValue(c->STRING());
    t.span = span(c->TEST()->getSymbol());
    t.endLine = endLine(c);
    for (auto* item : c->testItem()) {
      if (auto* g = dynamic_cast<P::GivenSectionContext*>(item)) {
        ast::Given given;
        given.section = name(g->ident());
        given.span = span(g);
        given.endLine = endLine(g);
        for (auto* f : g->fieldInit()) given.fields.push_back(ast::FieldInit{name(f->ident()), expr(f->expr())});
        t.order.emplace_back(false, t.givens.size());
        t.givens.push_back(std::move(given));
      } else if (auto* v = dynamic_cast<P::GivenValueContext*>(item)) {
        ast::Given given;
        given.section = name(v->ident());
        given.span = span(v);
        given.endLine = endLine(v);
        given.value = expr(v->expr());
        t.order.emplace_back(false, t.givens.size());
        t.givens.push_back(std::move(given));
      } else {
        ast::Expect e;
        e.span = span(item);
        e.endLine = endLine(item);
        if (auto* ev = dynamic_cast<P::ExpectVerdictContext*>(item)) {
          e.kind = ev->verdict->getType() == P::PERMIT ? ast::Expect::Kind::Permit : ast::Expect::Kind::Deny;
          e.target = target(ev->target());
          e.hasTarget = true;
        } else if (auto* el = dynamic_cast<P::ExpectLimitContext*>(item)) {
          e.kind = ast::Expect::Kind::Limit;
          e.name = name(el->ident());
          e.target = target(el->target());
          e.hasTarget = true;
          e.op = compOp(el->compOp());
          e.value = expr(el->expr());
        } else if (auto* eo = dynamic_cast<P::ExpectObligationContext*>(item)) {
          e.kind = ast::Expect::Kind::Obligation;
          e.name = name(eo->ident());
          e.op = compOp(eo->compOp());
          e.value = expr(eo->expr());
          if (eo->target() != nullptr) {
            e.target = target(eo->target());
            e.hasTarget = true;
          }
        }
        t.order.emplace_back(true, t.expects.size());
        t.expects.push_back(std::move(e));
      }
    }
    return t;
  }

  // ---- expressions ------------------------------------------------------

  ast::ExprPtr make(ast::ExprKind k, Span s) {
    auto e = std::make_unique<ast::Expr>();
    e->kind = k;
    e->span = s;
    return e;
  }

  ast::ExprPtr binary(ast::BinOp op, ast::ExprPtr l, ast::ExprPtr r) {
    Span s = l->span;
    // Extend over the right operand when both are on the same line.
    if (r->span.line == s.line && r->span.col + r->span.len > s.col) s.len = r->span.col + r->span.len - s.col;
    auto e = make(ast::ExprKind::Binary, s);
    e->binop = op;
    e->kids.push_back(std::move(l));
    e->kids.push_back(std::move(r));
    return e;
  }

  ast::ExprPtr expr(P::ExprContext* c) { return orExpr(c->orExpr()); }

  // Operand lists are fetched once: each `c->andExpr(i)` scans the children, which made long
  // chains (`a or b or ...`, thousands of terms) quadratic.
  ast::ExprPtr orExpr(P::OrExprContext* c) {
    auto kids = c->andExpr();
    ChainLevels levels(chainDepth_, kids.size() - 1);
    if (chainTooDeep(c)) return make(ast::ExprKind::Name, span(c));
    auto e = andExpr(kids[0]);
    for (std::size_t i = 1; i < kids.size(); ++i) e = binary(ast::BinOp::Or, std::move(e), andExpr(kids[i]));
    return e;
  }

  ast::ExprPtr andExpr(P::AndExprContext* c) {
    auto kids = c->notExpr();
    ChainLevels levels(chainDepth_, kids.size() - 1);
    if (chainTooDeep(c)) return make(ast::ExprKind::Name, span(c));
    auto e = notExpr(kids[0]);
    for (std::size_t i = 1; i < kids.size(); ++i) e = binary(ast::BinOp::And, std::move(e), notExpr(kids[i]));
    return e;
  }

  ast::ExprPtr notExpr(P::NotExprContext* c) {
    if (c->NOT() != nullptr) {
      auto e = make(ast::ExprKind::Unary, span(c));
      e->unop = ast::UnOp::Not;
      e->kids.push_back(notExpr(c->notExpr()));
      return e;
    }
    return cmpExpr(c->cmpExpr());
  }

  ast::ExprPtr cmpExpr(P::CmpExprContext* c) {
    auto e = addExpr(c->addExpr(0));
    if (c->addExpr().size() < 2) return e;
    ast::BinOp op = ast::BinOp::In;
    if (c->compOp() != nullptr) {
      op = compOp(c->compOp());
    } else if (c->NOT() != nullptr) {
      op = ast::BinOp::NotIn;
    }
    return binary(op, std::move(e), addExpr(c->addExpr(1)));
  }

  ast::ExprPtr addExpr(P::AddExprContext* c) {
    auto kids = c->mulExpr();
    ChainLevels levels(chainDepth_, kids.size() - 1);
    if (chainTooDeep(c)) return make(ast::ExprKind::Name, span(c));
    auto e = mulExpr(kids[0]);
    for (std::size_t i = 1; i < kids.size(); ++i) {
      auto op = c->op[i - 1]->getType() == P::PLUS ? ast::BinOp::Add : ast::BinOp::Sub;
      e = binary(op, std::move(e), mulExpr(kids[i]));
    }
    return e;
  }

  ast::ExprPtr mulExpr(P::MulExprContext* c) {
    auto kids = c->unary();
    ChainLevels levels(chainDepth_, kids.size() - 1);
    if (chainTooDeep(c)) return make(ast::ExprKind::Name, span(c));
    auto e = unary(kids[0]);
    for (std::size_t i = 1; i < kids.size(); ++i) {
      auto op = c->op[i - 1]->getType() == P::STAR ? ast::BinOp::Mul : ast::BinOp::Div;
      e = binary(op, std::move(e), unary(kids[i]));
    }
    return e;
  }

  ast::ExprPtr unary(P::UnaryContext* c) {
    if (c->MINUS() != nullptr) {
      auto e = make(ast::ExprKind::Unary, span(c));
      e->unop = ast::UnOp::Neg;
      e->kids.push_back(unary(c->unary()));
      return e;
    }
    return primary(c->primary());
  }

  ast::ExprPtr path(P::PathContext* c, bool isHas, Span whole) {
    auto ids = c->ident();
    if (c->PRODUCT() != nullptr) {
      if (!ids.empty() || isHas) {
        diags_.report(Code::E0101, span(c), "`product` has no attributes",
                      "`product` is the product class of the cell being decided");
        return make(ast::ExprKind::Name, whole);  // left untyped; the error was reported
      }
      return make(ast::ExprKind::Product, whole);
    }
    if (ids.size() == 1 && !isHas) {
      auto e = make(ast::ExprKind::Name, whole);
      e->text = ids[0]->getText();
      return e;
    }
    if (ids.size() != 2) {
      diags_.report(Code::E0201, span(c),
                    ids.size() == 1 ? "`has` needs an attribute such as `subject.lei`"
                                    : "attributes are written SECTION.NAME, e.g. `subject.kyc_tier`");
      auto e = make(ast::ExprKind::Name, whole);
      e->text = "";
      return e;
    }
    auto e = make(isHas ? ast::ExprKind::Has : ast::ExprKind::Attr, whole);
    e->section = ids[0]->getText();
    e->sectionSpan = span(ids[0]);
    e->text = ids[1]->getText();
    e->nameSpan = span(ids[1]);
    return e;
  }

  ast::ExprPtr literal(P::LiteralContext* c) {
    antlr4::Token* t = c->getStart();
    Span s = span(t);
    std::string text = t->getText();
    std::string why;
    ast::ExprKind kind = ast::ExprKind::Int;
    bool ok = true;
    switch (t->getType()) {
      case P::INT: {
        std::int64_t v;
        ok = lit::parseInt(text, v, why);
        break;
      }
      case P::DECIMAL: {
        kind = ast::ExprKind::Decimal;
        lit::Decimal d;
        ok = lit::parseDecimal(text, d, why);
        break;
      }
      case P::DURATION: {
        kind = ast::ExprKind::Duration;
        std::int64_t v;
        ok = lit::parseDuration(text, v, why);
        break;
      }
      case P::TIME: {
        kind = ast::ExprKind::Time;
        std::int64_t v;
        ok = lit::parseTime(text, v, why);
        break;
      }
      case P::IPV4: {
        kind = ast::ExprKind::Ip;
        std::uint32_t a;
        ok = lit::parseIpv4(text, a, why);
        break;
      }
      case P::CIDR4: {
        kind = ast::ExprKind::Cidr;
        std::uint32_t a;
        int p;
        ok = lit::parseCidr4(text, a, p, why);
        break;
      }
      case P::REGION:
        kind = ast::ExprKind::Region;
        ok = lit::isRegion(text, why);
        break;
      case P::STRING: {
        kind = ast::ExprKind::String;
        std::string raw;
        if (!ast::unescapeString(text, raw)) {
          ok = false;
          why = "unknown escape sequence (the escapes are \\\" \\\\ \\n \\t)";
        }
        text = raw;
        break;
      }
      default:
        kind = ast::ExprKind::Bool;
        break;
    }
    if (!ok) diags_.report(Code::E0107, s, "invalid literal `" + t->getText() + "`: " + why);
    auto e = make(kind, s);
    e->text = std::move(text);
    return e;
  }

  ast::ExprPtr primary(P::PrimaryContext* c) {
    if (auto* l = dynamic_cast<P::LiteralExprContext*>(c)) return literal(l->literal());
    if (auto* h = dynamic_cast<P::HasExprContext*>(c)) return path(h->path(), true, span(c));
    if (auto* p = dynamic_cast<P::PathExprContext*>(c)) return path(p->path(), false, span(c));
    if (auto* s = dynamic_cast<P::SetExprContext*>(c)) {
      auto e = make(ast::ExprKind::Set, span(c));
      for (auto* x : s->expr()) e->kids.push_back(expr(x));
      return e;
    }
    if (auto* m = dynamic_cast<P::MatchExprContext*>(c)) {
      auto e = make(ast::ExprKind::Match, span(m->MATCH()->getSymbol()));
      e->kids.push_back(expr(m->expr()));
      for (auto* arm : m->matchArm()) {
        ast::MatchArm a;
        a.span = span(arm);
        for (auto* pat : arm->pattern()) {
          ast::MatchArm::Pattern p;
          p.span = span(pat);
          if (pat->UNDERSCORE() != nullptr) {
            p.isDefault = true;
          } else if (pat->INT() != nullptr) {
            Span digitsSpan = span(pat->INT()->getSymbol());
            auto number = make(ast::ExprKind::Int, digitsSpan);
            number->text = pat->INT()->getText();
            std::int64_t v;
            std::string why;
            if (!lit::parseInt(number->text, v, why)) diags_.report(Code::E0107, digitsSpan, "invalid literal: " + why);
            if (pat->MINUS() != nullptr) {
              // `-1 =>`: the same tree as the expression `-1`, so folding and compiling treat it alike.
              p.value = make(ast::ExprKind::Unary, p.span);
              p.value->unop = ast::UnOp::Neg;
              p.value->kids.push_back(std::move(number));
            } else {
              p.value = std::move(number);
            }
          } else if (pat->literal() != nullptr) {
            p.value = literal(pat->literal());
          } else {
            p.value = make(ast::ExprKind::Name, p.span);
            p.value->text = pat->ident()->getText();
          }
          a.patterns.push_back(std::move(p));
        }
        a.result = expr(arm->expr());
        e->arms.push_back(std::move(a));
      }
      return e;
    }
    auto* paren = dynamic_cast<P::ParenExprContext*>(c);
    auto e = make(ast::ExprKind::Paren, span(c));
    e->kids.push_back(expr(paren->expr()));
    return e;
  }
};

}  // namespace

bool buildAst(PolicyParser::File_Context* tree, ast::File& out, Diagnostics& diags) {
  return Builder(out.id, diags).file(tree, out);
}

}  // namespace mandate::syntax
