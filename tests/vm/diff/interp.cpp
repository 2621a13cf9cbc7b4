#include "diff/interp.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>

namespace vmtest::diff {

using namespace mandate;
using ast::Expr;
using ast::ExprKind;
using nlohmann::json;
using u128 = unsigned __int128;

namespace {

constexpr __int128 kOne = static_cast<__int128>(1'000'000'000'000'000'000LL);  // 10^18 units = 1
constexpr __int128 kRange = kOne * kOne * 100;                                  // 10^38 units

// ---- 256-bit helpers --------------------------------------------------------------------

struct U256 {
  u128 hi = 0, lo = 0;
};

U256 mulFull(u128 a, u128 b) {
  u128 a0 = static_cast<std::uint64_t>(a), a1 = a >> 64, b0 = static_cast<std::uint64_t>(b), b1 = b >> 64;
  u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  u128 mid = (p00 >> 64) + static_cast<std::uint64_t>(p01) + static_cast<std::uint64_t>(p10);
  U256 r;
  r.lo = (mid << 64) | static_cast<std::uint64_t>(p00);
  r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  return r;
}

// Bitwise long division; d must be below 2^127 so that the running remainder never overflows.
U256 divFull(U256 n, u128 d) {
  U256 q;
  u128 rem = 0;
  for (int i = 255; i >= 0; --i) {
    u128 bit = i >= 128 ? (n.hi >> (i - 128)) & 1 : (n.lo >> i) & 1;
    rem = (rem << 1) | bit;
    if (rem >= d) {
      rem -= d;
      if (i >= 128) {
        q.hi |= static_cast<u128>(1) << (i - 128);
      } else {
        q.lo |= static_cast<u128>(1) << i;
      }
    }
  }
  return q;
}

u128 magnitude(__int128 v) { return v < 0 ? static_cast<u128>(0) - static_cast<u128>(v) : static_cast<u128>(v); }

bool signedResult(U256 q, bool negative, __int128& out) {
  if (q.hi != 0 || q.lo > static_cast<u128>(kRange)) return false;
  out = negative ? -static_cast<__int128>(q.lo) : static_cast<__int128>(q.lo);
  return true;
}

}  // namespace

bool decMul(__int128 x, __int128 y, __int128& out) {
  U256 p = mulFull(magnitude(x), magnitude(y));
  return signedResult(divFull(p, static_cast<u128>(kOne)), (x < 0) != (y < 0), out);
}

bool decDiv(__int128 x, __int128 y, __int128& out, bool& divByZero) {
  divByZero = y == 0;
  if (divByZero) return false;
  U256 p = mulFull(magnitude(x), static_cast<u128>(kOne));
  return signedResult(divFull(p, magnitude(y)), (x < 0) != (y < 0), out);
}

namespace {

// ---- values -----------------------------------------------------------------------------

struct V {
  TypeKind k = TypeKind::Error;
  bool b = false;
  std::int64_t i = 0;  // Int; Duration and Time in ms; Enum index
  __int128 d = 0;      // Decimal units
  std::string s;       // String, Region, Country
  u128 addr = 0;       // Ip; Cidr network
  int prefix = 0;      // Cidr, 0..128 over IPv4-mapped addresses
  std::vector<V> elems;
};

struct Fail {
  vm::EvalError error;
  std::uint32_t slot;
};

[[noreturn]] void fail(vm::EvalError e, std::uint32_t slot = 0) { throw Fail{e, slot}; }
[[noreturn]] void broken(const std::string& why) { throw std::runtime_error("interpreter: " + why); }

V boolV(bool b) {
  V v;
  v.k = TypeKind::Bool;
  v.b = b;
  return v;
}
V intV(TypeKind k, std::int64_t i) {
  V v;
  v.k = k;
  v.i = i;
  return v;
}
V decV(__int128 d) {
  V v;
  v.k = TypeKind::Decimal;
  v.d = d;
  return v;
}

// ---- literal text, parsed here independently of engine/value ----------------------------

std::string digitsOnly(std::string_view t) {
  std::string out;
  for (char c : t)
    if (c != '_') out.push_back(c);
  return out;
}

std::int64_t parseIntText(std::string_view t) {
  bool neg = !t.empty() && t[0] == '-';
  std::string ds = digitsOnly(neg ? t.substr(1) : t);
  u128 v = 0;
  for (char c : ds) {
    if (c < '0' || c > '9') broken("bad int literal " + std::string(t));
    v = v * 10 + static_cast<u128>(c - '0');
  }
  if (v > static_cast<u128>(INT64_MAX) + (neg ? 1 : 0)) broken("int literal out of range");
  return neg ? static_cast<std::int64_t>(static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(v))
             : static_cast<std::int64_t>(v);
}

__int128 parseDecText(std::string_view t) {
  bool neg = !t.empty() && t[0] == '-';
  std::string ds = digitsOnly(neg ? t.substr(1) : t);
  auto dot = ds.find('.');
  std::string whole = dot == std::string::npos ? ds : ds.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : ds.substr(dot + 1);
  if (frac.size() > 18) broken("decimal with more than 18 places: " + std::string(t));
  frac.append(18 - frac.size(), '0');
  __int128 v = 0;
  for (char c : whole + frac) {
    if (c < '0' || c > '9') broken("bad decimal " + std::string(t));
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

std::int64_t parseDurText(std::string_view t) {
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < t.size()) {
    std::int64_t n = 0;
    std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') n = n * 10 + (t[i++] - '0');
    if (i == start) broken("bad duration " + std::string(t));
    std::int64_t unit;
    if (t.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else {
      switch (i < t.size() ? t[i] : '?') {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 86400 * 1000; break;
        default: broken("bad duration unit in " + std::string(t));
      }
      ++i;
    }
    total += n * unit;
  }
  return total;
}

// Days since 1970-01-01 of a proleptic Gregorian date, counting day by day per year.
std::int64_t daysSinceEpoch(int y, int m, int d) {
  auto leap = [](int yy) { return (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0; };
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  std::int64_t days = 0;
  if (y >= 1970) {
    for (int yy = 1970; yy < y; ++yy) days += leap(yy) ? 366 : 365;
  } else {
    for (int yy = y; yy < 1970; ++yy) days -= leap(yy) ? 366 : 365;
  }
  for (int mm = 1; mm < m; ++mm) days += mdays[mm - 1] + (mm == 2 && leap(y) ? 1 : 0);
  return days + d - 1;
}

// "YYYY-MM-DD", "YYYY-MM-DDTHH:MMZ", "YYYY-MM-DDTHH:MM:SSZ" -> ms since the epoch.
std::int64_t parseTimeText(std::string_view t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::string str(t);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &s) == 6 ||
      std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2dZ", &y, &mo, &d, &h, &mi) == 5 ||
      std::sscanf(str.c_str(), "%4d-%2d-%2d", &y, &mo, &d) == 3) {
    return ((daysSinceEpoch(y, mo, d) * 24 + h) * 60 + mi) * 60 * 1000 + s * 1000LL;
  }
  broken("bad time " + str);
}

u128 parseIpText(const std::string& t) {
  unsigned char buf[16] = {};
  unsigned a, b, c, d;
  char tail;
  if (t.find(':') == std::string::npos) {
    if (std::sscanf(t.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
      broken("bad ipv4 " + t);
    return (static_cast<u128>(0xFFFF) << 32) | (a << 24) | (b << 16) | (c << 8) | d;
  }
  if (inet_pton(AF_INET6, t.c_str(), buf) != 1) broken("bad ipv6 " + t);
  u128 v = 0;
  for (unsigned char x : buf) v = (v << 8) | x;
  return v;
}

V parseCidrText(const std::string& t) {
  auto slash = t.find('/');
  if (slash == std::string::npos) broken("bad cidr " + t);
  V v;
  v.k = TypeKind::Cidr;
  v.addr = parseIpText(t.substr(0, slash));
  v.prefix = std::stoi(t.substr(slash + 1)) + (t.find(':') == std::string::npos ? 96 : 0);
  return v;
}

bool contains(const V& cidr, u128 ip) {
  if (cidr.prefix == 0) return true;
  u128 mask = ~static_cast<u128>(0) << (128 - cidr.prefix);
  return (ip & mask) == (cidr.addr & mask);
}

// ---- the interpreter ---------------------------------------------------------------------

class Interp {
 public:
  Interp(const Program& p, const json& in) : p_(p), s_(p.schema), in_(in) {}

  DecisionView run();

 private:
  const Program& p_;
  const Schema& s_;
  const json& in_;
  std::int64_t product_ = -1;

  // decision state, per cell [action][product]
  struct Cell {
    bool permitted = false, denied = false;
    std::int32_t denyRule = -1;
    std::vector<std::optional<__int128>> limits;
    std::int64_t aal = 0, authAge = -1;
  };
  std::vector<std::vector<Cell>> cells_;
  std::optional<std::int64_t> ttl_;

  std::size_t cellsOf(std::size_t a) const { return s_.actionHasProducts[a] ? s_.productCount() : 1; }

  // -- input values --
  V fromJson(const Type& t, const json& j) const {
    switch (t.kind) {
      case TypeKind::Bool: return boolV(j.get<bool>());
      case TypeKind::Int: return intV(TypeKind::Int, j.get<std::int64_t>());
      case TypeKind::Decimal: return decV(parseDecText(j.is_string() ? j.get<std::string>() : j.dump()));
      case TypeKind::String:
      case TypeKind::Region:
      case TypeKind::Country: {
        V v;
        v.k = t.kind;
        v.s = j.get<std::string>();
        return v;
      }
      case TypeKind::Ip: {
        V v;
        v.k = TypeKind::Ip;
        v.addr = parseIpText(j.get<std::string>());
        return v;
      }
      case TypeKind::Cidr: return parseCidrText(j.get<std::string>());
      case TypeKind::Time:
        return intV(TypeKind::Time, j.is_number() ? j.get<std::int64_t>() * 1000 : parseTimeText(j.get<std::string>()));
      case TypeKind::Duration:
        return intV(TypeKind::Duration, j.is_number() ? j.get<std::int64_t>() * 1000 : parseDurText(j.get<std::string>()));
      case TypeKind::Enum: {
        const auto& vals = s_.enums[t.enumId].values;
        auto it = std::find(vals.begin(), vals.end(), j.get<std::string>());
        if (it == vals.end()) broken("bad enum value in input");
        return intV(TypeKind::Enum, it - vals.begin());
      }
      case TypeKind::Set: {
        V v;
        v.k = TypeKind::Set;
        for (const auto& x : j) v.elems.push_back(fromJson(t.element(), x));
        return v;
      }
      default: broken("unexpected attribute type");
    }
  }

  // -- typing --
  static V coerce(V v, const Type& t) {
    if (t.kind == TypeKind::Decimal && v.k == TypeKind::Int) return decV(static_cast<__int128>(v.i) * kOne);
    if (t.kind == TypeKind::Set && t.elem == TypeKind::Decimal)
      for (auto& e : v.elems) e = coerce(std::move(e), Type::of(TypeKind::Decimal));
    return v;
  }

  static bool equal(const V& x, const V& y) {
    if (x.k == TypeKind::Decimal || y.k == TypeKind::Decimal) {
      return coerce(x, Type::of(TypeKind::Decimal)).d == coerce(y, Type::of(TypeKind::Decimal)).d;
    }
    switch (x.k) {
      case TypeKind::Bool: return x.b == y.b;
      case TypeKind::String:
      case TypeKind::Region:
      case TypeKind::Country: return x.s == y.s;
      case TypeKind::Ip: return x.addr == y.addr;
      case TypeKind::Int:
      case TypeKind::Duration:
      case TypeKind::Time:
      case TypeKind::Enum: return x.i == y.i;
      default: broken("equality on an unexpected kind");
    }
  }

  static int order(const V& x, const V& y) {
    if (x.k == TypeKind::Decimal || y.k == TypeKind::Decimal) {
      __int128 a = coerce(x, Type::of(TypeKind::Decimal)).d, b = coerce(y, Type::of(TypeKind::Decimal)).d;
      return a < b ? -1 : a > b;
    }
    return x.i < y.i ? -1 : x.i > y.i;
  }

  // Membership of x in one element: equality, or containment for an address in a block.
  static bool memberOf(const V& x, const V& elem) {
    if (elem.k == TypeKind::Cidr) return contains(elem, x.addr);
    return equal(x, elem);
  }

  bool truth(const Expr& e) { return eval(e).b; }

  V eval(const Expr& e) { return coerce(evalRaw(e), e.type); }

  V evalRaw(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Int: return intV(TypeKind::Int, parseIntText(e.text));
      case ExprKind::Decimal: return decV(parseDecText(e.text));
      case ExprKind::Duration: return intV(TypeKind::Duration, parseDurText(e.text));
      case ExprKind::Time: return intV(TypeKind::Time, parseTimeText(e.text));
      case ExprKind::Bool: return boolV(e.text == "true");
      case ExprKind::String:
      case ExprKind::Region: {
        V v;
        v.k = e.kind == ExprKind::String ? TypeKind::String : TypeKind::Region;
        v.s = e.text;
        return v;
      }
      case ExprKind::Ip: {
        V v;
        v.k = TypeKind::Ip;
        v.addr = parseIpText(e.text);
        return v;
      }
      case ExprKind::Cidr: return parseCidrText(e.text);
      case ExprKind::Paren: return eval(*e.kids[0]);
      case ExprKind::Product: return intV(TypeKind::Enum, product_);
      case ExprKind::Name:
        switch (e.ref) {
          case ast::Ref::Const: return eval(*e.constRef->value);
          case ast::Ref::EnumValue: return intV(TypeKind::Enum, e.enumValue);
          case ast::Ref::Country: {
            V v;
            v.k = TypeKind::Country;
            v.s = e.text;
            return v;
          }
          default:
            if (e.text != "now") broken("unresolved name " + e.text);
            if (!in_.contains("now")) fail(vm::EvalError::NoNow);
            return fromJson(Type::of(TypeKind::Time), in_["now"]);
        }
      case ExprKind::Attr:
      case ExprKind::Has: {
        const AttrInfo* a = s_.findAttr(e.section, e.text);
        bool present = in_.contains(e.section) && in_[e.section].contains(e.text) && !in_[e.section][e.text].is_null();
        if (e.kind == ExprKind::Has) return boolV(present);
        if (!present) fail(vm::EvalError::Absent, static_cast<std::uint32_t>(a->slot));
        return fromJson(a->type, in_[e.section][e.text]);
      }
      case ExprKind::Set: {
        V v;
        v.k = TypeKind::Set;
        for (const auto& k : e.kids) v.elems.push_back(eval(*k));
        return v;
      }
      case ExprKind::Match: {
        V subject = eval(*e.kids[0]);
        const ast::MatchArm* fallback = nullptr;
        for (const auto& arm : e.arms) {
          for (const auto& pat : arm.patterns) {
            if (pat.isDefault) {
              fallback = &arm;
              continue;
            }
            if (equal(subject, eval(*pat.value))) return eval(*arm.result);
          }
        }
        if (fallback == nullptr) broken("match without default");
        return eval(*fallback->result);
      }
      case ExprKind::Unary: {
        V x = eval(*e.kids[0]);
        if (e.unop == ast::UnOp::Not) return boolV(!x.b);
        if (x.k == TypeKind::Decimal) return decV(-x.d);
        if (x.i == INT64_MIN) fail(vm::EvalError::Overflow);
        return intV(x.k, -x.i);
      }
      case ExprKind::Binary: return binary(e);
    }
    broken("unknown expression kind");
  }

  V binary(const Expr& e) {
    using B = ast::BinOp;
    const Expr& l = *e.kids[0];
    const Expr& r = *e.kids[1];
    switch (e.binop) {
      case B::And: return boolV(truth(l) && truth(r));
      case B::Or: return boolV(truth(l) || truth(r));
      case B::Eq:
      case B::Ne: {
        V x = eval(l), y = eval(r);
        return boolV(equal(x, y) == (e.binop == B::Eq));
      }
      case B::Lt:
      case B::Le:
      case B::Gt:
      case B::Ge: {
        V x = eval(l), y = eval(r);
        int c = order(x, y);
        return boolV(e.binop == B::Lt ? c < 0 : e.binop == B::Le ? c <= 0 : e.binop == B::Gt ? c > 0 : c >= 0);
      }
      case B::In:
      case B::NotIn: {
        V x = eval(l);
        const Expr* rs = &r;
        while (rs->kind == ExprKind::Paren) rs = rs->kids[0].get();
        bool found = false;
        if (rs->kind == ExprKind::Set) {
          // Elements left to right, stopping at the first member (like `x == a or x == b`).
          for (const auto& k : rs->kids) {
            if (memberOf(x, eval(*k))) {
              found = true;
              break;
            }
          }
        } else {
          V set = eval(r);
          if (set.k == TypeKind::Cidr) {
            found = contains(set, x.addr);
          } else {
            for (const auto& el : set.elems) found = found || memberOf(x, el);
          }
        }
        return boolV(found == (e.binop == B::In));
      }
      default: break;
    }
    V x = eval(l), y = eval(r);
    if (e.type.kind == TypeKind::Decimal) {
      __int128 a = coerce(x, e.type).d, b = coerce(y, e.type).d, z = 0;
      bool ok = true, div0 = false;
      switch (e.binop) {
        case B::Add: ok = !__builtin_add_overflow(a, b, &z) && z <= kRange && z >= -kRange; break;
        case B::Sub: ok = !__builtin_sub_overflow(a, b, &z) && z <= kRange && z >= -kRange; break;
        case B::Mul: ok = decMul(a, b, z); break;
        default: ok = decDiv(a, b, z, div0); break;
      }
      if (div0) fail(vm::EvalError::DivideByZero);
      if (!ok) fail(vm::EvalError::Overflow);
      return decV(z);
    }
    // int, duration (ms) and time (ms): one 64-bit integer each
    std::int64_t a = x.i, b = y.i, z = 0;
    bool bad = false;
    switch (e.binop) {
      case B::Add: bad = __builtin_add_overflow(a, b, &z); break;
      case B::Sub: bad = __builtin_sub_overflow(a, b, &z); break;
      case B::Mul: bad = __builtin_mul_overflow(a, b, &z); break;
      default:
        if (b == 0) fail(vm::EvalError::DivideByZero);
        bad = a == INT64_MIN && b == -1;
        if (!bad) z = a / b;
        break;
    }
    if (bad) fail(vm::EvalError::Overflow);
    return intV(e.type.kind, z);
  }

  static bool readsProduct(const Expr* e) {
    if (e == nullptr) return false;
    if (e->kind == ExprKind::Product) return true;
    if (e->kind == ExprKind::Name && e->ref == ast::Ref::Const && readsProduct(e->constRef->value.get())) return true;
    for (const auto& k : e->kids)
      if (readsProduct(k.get())) return true;
    for (const auto& arm : e->arms) {
      if (readsProduct(arm.result.get())) return true;
      for (const auto& pat : arm.patterns)
        if (readsProduct(pat.value.get())) return true;
    }
    return false;
  }

  // The cells a rule covers: (action, product) pairs.
  std::vector<std::pair<std::size_t, std::size_t>> targetCells(const ast::Rule& r) const {
    std::vector<bool> actions(s_.actions.size(), false);
    std::vector<bool> products(std::max<std::size_t>(1, s_.productCount()), true);
    if (r.target) {
      // `all` is every action; `all on ...` only the actions that have product classes.
      if (r.target->allActions)
        for (std::size_t a = 0; a < actions.size(); ++a) actions[a] = !r.target->hasProducts || s_.actionHasProducts[a];
      for (const auto& a : r.target->actions) actions[s_.findAction(a.text)] = true;
      if (r.target->hasProducts && !r.target->allProducts) {
        products.assign(products.size(), false);
        for (const auto& pr : r.target->products) products[s_.findProduct(pr.text)] = true;
      }
    } else {
      actions.assign(actions.size(), true);
    }
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t a = 0; a < actions.size(); ++a) {
      if (!actions[a]) continue;
      if (!s_.actionHasProducts[a]) {
        out.emplace_back(a, 0);
        continue;
      }
      for (std::size_t p = 0; p < s_.productCount(); ++p)
        if (products[p]) out.emplace_back(a, p);
    }
    return out;
  }

  void deny(std::size_t a, std::size_t p, std::int32_t rule) {
    Cell& c = cells_[a][p];
    if (!c.denied) c.denyRule = rule;
    c.denied = true;
  }

  struct Applied {
    std::vector<vm::Outcome> outcome;
    std::vector<ErrorView> errors;
  };

  void rule(const ast::Rule& r, std::uint32_t index, Applied& out) {
    auto all = targetCells(r);
    bool perProduct = readsProduct(r.when.get()) || readsProduct(r.value.get());
    std::vector<std::pair<std::int64_t, std::vector<std::pair<std::size_t, std::size_t>>>> passes;
    if (perProduct) {
      for (std::size_t p = 0; p < s_.productCount(); ++p) {
        std::vector<std::pair<std::size_t, std::size_t>> cs;
        for (auto c : all)
          if (c.second == p) cs.push_back(c);
        if (!cs.empty()) passes.emplace_back(static_cast<std::int64_t>(p), cs);
      }
    } else {
      passes.emplace_back(-1, all);
    }
    for (auto& [product, cs] : passes) {
      product_ = product;
      V value;
      try {
        if (r.when && !truth(*r.when)) continue;
        if (r.value) {
          Type want = r.value->type;
          if (r.kind == ast::RuleKind::Limit) want = s_.limits[s_.findLimit(r.limitName.text)].type;
          value = coerce(eval(*r.value), want);
        }
      } catch (const Fail& f) {
        out.errors.push_back(ErrorView{index, f.error, f.error == vm::EvalError::Absent ? f.slot : 0});
        out.outcome[index] = vm::Outcome::Errored;
        if (r.kind != ast::RuleKind::Permit)
          for (auto [a, p] : cs) deny(a, p, static_cast<std::int32_t>(index));
        continue;
      }
      if (out.outcome[index] != vm::Outcome::Errored) out.outcome[index] = vm::Outcome::Fired;
      switch (r.kind) {
        case ast::RuleKind::Permit:
          for (auto [a, p] : cs) cells_[a][p].permitted = true;
          break;
        case ast::RuleKind::Deny:
          for (auto [a, p] : cs) deny(a, p, static_cast<std::int32_t>(index));
          break;
        case ast::RuleKind::Limit: {
          int li = s_.findLimit(r.limitName.text);
          __int128 v = value.k == TypeKind::Decimal ? value.d : value.i;
          for (auto [a, p] : cs) {
            auto& slot = cells_[a][p].limits[li];
            if (!slot || v < *slot) slot = v;
          }
          break;
        }
        case ast::RuleKind::Require:
          for (auto [a, p] : cs) {
            Cell& c = cells_[a][p];
            if (r.limitName.text == "aal") {
              c.aal = std::max(c.aal, value.i);
            } else {
              std::int64_t v = std::max<std::int64_t>(0, value.i);
              c.authAge = c.authAge < 0 ? v : std::min(c.authAge, v);
            }
          }
          break;
        case ast::RuleKind::CapTtl: {
          std::int64_t v = std::max<std::int64_t>(0, value.i);
          ttl_ = ttl_ ? std::min(*ttl_, v) : v;
          break;
        }
      }
    }
  }
};

DecisionView Interp::run() {
  cells_.assign(s_.actions.size(), {});
  for (std::size_t a = 0; a < s_.actions.size(); ++a) {
    cells_[a].resize(cellsOf(a));
    for (auto& c : cells_[a]) c.limits.assign(s_.limits.size(), std::nullopt);
  }
  std::vector<const ast::Rule*> rules;
  for (const auto& f : p_.files)
    for (const auto& item : f.items)
      if (const auto* pol = std::get_if<ast::Policy>(&item))
        for (const auto& r : pol->rules) rules.push_back(&r);
  Applied applied;
  applied.outcome.assign(rules.size(), vm::Outcome::NotApplicable);
  for (std::uint32_t i = 0; i < rules.size(); ++i) rule(*rules[i], i, applied);

  DecisionView v;
  for (std::size_t a = 0; a < s_.actions.size(); ++a) {
    for (std::size_t p = 0; p < cellsOf(a); ++p) {
      const Cell& c = cells_[a][p];
      CellView cv;
      cv.action = a;
      cv.product = p;
      cv.permitted = c.permitted;
      cv.denied = c.denied;
      cv.denyRule = c.denyRule;
      cv.limits = c.limits;
      cv.aal = c.aal;
      cv.authAgeMs = c.authAge;
      v.cells.push_back(std::move(cv));
    }
  }
  v.ttlCapMs = ttl_ ? *ttl_ : -1;
  v.outcome = applied.outcome;
  v.errors = applied.errors;  // all of them: the VM keeps at most 32
  return v;
}

}  // namespace

DecisionView interpret(const Program& program, const json& input) { return Interp(program, input).run(); }

}  // namespace vmtest::diff
