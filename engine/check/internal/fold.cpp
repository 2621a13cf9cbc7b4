#include "check/internal/fold.h"

namespace mandate::check {
namespace {

constexpr __int128 kDecMax = static_cast<__int128>(100'000'000'000'000'000ULL) * 1'000'000'000'000'000'000ULL * 1000;  // 10^38

bool decOverflow(__int128 v) { return v > kDecMax || v < -kDecMax; }

ConstValue intValue(TypeKind k, std::int64_t v) {
  ConstValue c;
  c.kind = k;
  c.i = v;
  return c;
}

}  // namespace

std::optional<lit::Decimal> ConstValue::number() const {
  if (kind == TypeKind::Int || kind == TypeKind::Duration || kind == TypeKind::Time) return lit::Decimal::fromInt(i);
  if (kind == TypeKind::Decimal) return d;
  return std::nullopt;
}

bool ConstValue::sameValue(const ConstValue& o) const {
  auto a = number(), b2 = o.number();
  if (a && b2) return *a == *b2;
  if (kind == TypeKind::Bool && o.kind == TypeKind::Bool) return b == o.b;
  return kind == o.kind && s == o.s;
}

static std::optional<ConstValue> foldExpr(const ast::Expr& e, FoldError& err) {
  using K = ast::ExprKind;
  std::string why;
  switch (e.kind) {
    case K::Int: {
      ConstValue c = intValue(TypeKind::Int, 0);
      if (!lit::parseInt(e.text, c.i, why)) return std::nullopt;
      return c;
    }
    case K::Decimal: {
      ConstValue c;
      c.kind = TypeKind::Decimal;
      if (!lit::parseDecimal(e.text, c.d, why)) return std::nullopt;
      return c;
    }
    case K::Duration: {
      ConstValue c = intValue(TypeKind::Duration, 0);
      if (!lit::parseDuration(e.text, c.i, why)) return std::nullopt;
      return c;
    }
    case K::Time: {
      ConstValue c = intValue(TypeKind::Time, 0);
      if (!lit::parseTime(e.text, c.i, why)) return std::nullopt;
      return c;
    }
    case K::Bool: {
      ConstValue c;
      c.kind = TypeKind::Bool;
      c.b = e.text == "true";
      return c;
    }
    case K::String:
    case K::Region:
    case K::Ip:
    case K::Cidr: {
      ConstValue c;
      c.kind = e.type.kind == TypeKind::Error ? TypeKind::String : e.type.kind;
      c.s = e.text;
      return c;
    }
    case K::Name: {
      if (e.ref == ast::Ref::Const && e.constRef != nullptr && e.constRef->value) return fold(*e.constRef->value, err);
      if (e.ref == ast::Ref::EnumValue || e.ref == ast::Ref::Country || e.ref == ast::Ref::Region) {
        ConstValue c;
        c.kind = e.type.kind;
        c.s = e.text;
        return c;
      }
      err = FoldError::NotConstant;
      return std::nullopt;
    }
    case K::Paren:
      return fold(*e.kids[0], err);
    case K::Unary: {
      auto v = fold(*e.kids[0], err);
      if (!v) return std::nullopt;
      if (e.unop == ast::UnOp::Not) {
        if (v->kind != TypeKind::Bool) return std::nullopt;
        v->b = !v->b;
        return v;
      }
      if (v->kind == TypeKind::Decimal) {
        v->d.units = -v->d.units;
        return v;
      }
      if (v->kind == TypeKind::Int || v->kind == TypeKind::Duration) {
        if (v->i == INT64_MIN) {
          err = FoldError::Overflow;
          return std::nullopt;
        }
        v->i = -v->i;
        return v;
      }
      return std::nullopt;
    }
    case K::Binary: {
      using B = ast::BinOp;
      if (e.binop != B::Add && e.binop != B::Sub && e.binop != B::Mul && e.binop != B::Div) {
        err = FoldError::NotConstant;  // comparisons are not folded here; the linter reasons about them
        return std::nullopt;
      }
      auto l = fold(*e.kids[0], err);
      if (!l) return std::nullopt;
      auto r = fold(*e.kids[1], err);
      if (!r) return std::nullopt;
      bool decimal = l->kind == TypeKind::Decimal || r->kind == TypeKind::Decimal;
      if (decimal) {
        auto a = l->number(), b = r->number();
        if (!a || !b) return std::nullopt;
        ConstValue c;
        c.kind = TypeKind::Decimal;
        __int128 x = a->units, y = b->units;
        switch (e.binop) {
          case B::Add:
          case B::Sub:
            // Both may be near 10^38: the sum can leave 128 bits before decOverflow sees it.
            if (e.binop == B::Add ? __builtin_add_overflow(x, y, &c.d.units) : __builtin_sub_overflow(x, y, &c.d.units)) {
              err = FoldError::Overflow;
              return std::nullopt;
            }
            break;
          case B::Mul:
            if (!lit::mulDecimal(x, y, c.d.units)) {
              err = FoldError::Overflow;
              return std::nullopt;
            }
            break;
          case B::Div:
            if (y == 0) {
              err = FoldError::DivideByZero;
              return std::nullopt;
            }
            if (!lit::divDecimal(x, y, c.d.units)) {
              err = FoldError::Overflow;
              return std::nullopt;
            }
            break;
          default: break;
        }
        if (decOverflow(c.d.units)) {
          err = FoldError::Overflow;
          return std::nullopt;
        }
        return c;
      }
      std::int64_t out = 0;
      bool overflow = false;
      if (l->kind == TypeKind::Time || r->kind == TypeKind::Time) {
        // Times are unix seconds, durations milliseconds: convert, never add them raw.
        if (l->kind == TypeKind::Time && r->kind == TypeKind::Time) {  // time - time
          std::int64_t secs = 0;
          if (__builtin_sub_overflow(l->i, r->i, &secs) || __builtin_mul_overflow(secs, 1000, &out)) {
            err = FoldError::Overflow;
            return std::nullopt;
          }
          return intValue(TypeKind::Duration, out);
        }
        const ConstValue& t = l->kind == TypeKind::Time ? *l : *r;
        const ConstValue& d = l->kind == TypeKind::Time ? *r : *l;
        if (d.kind != TypeKind::Duration || d.i % 1000 != 0) return std::nullopt;  // sub-second: left to run time
        if (e.binop == B::Sub ? __builtin_sub_overflow(t.i, d.i / 1000, &out)
                              : __builtin_add_overflow(t.i, d.i / 1000, &out)) {
          err = FoldError::Overflow;
          return std::nullopt;
        }
        return intValue(TypeKind::Time, out);
      }
      switch (e.binop) {
        case B::Add: overflow = __builtin_add_overflow(l->i, r->i, &out); break;
        case B::Sub: overflow = __builtin_sub_overflow(l->i, r->i, &out); break;
        case B::Mul: overflow = __builtin_mul_overflow(l->i, r->i, &out); break;
        case B::Div:
          if (r->i == 0) {
            err = FoldError::DivideByZero;
            return std::nullopt;
          }
          if (l->i == INT64_MIN && r->i == -1) {
            overflow = true;
            break;
          }
          out = l->i / r->i;
          break;
        default: break;
      }
      if (overflow) {
        err = FoldError::Overflow;
        return std::nullopt;
      }
      TypeKind k = e.type.kind == TypeKind::Error || e.type.kind == TypeKind::Decimal ? TypeKind::Int : e.type.kind;
      return intValue(k, out);  // an int typed decimal (a typed constant) is converted by fold()
    }
    default:
      err = FoldError::NotConstant;
      return std::nullopt;
  }
}

std::optional<ConstValue> fold(const ast::Expr& e, FoldError& err) {
  auto v = foldExpr(e, err);
  // Int arithmetic typed decimal: a typed constant (`const CAP: decimal = 5`) keeps its int
  // literal in the tree, and the checker gives it the declared type.
  if (v && e.type.kind == TypeKind::Decimal && v->kind == TypeKind::Int) {
    v->kind = TypeKind::Decimal;
    v->d = lit::Decimal::fromInt(v->i);
  }
  return v;
}

}  // namespace mandate::check
