#include "diff/gen.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace vmtest::diff {

using nlohmann::json;

// ---- trees ---------------------------------------------------------------------------------

NodePtr Node::clone() const {
  auto n = std::make_unique<Node>();
  n->type = type;
  n->fmt = fmt;
  for (const auto& k : kids) n->kids.push_back(k->clone());
  return n;
}

std::string Node::render() const {
  std::string out;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '$' && i + 1 < fmt.size() && fmt[i + 1] >= '0' && fmt[i + 1] <= '9') {
      out += kids[static_cast<std::size_t>(fmt[i + 1] - '0')]->render();
      ++i;
    } else {
      out.push_back(fmt[i]);
    }
  }
  return out;
}

std::size_t Node::size() const {
  std::size_t n = 1;
  for (const auto& k : kids) n += k->size();
  return n;
}

namespace {

NodePtr make(T t, std::string fmt, std::vector<NodePtr> kids = {}) {
  auto n = std::make_unique<Node>();
  n->type = t;
  n->fmt = std::move(fmt);
  n->kids = std::move(kids);
  return n;
}

template <class... P>
std::vector<NodePtr> list(P... p) {
  std::vector<NodePtr> v;
  (v.push_back(std::move(p)), ...);
  return v;
}

const char* kCategories[] = {"retail", "professional", "ecp"};
const char* kAllProducts[] = {"spot", "margin", "future", "option", "swap"};
const char* kActions[] = {"read", "trade", "withdraw"};

struct PoolAttr {
  const char* section;
  const char* name;
  const char* typeText;
  T type;
  bool isSet;
  bool isCidr;
};

const PoolAttr kPool[] = {
    {"subject", "tier", "int", T::Int, false, false},
    {"subject", "nw", "decimal", T::Dec, false, false},
    {"subject", "cat", "Category", T::Cat, false, false},
    {"subject", "res", "country", T::Country, false, false},
    {"subject", "approp", "set<PC>", T::PC, true, false},
    {"subject", "fav", "PC", T::PC, false, false},
    {"subject", "region", "region", T::Region, false, false},
    {"subject", "lei", "string", T::Str, false, false},
    {"subject", "onboarded", "time", T::Time, false, false},
    {"subject", "us", "bool", T::Bool, false, false},
    {"subject", "countries", "set<country>", T::Country, true, false},
    {"client", "label", "string", T::Str, false, false},
    {"client", "allow", "set<cidr>", T::Ip, true, true},
    {"client", "net", "cidr", T::Ip, false, true},
    {"request", "ip", "ip", T::Ip, false, false},
    {"request", "scopes", "set<string>", T::Str, true, false},
    {"request", "aal", "int", T::Int, false, false},
    {"request", "auth_age", "duration", T::Dur, false, false},
    {"request", "country", "country", T::Country, false, false},
    {"risk", "score", "int", T::Int, false, false},
    {"risk", "factor", "decimal", T::Dec, false, false},
    {"risk", "flag", "bool", T::Bool, false, false},
    {"risk", "since", "time", T::Time, false, false},
    {"risk", "big", "int", T::Int, false, false},
    {"subject", "tiers", "set<int>", T::Int, true, false},
    {"risk", "levels", "set<decimal>", T::Dec, true, false},
    {"request", "ips", "set<ip>", T::Ip, true, false},
    {"request", "windows", "set<duration>", T::Dur, true, false},
};

const char* kConsts = R"(const K_INT = 7
const K_DEC: decimal = 5
const K_DEC2 = 0.1 + 0.2
const K_DUR = 1h + 30m
const K_TIME = 2024-01-01T00:00Z + 1d
const K_TIME2 = 2024-01-01T00:00Z + 1500ms
const K_CSET = {GB, US, FR}
const K_SSET = {"trade", "admin"}
const K_NETS = {10.0.0.0/8, "2001:db8::/32"}
)";

// Literal text per type, as written in policies.
const std::vector<std::string> kIntLits = {"0", "1", "2", "3", "5", "100", "1_000", "9223372036854775807",
                                           "4611686018427387904", "3037000500", "K_INT"};
const std::vector<std::string> kDecLits = {"0.1", "0.2", "0.3", "2.5", "0.5", "1.0", "0.000000000000000001",
                                           "99999999999999999999.5", "12345.678901234567", "3.0", "K_DEC", "K_DEC2"};
const std::vector<std::string> kDurLits = {"500ms", "15m", "1h30m", "7d", "30d", "1h", "0s", "K_DUR"};
const std::vector<std::string> kTimeLits = {"2024-01-01", "2024-06-30T12:00Z", "2025-01-01T00:00:00Z", "2030-01-01",
                                            "now", "now", "K_TIME", "K_TIME2"};
const std::vector<std::string> kCountryLits = {"GB", "US", "FR", "DE", "IR"};
const std::vector<std::string> kStrLits = {"\"trade\"", "\"read\"", "\"\"", "\"admin\"", "\"x y\""};
const std::vector<std::string> kRegionLits = {"UA-43", "US-CA", "GB-ENG"};
const std::vector<std::string> kIpLits = {"10.1.2.3", "8.8.8.8", "192.168.1.7"};
const std::vector<std::string> kIp6Lits = {"\"2001:db8::5\"", "\"2001:db9::1\""};
const std::vector<std::string> kCidrLits = {"10.0.0.0/8", "192.168.0.0/16", "\"2001:db8::/32\"", "10.1.2.3/32",
                                            "0.0.0.0/0", "\"fd00::/8\""};
const std::vector<std::int64_t> kIntPatterns = {-1, 0, 1, 2, 3, 5, 100};

// Request values.
const std::vector<std::int64_t> kIntValues = {0, 1, 2, 3, -1, 5, 7, 100, 1000, INT64_MAX, INT64_MIN,
                                              4611686018427387904LL, 3037000500LL, -3037000500LL, 2147483648LL};
const std::vector<std::string> kDecValues = {"0", "0.1", "0.2", "0.3", "2.5", "-2.5", "1", "3", "0.000000000000000001",
                                             "-0.000000000000000009", "99999999999999999999.999999999999999999",
                                             "-99999999999999999999", "50000000000000000000", "12345.678901234567",
                                             "0.333333333333333333", "1000000", "7", "5"};
const std::vector<std::string> kIpValues = {"10.1.2.3", "192.168.1.7", "2001:db8::5", "2001:db9::1", "8.8.8.8", "10.0.0.1",
                                            "fd00::1"};
const std::vector<std::string> kCidrValues = {"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "10.1.2.3/32", "0.0.0.0/0",
                                              "fd00::/8", "8.8.8.0/24"};

}  // namespace

GenRule GenRule::clone() const {
  GenRule r;
  r.kind = kind;
  r.limit = limit;
  r.target = target;
  if (value) r.value = value->clone();
  if (cond) r.cond = cond->clone();
  return r;
}

std::string GenRule::render() const {
  std::string out;
  std::string forTarget = target.empty() ? "" : " for " + target;
  switch (kind) {
    case Permit: out = "permit " + target; break;
    case Deny: out = "deny " + target; break;
    case Limit: out = "limit " + limit + " = " + value->render() + forTarget; break;
    case RequireAal: out = "require aal >= " + value->render() + forTarget; break;
    case RequireAuthAge: out = "require auth_age <= " + value->render() + forTarget; break;
    case CapTtl: out = "cap ttl " + value->render(); break;
  }
  if (cond) out += " when " + cond->render();
  if (kind == Deny) out += " because \"generated\"";
  return out + ";";
}

GenProgram GenProgram::clone() const {
  GenProgram p;
  p.products = products;
  p.actions = actions;
  p.actionHasProducts = actionHasProducts;
  p.attrs = attrs;
  for (const auto& pol : policies) {
    std::vector<GenRule> rs;
    for (const auto& r : pol) rs.push_back(r.clone());
    p.policies.push_back(std::move(rs));
  }
  return p;
}

std::size_t GenProgram::ruleCount() const {
  std::size_t n = 0;
  for (const auto& pol : policies) n += pol.size();
  return n;
}

std::string GenProgram::render() const {
  std::string out = "schema {\n  enum Category { retail, professional, ecp }\n  enum PC {";
  for (std::size_t i = 0; i < products.size(); ++i) out += (i ? ", " : " ") + products[i];
  out += " }\n  actions { read, trade, withdraw }\n  products PC";
  if (std::find(actionHasProducts.begin(), actionHasProducts.end(), false) != actionHasProducts.end()) {
    std::string on;
    for (std::size_t a = 0; a < actions.size(); ++a)
      if (actionHasProducts[a]) on += (on.empty() ? " on " : ", ") + actions[a];
    out += on;
  }
  out += "\n";
  for (const char* sec : {"subject", "client", "request", "risk"}) {
    std::string body;
    for (const auto& a : attrs)
      if (a.section == sec) body += std::string("  ") + (a.optional ? "optional " : "") + a.name + ": " + a.typeText;
    if (!body.empty()) out += std::string("  ") + sec + " {" + body + " }\n";
  }
  out += "  limits { lev: decimal  notional: int  window: duration }\n}\n";
  out += kConsts;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    out += "policy p" + std::to_string(i + 1) + " \"Policy " + std::to_string(i + 1) + "\" {\n";
    for (const auto& r : policies[i]) out += "  " + r.render() + "\n";
    out += "}\n";
  }
  return out;
}

// ---- generation ------------------------------------------------------------------------------

std::vector<const GenAttr*> Generator::attrsOf(T t, bool set) const {
  std::vector<const GenAttr*> out;
  for (const auto& a : prog_->attrs) {
    bool isCollection = a.isSet || a.isCidr;
    if (a.type == t && isCollection == set) out.push_back(&a);
  }
  return out;
}

NodePtr Generator::simplest(T t, const GenProgram& p) {
  switch (t) {
    case T::Bool: return make(t, "true");
    case T::Int: return make(t, "1");
    case T::Dec: return make(t, "1.5");
    case T::Dur: return make(t, "1h");
    case T::Time: return make(t, "2024-01-01");
    case T::Cat: return make(t, "retail");
    case T::PC: return make(t, p.products[0]);
    case T::Country: return make(t, "GB");
    case T::Str: return make(t, "\"a\"");
    case T::Region: return make(t, "UA-43");
    case T::Ip: return make(t, "10.0.0.1");
  }
  return make(t, "true");
}

NodePtr Generator::leaf(T t) {
  auto attrs = attrsOf(t, false);
  if (!attrs.empty() && chance(55)) return make(t, pick(attrs)->ref());
  if (t == T::PC && productOk_ && chance(60)) return make(t, "product");
  return literal(t);
}

NodePtr Generator::literal(T t) {
  switch (t) {
    case T::Bool: return make(t, chance(50) ? "true" : "false");
    case T::Int: return make(t, pick(kIntLits));
    case T::Dec: return make(t, pick(kDecLits));
    case T::Dur: return make(t, pick(kDurLits));
    case T::Time: return make(t, pick(kTimeLits));
    case T::Cat: return make(t, pick(kCategories));
    case T::PC: return make(t, pick(prog_->products));
    case T::Country: return make(t, pick(kCountryLits));
    case T::Str: return make(t, pick(kStrLits));
    case T::Region: return make(t, pick(kRegionLits));
    case T::Ip: return make(t, pick(kIpLits));
  }
  return make(t, "true");
}

NodePtr Generator::gen(T t, int depth) {
  if (depth <= 0) return leaf(t);
  switch (t) {
    case T::Bool: return genBool(depth);
    case T::Int:
    case T::Dec:
    case T::Dur:
    case T::Time: {
      int r = static_cast<int>(below(100));
      if (r < 45) return genArith(t, depth);
      if (r < 60) return genMatch(t, depth);
      return leaf(t);
    }
    default:
      if (chance(20)) return genMatch(t, depth);
      return leaf(t);
  }
}

NodePtr Generator::genArith(T t, int depth) {
  static const char* ops[] = {"+", "-", "*", "/"};
  switch (t) {
    case T::Int:
      if (chance(10)) return make(t, "(-$0)", list(gen(T::Int, depth - 1)));
      return make(t, std::string("($0 ") + pick(ops) + " $1)", list(gen(T::Int, depth - 1), gen(T::Int, depth - 1)));
    case T::Dec: {
      if (chance(10)) return make(t, "(-$0)", list(gen(T::Dec, depth - 1)));
      int shape = static_cast<int>(below(3));
      T l = shape == 1 ? T::Int : T::Dec, r = shape == 2 ? T::Int : T::Dec;
      return make(t, std::string("($0 ") + pick(ops) + " $1)", list(gen(l, depth - 1), gen(r, depth - 1)));
    }
    case T::Dur:
      switch (below(7)) {
        case 0: return make(t, "($0 + $1)", list(gen(T::Dur, depth - 1), gen(T::Dur, depth - 1)));
        case 1: return make(t, "($0 - $1)", list(gen(T::Dur, depth - 1), gen(T::Dur, depth - 1)));
        case 2: return make(t, "($0 * $1)", list(gen(T::Dur, depth - 1), gen(T::Int, depth - 1)));
        case 3: return make(t, "($0 * $1)", list(gen(T::Int, depth - 1), gen(T::Dur, depth - 1)));
        case 4: return make(t, "($0 / $1)", list(gen(T::Dur, depth - 1), gen(T::Int, depth - 1)));
        case 5: return make(t, "($0 - $1)", list(gen(T::Time, depth - 1), gen(T::Time, depth - 1)));
        default: return make(t, "(-$0)", list(gen(T::Dur, depth - 1)));
      }
    case T::Time:
      switch (below(3)) {
        case 0: return make(t, "($0 + $1)", list(gen(T::Time, depth - 1), gen(T::Dur, depth - 1)));
        case 1: return make(t, "($0 + $1)", list(gen(T::Dur, depth - 1), gen(T::Time, depth - 1)));
        default: return make(t, "($0 - $1)", list(gen(T::Time, depth - 1), gen(T::Dur, depth - 1)));
      }
    default: return leaf(t);
  }
}

NodePtr Generator::genMatchOn(const std::string& subject, T result, int depth) { return genMatch(result, depth, subject); }

NodePtr Generator::genMatch(T result, int depth, const std::string& forced) {
  // Subject: an int, a Category or a product class.
  int kind = forced.empty() ? static_cast<int>(below(3)) : 2;
  std::vector<std::string> pool;
  NodePtr subject;
  if (kind == 0) {
    subject = gen(T::Int, depth - 1);
    for (auto v : kIntPatterns) pool.push_back(std::to_string(v));
  } else if (kind == 1) {
    subject = gen(T::Cat, depth - 1);
    pool.assign(std::begin(kCategories), std::end(kCategories));
  } else {
    subject = forced.empty() ? gen(T::PC, depth - 1) : make(T::PC, forced);
    pool = prog_->products;
  }
  std::shuffle(pool.begin(), pool.end(), rng_);
  std::size_t arms = 1 + below(3), used = 0;
  std::vector<NodePtr> kids;
  kids.push_back(std::move(subject));
  std::string fmt = "match $0 {";
  for (std::size_t a = 0; a < arms && used < pool.size(); ++a) {
    std::size_t pats = 1 + below(2);
    std::string arm;
    for (std::size_t k = 0; k < pats && used < pool.size(); ++k) arm += (k ? " | " : "") + pool[used++];
    // Decimal results may mix in int arms after the first (promoted).
    T rt = result == T::Dec && a > 0 && chance(30) ? T::Int : result;
    kids.push_back(gen(rt, depth - 1));
    fmt += " " + arm + " => $" + std::to_string(kids.size() - 1) + ",";
  }
  kids.push_back(gen(result, depth - 1));
  fmt += " _ => $" + std::to_string(kids.size() - 1) + " }";
  return make(result, fmt, std::move(kids));
}

NodePtr Generator::genIn(int depth) {
  static const T kElemTypes[] = {T::Int, T::Dec, T::Country, T::Str, T::Region, T::Cat, T::PC, T::Dur, T::Time, T::Ip};
  const char* op = chance(30) ? " not in " : " in ";
  int form = static_cast<int>(below(4));
  // A set-valued (or cidr) attribute.
  if (form == 0) {
    std::vector<const GenAttr*> sets;
    for (const auto& a : prog_->attrs)
      if (a.isSet || a.isCidr) sets.push_back(&a);
    if (!sets.empty()) {
      const GenAttr* a = pick(sets);
      NodePtr l = a->type == T::Ip ? leaf(T::Ip) : gen(a->type, depth - 1);
      return make(T::Bool, std::string("($0") + op + a->ref() + ")", list(std::move(l)));
    }
  }
  // A named constant set.
  if (form == 1) {
    switch (below(3)) {
      case 0: return make(T::Bool, std::string("($0") + op + "K_CSET)", list(gen(T::Country, depth - 1)));
      case 1: return make(T::Bool, std::string("($0") + op + "K_SSET)", list(gen(T::Str, depth - 1)));
      default: return make(T::Bool, std::string("($0") + op + "K_NETS)", list(leaf(T::Ip)));
    }
  }
  T e = pick(kElemTypes);
  NodePtr l = e == T::Ip ? leaf(T::Ip) : gen(e, depth - 1);
  std::vector<NodePtr> kids;
  kids.push_back(std::move(l));
  std::string fmt = std::string("($0") + op + "{";
  std::size_t n = below(10) == 0 ? 0 : 1 + below(4);
  bool withAttrs = form == 3;
  for (std::size_t i = 0; i < n; ++i) {
    NodePtr el;
    if (e == T::Ip) {
      auto nets = attrsOf(T::Ip, true);
      std::vector<const GenAttr*> single;
      for (auto* a : nets)
        if (!a->isSet) single.push_back(a);
      el = withAttrs && !single.empty() && chance(50) ? make(T::Ip, pick(single)->ref()) : make(T::Ip, pick(kCidrLits));
    } else if (withAttrs) {
      el = leaf(e == T::Dec && chance(30) ? T::Int : e);
    } else {
      // Constant elements: literals and named constants only.
      T et = e == T::Dec && chance(30) ? T::Int : e;
      do {
        el = literal(et);
      } while (el->fmt == "now");
    }
    fmt += (i ? ", $" : "$") + std::to_string(kids.size());
    kids.push_back(std::move(el));
  }
  fmt += "})";
  return make(T::Bool, fmt, std::move(kids));
}

NodePtr Generator::genProductTest(int depth) {
  const char* op = chance(30) ? " not in " : " in ";
  switch (below(5)) {
    case 0:
    case 1: {
      std::string set;
      for (const auto& pr : prog_->products)
        if (chance(40)) set += (set.empty() ? "" : ", ") + pr;
      return make(T::Bool, std::string("(product") + op + "{" + set + "})");
    }
    case 2: {
      auto sets = attrsOf(T::PC, true);
      if (!sets.empty()) return make(T::Bool, std::string("(product") + op + pick(sets)->ref() + ")");
      return make(T::Bool, "(product == " + pick(prog_->products) + ")");
    }
    case 3: return make(T::Bool, std::string("(product") + (chance(50) ? " == " : " != ") + "$0)", list(gen(T::PC, depth - 1)));
    default:
      // A leading product test followed by more conditions (the compiler splits these).
      return make(T::Bool, "($0 and $1)", list(genProductTest(depth - 1), genBool(depth - 1)));
  }
}

NodePtr Generator::genBool(int depth) {
  static const char* ordOps[] = {"<", "<=", ">", ">="};
  if (productOk_ && chance(25)) {
    if (chance(50)) return genProductTest(depth);
    return make(T::Bool, "($0 and $1)", list(genBool(depth - 1), genProductTest(depth - 1)));
  }
  int r = static_cast<int>(below(100));
  if (r < 22) {
    static const T ord[] = {T::Int, T::Dec, T::Dur, T::Time};
    T t = pick(ord);
    return make(T::Bool, std::string("($0 ") + pick(ordOps) + " $1)", list(gen(t, depth - 1), gen(t, depth - 1)));
  }
  if (r < 40) {
    static const T eq[] = {T::Int, T::Dec, T::Bool, T::Cat, T::PC, T::Country, T::Str, T::Region, T::Dur, T::Time, T::Ip};
    T t = pick(eq);
    const char* op = chance(30) ? " != " : " == ";
    if (t == T::Ip) {
      NodePtr rhs = chance(30) ? make(T::Ip, pick(kIp6Lits)) : leaf(T::Ip);
      return make(T::Bool, std::string("($0") + op + "$1)", list(leaf(T::Ip), std::move(rhs)));
    }
    return make(T::Bool, std::string("($0") + op + "$1)", list(gen(t, depth - 1), gen(t, depth - 1)));
  }
  if (r < 55) {
    return make(T::Bool, chance(50) ? "($0 and $1)" : "($0 or $1)", list(genBool(depth - 1), genBool(depth - 1)));
  }
  if (r < 60) return make(T::Bool, "(not $0)", list(gen(T::Bool, depth - 1)));
  if (r < 78) return genIn(depth);
  if (r < 84) {
    const GenAttr& a = pick(prog_->attrs);
    return make(T::Bool, "(has " + a.ref() + ")");
  }
  if (r < 90) {
    // A guarded read of an optional attribute.
    std::vector<const GenAttr*> opt;
    for (const auto& a : prog_->attrs)
      if (a.optional) opt.push_back(&a);
    if (!opt.empty()) {
      const GenAttr* a = pick(opt);
      if (a->isSet || a->isCidr) {
        NodePtr l = a->type == T::Ip ? leaf(T::Ip) : leaf(a->type);
        return make(T::Bool, "(has " + a->ref() + " and ($0 in " + a->ref() + "))", list(std::move(l)));
      }
      return make(T::Bool, "(has " + a->ref() + " and (" + a->ref() + " == $0))", list(leaf(a->type)));
    }
  }
  if (r < 95) return genMatch(T::Bool, depth);
  return leaf(T::Bool);
}

std::string Generator::target(bool allowNone, bool& productOk) {
  const GenProgram& p = *prog_;
  bool everyHas = std::all_of(p.actionHasProducts.begin(), p.actionHasProducts.end(), [](bool b) { return b; });
  if (allowNone && chance(30)) {
    productOk = everyHas;
    return "";
  }
  std::string t;
  bool allHave = true;
  if (chance(20)) {
    t = "all";
    allHave = everyHas;
  } else {
    std::vector<std::size_t> acts;
    for (std::size_t a = 0; a < p.actions.size(); ++a)
      if (chance(50)) acts.push_back(a);
    if (acts.empty()) acts.push_back(below(p.actions.size()));
    for (std::size_t i = 0; i < acts.size(); ++i) {
      t += (i ? ", " : "") + p.actions[acts[i]];
      allHave = allHave && p.actionHasProducts[acts[i]];
    }
  }
  productOk = allHave;
  if (allHave || t == "all") {
    int r = static_cast<int>(below(100));
    if (r < 15) {
      t += " on all";
    } else if (r < 55) {
      std::vector<std::string> ps;
      for (const auto& pr : p.products)
        if (chance(50)) ps.push_back(pr);
      if (ps.empty()) ps.push_back(pick(p.products));
      t += " on ";
      for (std::size_t i = 0; i < ps.size(); ++i) t += (i ? ", " : "") + ps[i];
    }
  }
  return t;
}

GenProgram Generator::program() {
  GenProgram p;
  prog_ = &p;
  std::size_t np = 1 + below(5);
  p.products.assign(std::begin(kAllProducts), std::begin(kAllProducts) + static_cast<std::ptrdiff_t>(np));
  p.actions.assign(std::begin(kActions), std::end(kActions));
  p.actionHasProducts.assign(3, false);
  while (std::find(p.actionHasProducts.begin(), p.actionHasProducts.end(), true) == p.actionHasProducts.end())
    for (std::size_t a = 0; a < 3; ++a) p.actionHasProducts[a] = chance(50);
  for (const auto& pa : kPool) {
    if (!chance(65)) continue;
    GenAttr a;
    a.section = pa.section;
    a.name = pa.name;
    a.typeText = pa.typeText;
    a.type = pa.type;
    a.isSet = pa.isSet;
    a.isCidr = pa.isCidr;
    a.optional = chance(30);
    p.attrs.push_back(a);
  }
  if (p.attrs.empty()) {
    GenAttr a{"subject", "tier", "int", T::Int, false, false, false};
    p.attrs.push_back(a);
  }
  std::size_t policies = 1 + below(2);
  for (std::size_t pi = 0; pi < policies; ++pi) {
    std::vector<GenRule> rules;
    std::size_t n = 1 + below(6);
    for (std::size_t i = 0; i < n; ++i) {
      GenRule r;
      int k = static_cast<int>(below(100));
      r.kind = k < 30 ? GenRule::Permit
               : k < 55 ? GenRule::Deny
               : k < 75 ? GenRule::Limit
               : k < 83 ? GenRule::RequireAal
               : k < 90 ? GenRule::RequireAuthAge
                        : GenRule::CapTtl;
      bool productOk = false;
      if (r.kind != GenRule::CapTtl) r.target = target(r.kind != GenRule::Permit && r.kind != GenRule::Deny, productOk);
      productOk_ = productOk;
      int vd = static_cast<int>(below(3));
      switch (r.kind) {
        case GenRule::Limit: {
          static const char* limits[] = {"lev", "notional", "window"};
          r.limit = pick(limits);
          T t = r.limit == std::string("lev") ? (chance(20) ? T::Int : T::Dec)
                : r.limit == std::string("notional") ? T::Int
                                                    : T::Dur;
          // Values by product class: `match product { ... }`.
          r.value = productOk_ && chance(30) ? genMatchOn("product", t, vd + 1) : gen(t, vd);
          break;
        }
        case GenRule::RequireAal: r.value = gen(T::Int, vd > 1 ? 1 : vd); break;
        case GenRule::RequireAuthAge:
        case GenRule::CapTtl: r.value = gen(T::Dur, vd); break;
        default: break;
      }
      if (r.kind == GenRule::CapTtl) productOk_ = false;
      if (chance(80)) r.cond = gen(T::Bool, static_cast<int>(below(4)));
      rules.push_back(std::move(r));
    }
    p.policies.push_back(std::move(rules));
  }
  prog_ = nullptr;
  return p;
}

// ---- requests --------------------------------------------------------------------------------

json Generator::scalar(T t, bool cidr) {
  switch (t) {
    case T::Bool: return chance(50);
    case T::Int: return pick(kIntValues);
    case T::Dec:
      if (chance(15)) {
        static const double nums[] = {0.5, 2, -1.25, 0.1, 1000};
        return pick(nums);
      }
      return pick(kDecValues);
    case T::Dur: {
      static const char* durs[] = {"15m", "1h", "500ms", "30d", "10m", "0s"};
      if (chance(30)) return static_cast<std::int64_t>(pick(std::vector<std::int64_t>{0, 900, 86400, 3600}));
      return pick(durs);
    }
    case T::Time: {
      static const std::int64_t secs[] = {1704067200, 1735689600, 1719748800, 0, 4102444800, 1704153600};
      if (chance(20)) return "2024-06-30T12:00:00Z";
      return pick(secs) + (chance(30) ? static_cast<std::int64_t>(below(200000)) - 100000 : 0);
    }
    case T::Cat: return pick(kCategories);
    case T::PC: return pick(prog_->products);
    case T::Country: return pick(kCountryLits);
    case T::Str: {
      static const char* strs[] = {"trade", "read", "", "admin", "x y"};
      return pick(strs);
    }
    case T::Region: {
      static const char* regs[] = {"UA-43", "US-CA", "GB-ENG"};
      return pick(regs);
    }
    case T::Ip: return cidr ? pick(kCidrValues) : pick(kIpValues);
  }
  return nullptr;
}

json Generator::value(const GenAttr& a) {
  if (!a.isSet) return scalar(a.type, a.isCidr);
  json arr = json::array();
  std::size_t n = below(4);
  for (std::size_t i = 0; i < n; ++i) arr.push_back(scalar(a.type, a.isCidr));
  return arr;
}

json Generator::input(const GenProgram& p) {
  prog_ = &p;
  json in = json::object();
  for (const auto& a : p.attrs) {
    if (a.optional && chance(35)) continue;
    if (!in.contains(a.section)) in[a.section] = json::object();
    in[a.section][a.name] = value(a);
  }
  if (chance(90)) {
    static const std::int64_t nows[] = {1735689600, 1735689600 + 86400 * 30, 1704067200 + 86400, 1704153601};
    in["now"] = pick(nows);
  }
  prog_ = nullptr;
  return in;
}

}  // namespace vmtest::diff
