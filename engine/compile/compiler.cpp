#include "compile/compiler.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "check/internal/fold.h"
#include "value/literals.h"
#include "vm/vm.h"

namespace mandate {
namespace {

using ast::Expr;
using ast::ExprKind;
using bc::Instr;
using bc::Op;
using bundle::Value;

bool parseIp128(std::string_view text, std::uint64_t& hi, std::uint64_t& lo) {
  unsigned char buf[16] = {};
  std::string s(text);
  if (s.find(':') == std::string::npos) {
    unsigned char v4[4];
    if (inet_pton(AF_INET, s.c_str(), v4) != 1) return false;
    buf[10] = buf[11] = 0xFF;
    std::memcpy(buf + 12, v4, 4);
  } else if (inet_pton(AF_INET6, s.c_str(), buf) != 1) {
    return false;
  }
  hi = lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | buf[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | buf[i];
  return true;
}

bool parseCidr128(std::string_view text, bundle::Cidr& out) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  if (!parseIp128(text.substr(0, slash), out.hi, out.lo)) return false;
  int p = std::atoi(std::string(text.substr(slash + 1)).c_str());
  out.prefix = static_cast<std::uint8_t>(text.find(':') == std::string_view::npos ? p + 96 : p);
  return true;
}

bool mentionsProduct(const Expr* e) {
  if (e == nullptr) return false;
  if (e->kind == ExprKind::Product) return true;
  if (e->kind == ExprKind::Name && e->ref == ast::Ref::Const && e->constRef) return mentionsProduct(e->constRef->value.get());
  for (auto& k : e->kids)
    if (mentionsProduct(k.get())) return true;
  for (auto& arm : e->arms) {
    if (mentionsProduct(arm.result.get())) return true;
  }
  return false;
}

class Compiler {
 public:
  Compiler(const Program& p, Diagnostics& d, bundle::Bundle& b) : p_(p), d_(d), b_(b), s_(p.schema) {}

  bool run() {
    b_.schema = s_;
    computeStablePaths();
    for (auto& f : p_.files)
      for (auto& item : f.items)
        if (auto* pol = std::get_if<ast::Policy>(&item)) compilePolicy(*pol, f.id);
    return ok_;
  }

 private:
  const Program& p_;
  Diagnostics& d_;
  bundle::Bundle& b_;
  const Schema& s_;
  bool ok_ = true;
  int depth_ = 0, maxDepth_ = 0;
  std::map<std::string, std::uint32_t> scalarConsts_;
  std::map<const Expr*, std::uint32_t> setConsts_;
  std::vector<std::string> stablePaths_;

  // Source paths recorded in the bundle are relative to the parent of the files' common
  // directory ("policies/uk/fca.policy"), so the content hash does not depend on where the
  // build ran from.
  void computeStablePaths() {
    std::vector<std::string> common;
    bool first = true;
    for (const auto& key : p_.keys) {
      std::vector<std::string> dirs;
      std::size_t start = 0;
      for (std::size_t i = 0; i <= key.size(); ++i) {
        if (i == key.size() || key[i] == '/') {
          dirs.push_back(key.substr(start, i - start));
          start = i + 1;
        }
      }
      dirs.pop_back();  // the file name
      if (first) {
        common = dirs;
        first = false;
      } else {
        std::size_t n = 0;
        while (n < common.size() && n < dirs.size() && common[n] == dirs[n]) ++n;
        common.resize(n);
      }
    }
    if (!common.empty()) common.pop_back();  // keep the common directory's own name
    std::string prefix;
    for (const auto& d : common) prefix += d + "/";
    for (const auto& key : p_.keys) {
      stablePaths_.push_back(key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key);
    }
  }

  void fail(Span at, const std::string& msg) {
    d_.report(Code::E0302, at, "cannot compile: " + msg);
    ok_ = false;
  }

  // ---- emission with stack tracking ----------------------------------------
  std::uint32_t emit(Op op, std::uint32_t a = 0) {
    const auto& in = bc::info(op);
    depth_ += in.pushes - in.pops;
    maxDepth_ = std::max(maxDepth_, depth_);
    b_.code.push_back(Instr{op, {0, 0, 0}, a});
    return static_cast<std::uint32_t>(b_.code.size() - 1);
  }
  void patch(std::uint32_t at) { b_.code[at].a = static_cast<std::uint32_t>(b_.code.size()); }
  void debug(std::uint32_t pc, const Span& s) {
    const auto& f = p_.sources.file(s.file);
    std::string_view line = f.lineText(s.line);
    std::string text;
    // The span's text on its line (columns are code points).
    std::size_t i = 0;
    std::uint32_t col = 1;
    while (i < line.size() && col < s.col) {
      ++i;
      while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) ++i;
      ++col;
    }
    std::size_t start = i;
    for (std::uint32_t n = 0; n < s.len && i < line.size(); ++n) {
      ++i;
      while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) ++i;
    }
    text = std::string(line.substr(start, i - start));
    b_.debug.push_back(bundle::DebugEntry{pc, s.line, s.col, text});
  }

  std::uint32_t addConst(bundle::Constant c) {
    std::string key;
    if (c.kind == bundle::ConstKind::Scalar || c.kind == bundle::ConstKind::EnumMask) {
      key = std::to_string(static_cast<int>(c.kind)) + ":" + std::to_string(static_cast<int>(c.type)) + ":" +
            std::to_string(c.scalar.a) + ":" + std::to_string(c.scalar.b);
    } else if (c.kind == bundle::ConstKind::String) {
      key = "s:" + c.str;
    } else if (c.kind == bundle::ConstKind::Cidr) {
      key = "c:" + std::to_string(c.cidr.hi) + ":" + std::to_string(c.cidr.lo) + "/" + std::to_string(c.cidr.prefix);
    }
    if (!key.empty()) {
      auto it = scalarConsts_.find(key);
      if (it != scalarConsts_.end()) return it->second;
    }
    b_.constants.push_back(std::move(c));
    auto idx = static_cast<std::uint32_t>(b_.constants.size() - 1);
    if (!key.empty()) scalarConsts_[key] = idx;
    return idx;
  }

  static bundle::Constant scalar(TypeKind t, std::int64_t a, std::int64_t b = 0) {
    bundle::Constant c;
    c.kind = bundle::ConstKind::Scalar;
    c.type = t;
    c.scalar = Value{a, b};
    return c;
  }

  // A constant's value as a VM value, from the folded literal.
  bool constantOf(const Expr& e, bundle::Constant& out) {
    const Expr* x = &e;
    while (x->kind == ExprKind::Paren) x = x->kids[0].get();
    if (x->kind == ExprKind::Name && x->ref == ast::Ref::Const && x->constRef) return constantOf(*x->constRef->value, out);
    TypeKind t = e.type.kind;
    if (x->kind == ExprKind::Name && x->ref == ast::Ref::EnumValue) {
      out = scalar(TypeKind::Enum, x->enumValue);
      return true;
    }
    if (x->kind == ExprKind::Name && x->ref == ast::Ref::Country) {
      out = scalar(TypeKind::Country, bundle::countryValue(x->text));
      return true;
    }
    if (x->kind == ExprKind::Region || (x->kind == ExprKind::String)) {
      out.kind = bundle::ConstKind::String;
      out.type = x->kind == ExprKind::Region ? TypeKind::Region : TypeKind::String;
      out.str = x->text;
      return true;
    }
    if (x->kind == ExprKind::Ip) {
      std::uint64_t hi, lo;
      if (!parseIp128(x->text, hi, lo)) return false;
      out = scalar(TypeKind::Ip, static_cast<std::int64_t>(hi), static_cast<std::int64_t>(lo));
      return true;
    }
    if (x->kind == ExprKind::Cidr) {
      out.kind = bundle::ConstKind::Cidr;
      out.type = TypeKind::Cidr;
      return parseCidr128(x->text, out.cidr);
    }
    check::FoldError err = check::FoldError::None;
    auto v = check::fold(*x, err);
    if (!v) return false;
    switch (v->kind) {
      case TypeKind::Bool: out = scalar(TypeKind::Bool, v->b ? 1 : 0); return true;
      case TypeKind::Int:
        if (t == TypeKind::Decimal) {  // an int where a decimal is declared: `const CAP: decimal = 5`
          Value dv = bundle::decimalValue(lit::Decimal::fromInt(v->i).units);
          out = scalar(TypeKind::Decimal, dv.a, dv.b);
          return true;
        }
        out = scalar(TypeKind::Int, v->i);
        return true;
      case TypeKind::Duration: out = scalar(TypeKind::Duration, v->i); return true;
      case TypeKind::Time:
        if (v->i > INT64_MAX / 1000 || v->i < INT64_MIN / 1000) return false;
        out = scalar(TypeKind::Time, v->i * 1000);
        return true;
      case TypeKind::Decimal: {
        Value dv = bundle::decimalValue(v->d.units);
        out = scalar(TypeKind::Decimal, dv.a, dv.b);
        return true;
      }
      default: return false;
    }
  }

  bool isConstantExpr(const Expr& e) {
    bundle::Constant c;
    return e.kind != ExprKind::Set && constantOf(e, c);
  }

  // A set literal (or a constant naming one) as one constant; false when an element is not constant.
  bool setConstant(const Expr& e, std::uint32_t& index) {
    const Expr* x = &e;
    while (x->kind == ExprKind::Paren) x = x->kids[0].get();
    if (x->kind == ExprKind::Name && x->ref == ast::Ref::Const && x->constRef) return setConstant(*x->constRef->value, index);
    if (x->kind != ExprKind::Set) return false;
    if (auto it = setConsts_.find(x); it != setConsts_.end()) {
      index = it->second;
      return true;
    }
    Type st = e.type;
    TypeKind elem = st.kind == TypeKind::Set ? st.elem : TypeKind::Error;
    bundle::Constant c;
    if (elem == TypeKind::Enum) {
      c.kind = bundle::ConstKind::EnumMask;
      c.type = TypeKind::Enum;
      std::uint64_t mask = 0;
      for (auto& k : x->kids) {
        bundle::Constant ec;
        if (!constantOf(*k, ec)) return false;
        mask |= 1ULL << ec.scalar.a;
      }
      c.scalar = Value{static_cast<std::int64_t>(mask), 0};
    } else {
      c.kind = bundle::ConstKind::Set;
      c.type = elem;
      c.set.elem = elem;
      for (auto& k : x->kids) {
        bundle::Constant ec;
        if (!constantOf(*k, ec)) return false;
        if (ec.kind == bundle::ConstKind::String) {
          c.set.strs.push_back(ec.str);
        } else if (ec.kind == bundle::ConstKind::Cidr) {
          c.set.cidrs.push_back(ec.cidr);
        } else {
          Value v = ec.scalar;
          if (elem == TypeKind::Decimal && ec.type == TypeKind::Int) v = bundle::decimalValue(lit::Decimal::fromInt(v.a).units);
          c.set.items.push_back(v);
        }
      }
      if (elem == TypeKind::EmptySet || elem == TypeKind::Error) c.set.elem = TypeKind::Int;
    }
    index = addConst(std::move(c));
    setConsts_[x] = index;
    return true;
  }

  // ---- expressions -------------------------------------------------------------

  static bool isDec(const Type& t) { return t.kind == TypeKind::Decimal; }
  static bool isIntLike(const Type& t) {
    return t.kind == TypeKind::Int || t.kind == TypeKind::Duration || t.kind == TypeKind::Time;
  }

  // Compiles `e` leaving one value; converts an int result to decimal when `want` is decimal.
  void value(const Expr& e, const Type* want = nullptr) {
    bundle::Constant c;
    if (want != nullptr && isDec(*want) && e.type.kind == TypeKind::Int && e.kind != ExprKind::Set && constantOf(e, c)) {
      // Fold the conversion: the constant is stored as a decimal.
      Value dv = bundle::decimalValue(lit::Decimal::fromInt(c.scalar.a).units);
      emit(Op::CONST, addConst(scalar(TypeKind::Decimal, dv.a, dv.b)));
      return;
    }
    expr(e);
    if (want != nullptr && isDec(*want) && e.type.kind == TypeKind::Int) emit(Op::I2D);
  }

  void expr(const Expr& e) {
    if (e.kind != ExprKind::Set && e.kind != ExprKind::Attr && e.kind != ExprKind::Has) {
      bundle::Constant c;
      if (constantOf(e, c)) {
        emit(Op::CONST, addConst(std::move(c)));
        return;
      }
    }
    switch (e.kind) {
      case ExprKind::Paren: expr(*e.kids[0]); return;
      case ExprKind::Name:
        if (e.text == "now" && e.ref == ast::Ref::None) {
          emit(Op::NOW);
          return;
        }
        if (e.ref == ast::Ref::Const && e.constRef) {
          if (e.type.kind == TypeKind::Set || e.type.kind == TypeKind::EmptySet) {
            std::uint32_t idx;
            if (setConstant(e, idx)) {
              emit(Op::CONST, idx);
              return;
            }
          }
          expr(*e.constRef->value);
          return;
        }
        fail(e.span, "unresolved name `" + e.text + "`");
        return;
      case ExprKind::Product: emit(Op::PRODUCT); return;
      case ExprKind::Attr: {
        const AttrInfo* a = s_.findAttr(e.section, e.text);
        debug(emit(Op::LOAD, static_cast<std::uint32_t>(a->slot)), e.span);
        return;
      }
      case ExprKind::Has: {
        const AttrInfo* a = s_.findAttr(e.section, e.text);
        debug(emit(Op::HAS, static_cast<std::uint32_t>(a->slot)), e.span);
        return;
      }
      case ExprKind::Set: {
        std::uint32_t idx;
        if (setConstant(e, idx)) {
          emit(Op::CONST, idx);
          return;
        }
        fail(e.span, "a set literal with non-constant elements can only stand on the right of `in`");
        return;
      }
      case ExprKind::Unary:
        if (e.unop == ast::UnOp::Not) {
          expr(*e.kids[0]);
          emit(Op::NOT);
        } else {
          expr(*e.kids[0]);
          emit(isDec(e.type) ? Op::NEG_D : Op::NEG_I);
        }
        return;
      case ExprKind::Match: match(e); return;
      case ExprKind::Binary: binary(e); return;
      default:
        fail(e.span, "unexpected literal");
        return;
    }
  }

  void operandsPromoted(const Expr& l, const Expr& r, bool& decimal) {
    decimal = isDec(l.type) || isDec(r.type);
    expr(l);
    expr(r);
    if (decimal) {
      if (l.type.kind == TypeKind::Int) emit(Op::I2D_UNDER);
      if (r.type.kind == TypeKind::Int) emit(Op::I2D);
    }
  }

  void binary(const Expr& e) {
    using B = ast::BinOp;
    const Expr& l = *e.kids[0];
    const Expr& r = *e.kids[1];
    switch (e.binop) {
      case B::And:
      case B::Or: {
        expr(l);
        std::uint32_t j = emit(e.binop == B::And ? Op::ANDJ : Op::ORJ);
        depth_ -= 1;  // the right operand replaces the popped left one
        expr(r);
        patch(j);
        return;
      }
      case B::In:
      case B::NotIn: in(e); return;
      case B::Eq:
      case B::Ne: {
        bool dec;
        operandsPromoted(l, r, dec);
        TypeKind k = l.type.kind == TypeKind::Int && dec ? TypeKind::Decimal : l.type.kind;
        bool str = k == TypeKind::String || k == TypeKind::Region;
        if (k == TypeKind::Cidr) {
          fail(e.span, "comparing cidr blocks with == is not supported; test addresses with `in`");
          return;
        }
        debug(emit(str ? (e.binop == B::Eq ? Op::EQ_STR : Op::NE_STR) : (e.binop == B::Eq ? Op::EQ_W : Op::NE_W)), e.span);
        return;
      }
      case B::Lt:
      case B::Le:
      case B::Gt:
      case B::Ge: {
        bool dec;
        operandsPromoted(l, r, dec);
        static const Op iops[] = {Op::LT_I, Op::LE_I, Op::GT_I, Op::GE_I};
        static const Op dops[] = {Op::LT_D, Op::LE_D, Op::GT_D, Op::GE_D};
        int idx = e.binop == B::Lt ? 0 : e.binop == B::Le ? 1 : e.binop == B::Gt ? 2 : 3;
        debug(emit(dec ? dops[idx] : iops[idx]), e.span);
        return;
      }
      default: break;
    }
    // Arithmetic.
    bool dec;
    operandsPromoted(l, r, dec);
    Op op;
    switch (e.binop) {
      case B::Add: op = dec ? Op::ADD_D : Op::ADD_I; break;
      case B::Sub: op = dec ? Op::SUB_D : Op::SUB_I; break;
      case B::Mul: op = dec ? Op::MUL_D : Op::MUL_I; break;
      default: op = dec ? Op::DIV_D : Op::DIV_I; break;
    }
    emit(op);
  }

  void in(const Expr& e) {
    const Expr& l = *e.kids[0];
    const Expr& r = *e.kids[1];
    const Expr* rs = &r;
    while (rs->kind == ExprKind::Paren) rs = rs->kids[0].get();
    std::uint32_t setIdx = 0;
    bool constSet = setConstant(r, setIdx);
    if (!constSet && rs->kind == ExprKind::Set) {
      // {a, b} with attributes inside: x == a or x == b, each comparison typed like `==`.
      if (rs->kids.empty()) {
        emit(Op::CONST, addConst(scalar(TypeKind::Bool, e.binop == ast::BinOp::NotIn ? 1 : 0)));
        return;
      }
      std::vector<std::uint32_t> jumps;
      for (std::size_t i = 0; i < rs->kids.size(); ++i) {
        const Expr& k = *rs->kids[i];
        bool dec;
        operandsPromoted(l, k, dec);
        bool str = l.type.kind == TypeKind::String || l.type.kind == TypeKind::Region;
        // An address against a block element (`request.ip in {client.net}`): within, not equal.
        emit(k.type.kind == TypeKind::Cidr ? Op::IN_CIDR : str ? Op::EQ_STR : Op::EQ_W);
        if (i + 1 < rs->kids.size()) {
          jumps.push_back(emit(Op::ORJ));
          depth_ -= 1;
        }
      }
      for (auto j : jumps) patch(j);
      if (e.binop == ast::BinOp::NotIn) debug(emit(Op::NOT), e.span);
      return;
    }
    Type rt = r.type;
    expr(l);
    if (constSet) {
      emit(Op::CONST, setIdx);
    } else {
      expr(r);
    }
    Op op;
    if (rt.kind == TypeKind::Cidr) {
      op = Op::IN_CIDR;
    } else if (rt.kind == TypeKind::EmptySet) {
      emit(Op::POP);
      emit(Op::POP);
      emit(Op::CONST, addConst(scalar(TypeKind::Bool, e.binop == ast::BinOp::NotIn ? 1 : 0)));
      return;
    } else if (rt.elem == TypeKind::Enum) {
      op = Op::IN_MASK;
    } else if (rt.elem == TypeKind::Cidr) {
      op = Op::IN_CIDRS;
    } else {
      if (rt.elem == TypeKind::Decimal && l.type.kind == TypeKind::Int) emit(Op::I2D_UNDER);
      op = Op::IN_SET;
    }
    // Explanations show the value of the test as written: for `not in`, the value after NOT.
    if (e.binop == ast::BinOp::NotIn) {
      emit(op);
      debug(emit(Op::NOT), e.span);
    } else {
      debug(emit(op), e.span);
    }
  }

  void match(const Expr& e) {
    const Expr& subj = *e.kids[0];
    Type result = e.type;
    expr(subj);  // [x]
    std::vector<std::uint32_t> toEnd;
    const ast::MatchArm* defaultArm = nullptr;
    for (const auto& arm : e.arms) {
      bool isDefault = std::any_of(arm.patterns.begin(), arm.patterns.end(), [](auto& p) { return p.isDefault; });
      if (isDefault) {
        defaultArm = &arm;
        continue;
      }
      std::vector<std::uint32_t> toBody;
      for (std::size_t i = 0; i < arm.patterns.size(); ++i) {
        emit(Op::DUP);  // [x x]
        bundle::Constant pc;
        const Expr& pv = *arm.patterns[i].value;
        if (!constantOf(pv, pc)) {
          fail(pv.span, "match patterns must be constants");
          return;
        }
        emit(Op::CONST, addConst(std::move(pc)));  // [x x p]
        emit(Op::EQ_W);                              // [x b]
        toBody.push_back(emit(Op::JMPT));            // [x]
      }
      std::uint32_t skip = emit(Op::JMP);
      for (auto j : toBody) patch(j);
      emit(Op::POP);  // []
      value(*arm.result, &result);  // [v]
      toEnd.push_back(emit(Op::JMP));  // the next arm starts from [x]: the same depth as [v]
      patch(skip);
    }
    emit(Op::POP);
    if (defaultArm != nullptr) value(*defaultArm->result, &result);
    for (auto j : toEnd) patch(j);
  }

  // ---- rules ----------------------------------------------------------------------

  std::vector<std::uint64_t> cells(const std::optional<ast::Target>& t) {
    std::size_t n = s_.productCount();
    std::uint64_t all = n >= 64 ? ~0ULL : ((1ULL << n) - 1);
    std::vector<std::uint64_t> c(s_.actions.size(), 0);
    auto full = [&](std::size_t ai) { return s_.actionHasProducts[ai] ? all : 1ULL; };
    if (!t) {
      for (std::size_t i = 0; i < c.size(); ++i) c[i] = full(i);
      return c;
    }
    std::uint64_t products = all;
    if (t->hasProducts && !t->allProducts) {
      products = 0;
      for (auto& p : t->products) products |= 1ULL << s_.findProduct(p.text);
    }
    auto add = [&](std::size_t ai) { c[ai] = s_.actionHasProducts[ai] ? (all & products) : 1ULL; };
    if (t->allActions)  // with `on`, only the actions that have product classes
      for (std::size_t i = 0; i < c.size(); ++i)
        if (!t->hasProducts || s_.actionHasProducts[i]) add(i);
    for (auto& a : t->actions) add(static_cast<std::size_t>(s_.findAction(a.text)));
    return c;
  }

  // Compiles one code range ending in RET; returns (start, length).
  std::pair<std::uint32_t, std::uint32_t> range(const Expr& e, const Type* want) {
    auto start = static_cast<std::uint32_t>(b_.code.size());
    depth_ = 0;
    value(e, want);
    emit(Op::RET);
    if (depth_ != 0) fail(e.span, "internal error: unbalanced stack");
    return {start, static_cast<std::uint32_t>(b_.code.size()) - start};
  }

  std::vector<std::size_t> valueTables_;  // rules whose value is folded per product class

  static bool readsInputs(const Expr* e) {
    if (e == nullptr) return false;
    if (e->kind == ExprKind::Attr || e->kind == ExprKind::Has) return true;
    if (e->kind == ExprKind::Name && e->text == "now" && e->ref == ast::Ref::None) return true;
    if (e->kind == ExprKind::Name && e->ref == ast::Ref::Const && e->constRef) return readsInputs(e->constRef->value.get());
    for (auto& k : e->kids)
      if (readsInputs(k.get())) return true;
    for (auto& arm : e->arms)
      if (readsInputs(arm.result.get())) return true;
    return false;
  }

 public:
  // After all code exists: fold each marked value per product class with the VM itself.
  void foldValueTables() {
    b_.materialize();
    std::size_t n = s_.productCount();
    for (std::size_t ri : valueTables_) {
      bundle::Rule& r = b_.rules[ri];
      std::vector<Value> table(n);
      bool ok = true;
      for (std::size_t p = 0; p < n && ok; ++p) ok = vm::evaluateConstantRange(b_, r.valueStart, static_cast<std::int64_t>(p), table[p]);
      if (ok) r.valueTable = std::move(table);  // otherwise the code runs, and fails, at evaluation
    }
  }

 private:
  static void conjuncts(const Expr& e, std::vector<const Expr*>& out) {
    if (e.kind == ExprKind::Paren) return conjuncts(*e.kids[0], out);
    if (e.kind == ExprKind::Binary && e.binop == ast::BinOp::And) {
      conjuncts(*e.kids[0], out);
      conjuncts(*e.kids[1], out);
      return;
    }
    out.push_back(&e);
  }

  static const Expr* unparen(const Expr* e) {
    while (e->kind == ExprKind::Paren) e = e->kids[0].get();
    return e;
  }

  // `product in K`, `product not in K`, `product == X`, `product != X` with constant K / X:
  // the product classes for which it holds.
  bool productTest(const Expr& e, std::uint64_t& mask) {
    const Expr* x = unparen(&e);
    if (x->kind != ExprKind::Binary) return false;
    const Expr* l = unparen(x->kids[0].get());
    const Expr* r = unparen(x->kids[1].get());
    auto op = x->binop;
    if ((op == ast::BinOp::Eq || op == ast::BinOp::Ne) && r->kind == ExprKind::Product) std::swap(l, r);
    if (l->kind != ExprKind::Product) return false;
    std::size_t n = s_.productCount();
    std::uint64_t all = n >= 64 ? ~0ULL : ((1ULL << n) - 1);
    if (op == ast::BinOp::In || op == ast::BinOp::NotIn) {
      std::uint32_t idx;
      if (r->kind == ExprKind::Set && r->kids.empty()) {
        mask = op == ast::BinOp::In ? 0 : all;
        return true;
      }
      if (!setConstant(*r, idx) || b_.constants[idx].kind != bundle::ConstKind::EnumMask) return false;
      auto m = static_cast<std::uint64_t>(b_.constants[idx].scalar.a) & all;
      mask = op == ast::BinOp::In ? m : (all & ~m);
      return true;
    }
    if (op == ast::BinOp::Eq || op == ast::BinOp::Ne) {
      bundle::Constant c;
      if (r->kind == ExprKind::Set || !constantOf(*r, c) || c.type != TypeKind::Enum) return false;
      std::uint64_t m = 1ULL << c.scalar.a;
      mask = op == ast::BinOp::Eq ? m : (all & ~m);
      return true;
    }
    return false;
  }

  // Compiles `c[0] and c[1] and ...` into one code range ending in RET.
  std::pair<std::uint32_t, std::uint32_t> conjunction(const std::vector<const Expr*>& c) {
    auto start = static_cast<std::uint32_t>(b_.code.size());
    depth_ = 0;
    std::vector<std::uint32_t> jumps;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (i > 0) {
        jumps.push_back(emit(Op::ANDJ));
        depth_ -= 1;  // the next operand replaces the popped one
      }
      expr(*c[i]);
    }
    for (auto j : jumps) patch(j);
    emit(Op::RET);
    if (depth_ != 0) fail(c.front()->span, "internal error: unbalanced stack");
    return {start, static_cast<std::uint32_t>(b_.code.size()) - start};
  }

  // The condition of a product-dependent rule as prefix / filter / per-product rest, so the
  // product-independent part runs once and excluded classes are never visited. Exact: the
  // prefix is evaluated first either way, and a constant product test cannot fail.
  void splitCondition(const Expr& when, bundle::Rule& out) {
    std::vector<const Expr*> all;
    conjuncts(when, all);
    std::size_t k = 0;
    while (k < all.size() && !mentionsProduct(all[k])) ++k;
    std::vector<const Expr*> prefix(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k));
    std::uint64_t mask;
    if (k < all.size() && productTest(*all[k], mask)) {
      out.productFilter = mask;
      ++k;
    }
    std::vector<const Expr*> rest(all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
    if (!prefix.empty()) std::tie(out.preStart, out.preLen) = conjunction(prefix);
    if (!rest.empty()) std::tie(out.condStart, out.condLen) = conjunction(rest);
    if (!rest.empty() && std::all_of(rest.begin(), rest.end(), [&](const Expr* c) { return maskable(*c); }))
      std::tie(out.maskStart, out.maskLen) = maskConjunction(rest);
  }

  // `product in S` / `product not in S` with S a set of product classes that does not depend
  // on `product` (a constant, or an attribute such as subject.appropriateness): S itself is
  // the mask of the classes for which the test holds. `negated`: `not in`.
  const Expr* productMembership(const Expr& e, bool& negated) {
    const Expr* x = unparen(&e);
    if (x->kind != ExprKind::Binary || (x->binop != ast::BinOp::In && x->binop != ast::BinOp::NotIn)) return nullptr;
    if (unparen(x->kids[0].get())->kind != ExprKind::Product) return nullptr;
    const Expr* set = x->kids[1].get();
    const Expr* rs = unparen(set);
    // A literal with attribute elements is lowered to comparisons, and `{}` has no element type.
    if (rs->kind == ExprKind::Set && (rs->kids.empty() || !isConstantSet(*set))) return nullptr;
    if (set->type.kind != TypeKind::Set || set->type.elem != TypeKind::Enum || set->type.enumId != s_.productsEnum)
      return nullptr;
    if (mentionsProduct(set)) return nullptr;
    negated = x->binop == ast::BinOp::NotIn;
    return set;
  }

  bool isConstantSet(const Expr& e) {
    std::uint32_t idx;
    return setConstant(e, idx);
  }

  // A conjunct the mask form can decide for every class at once with the per-class semantics
  // unchanged: either it does not read `product` (so it takes one value, or fails with one
  // error, for every class that evaluates it), or it is a membership test of `product`.
  bool maskable(const Expr& c) {
    bool negated;
    std::uint64_t mask;
    return !mentionsProduct(&c) || productTest(c, mask) || productMembership(c, negated) != nullptr;
  }

  // The mask form of a conjunction of maskable conjuncts: each conjunct leaves a mask of the
  // classes for which it holds and NARROW intersects it with the live classes, stopping when
  // none is left; an error aborts the run for the classes live at that conjunct, which are
  // exactly the classes whose per-class run would have reached it and failed there.
  std::pair<std::uint32_t, std::uint32_t> maskConjunction(const std::vector<const Expr*>& c) {
    auto start = static_cast<std::uint32_t>(b_.code.size());
    depth_ = 0;
    std::vector<std::uint32_t> jumps;
    for (const Expr* e : c) {
      bool negated = false;
      std::uint64_t mask;
      if (!mentionsProduct(e)) {
        expr(*e);
        emit(Op::B2M);
      } else if (productTest(*e, mask)) {
        bundle::Constant k;
        k.kind = bundle::ConstKind::EnumMask;
        k.type = TypeKind::Enum;
        k.scalar = Value{static_cast<std::int64_t>(mask), 0};
        emit(Op::CONST, addConst(std::move(k)));
      } else {
        expr(*productMembership(*e, negated));
        if (negated) emit(Op::MNOT);
      }
      jumps.push_back(emit(Op::NARROW));
    }
    for (auto j : jumps) patch(j);
    emit(Op::LIVE);
    emit(Op::RET);
    if (depth_ != 0) fail(c.front()->span, "internal error: unbalanced stack");
    return {start, static_cast<std::uint32_t>(b_.code.size()) - start};
  }

  void compilePolicy(const ast::Policy& pol, FileId file) {
    std::string cite;
    for (auto& m : pol.meta)
      if (m.key == "cite") cite += (cite.empty() ? "" : "; ") + m.value.text;
    for (const auto& r : pol.rules) {
      bundle::Rule out;
      out.id = r.id;
      out.policy = pol.name.text;
      out.title = pol.title ? pol.title->text : "";
      out.reason = r.because ? r.because->text : "";
      out.cite = cite;
      out.file = stablePaths_[file];
      out.line = r.span.line;
      out.col = r.span.col;
      out.len = r.span.len;
      out.target = cells(r.target);
      switch (r.kind) {
        case ast::RuleKind::Permit: out.kind = bundle::RuleKind::Permit; break;
        case ast::RuleKind::Deny: out.kind = bundle::RuleKind::Deny; break;
        case ast::RuleKind::Limit: out.kind = bundle::RuleKind::Limit; break;
        case ast::RuleKind::Require:
          out.kind = r.limitName.text == "aal" ? bundle::RuleKind::RequireAal : bundle::RuleKind::RequireAuthAge;
          break;
        case ast::RuleKind::CapTtl: out.kind = bundle::RuleKind::CapTtl; break;
      }
      out.productDependent = mentionsProduct(r.when.get()) || mentionsProduct(r.value.get());
      if (r.when && out.productDependent) {
        splitCondition(*r.when, out);
      } else if (r.when) {
        auto [st, len] = range(*r.when, nullptr);
        out.condStart = st;
        out.condLen = len;
      }
      if (r.value) {
        Type want = r.value->type;
        if (r.kind == ast::RuleKind::Limit) {
          out.limit = s_.findLimit(r.limitName.text);
          want = s_.limits[out.limit].type;
        }
        auto [st, len] = range(*r.value, &want);
        out.valueStart = st;
        out.valueLen = len;
        if (mentionsProduct(r.value.get()) && !readsInputs(r.value.get())) valueTables_.push_back(b_.rules.size());
      }
      // The per-class form bounds traced runs; the mask form runs the mask once and the value
      // per class.
      std::uint64_t perRun = out.condLen + out.valueLen;
      std::uint64_t classes = out.productDependent ? std::max<std::size_t>(1, s_.productCount()) : 1;
      b_.worstCaseInstructions +=
          out.preLen + std::max<std::uint64_t>(perRun * classes, out.maskLen + out.valueLen * classes);
      b_.rules.push_back(std::move(out));
    }
    b_.maxStack = static_cast<std::uint32_t>(std::max<int>(static_cast<int>(b_.maxStack), maxDepth_));
  }
};

}  // namespace

std::unique_ptr<bundle::Bundle> compileProgram(const Program& program, Diagnostics& diags) {
  auto b = std::make_unique<bundle::Bundle>();
  if (!program.schema.present) {
    diags.report(Code::E0208, Span{}, "no schema: nothing to compile");
    return nullptr;
  }
  Compiler c(program, diags, *b);
  if (!c.run()) return nullptr;
  c.foldValueTables();
  b->materialize();
  return b;
}

}  // namespace mandate
