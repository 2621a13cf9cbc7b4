#include "bundle/codec.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstring>

namespace mandate::bundle {
namespace {

constexpr char kMagic[8] = {'M', 'A', 'N', 'D', 'A', 'T', 'E', '\0'};
enum Section : std::uint32_t { kSchema = 1, kConstants = 2, kCode = 3, kRules = 4, kDebug = 5, kMeta = 6, kHash = 0xF0, kSignature = 0xF1 };

constexpr std::size_t kMaxStrings = 1 << 20;
constexpr std::size_t kMaxString = 1 << 20;

class Writer {
 public:
  std::string out;
  void u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out += s;
  }
  void bytes(const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }
};

class Reader {
 public:
  Reader(std::string_view d, std::string& err) : d_(d), err_(err) {}
  bool fail(const std::string& why) {
    if (ok_) err_ = why;
    ok_ = false;
    return false;
  }
  bool ok() const { return ok_; }
  bool done() const { return pos_ == d_.size(); }
  std::size_t pos() const { return pos_; }
  bool need(std::size_t n) { return ok_ && (d_.size() - pos_ >= n || fail("truncated data")); }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(d_[pos_++]);
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(d_[pos_++])) << (8 * i);
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(d_[pos_++])) << (8 * i);
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string str() {
    std::uint32_t n = u32();
    if (n > kMaxString) {
      fail("string longer than the limit");
      return {};
    }
    if (!need(n)) return {};
    std::string s(d_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string_view raw(std::size_t n) {
    if (!need(n)) return {};
    auto v = d_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // A count that must fit in the remaining bytes at `minEach` bytes per element.
  std::uint32_t count(std::size_t minEach, std::size_t limit, const char* what) {
    std::uint32_t n = u32();
    if (!ok_) return 0;
    if (n > limit || static_cast<std::uint64_t>(n) * minEach > d_.size() - pos_) {
      fail(std::string("implausible ") + what + " count " + std::to_string(n));
      return 0;
    }
    return n;
  }

 private:
  std::string_view d_;
  std::string& err_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

std::array<std::uint8_t, 32> sha256(std::string_view data) {
  std::array<std::uint8_t, 32> h{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), h.data());
  return h;
}

bool validKind(std::uint8_t k) { return k >= static_cast<std::uint8_t>(TypeKind::Bool) && k <= static_cast<std::uint8_t>(TypeKind::Set); }

void writeSchema(Writer& w, const Schema& s) {
  w.u32(static_cast<std::uint32_t>(s.enums.size()));
  for (auto& e : s.enums) {
    w.str(e.name);
    w.u32(static_cast<std::uint32_t>(e.values.size()));
    for (auto& v : e.values) w.str(v);
  }
  w.u32(static_cast<std::uint32_t>(s.actions.size()));
  for (std::size_t i = 0; i < s.actions.size(); ++i) {
    w.str(s.actions[i]);
    w.u8(s.actionHasProducts[i] ? 1 : 0);
  }
  w.u32(static_cast<std::uint32_t>(s.productsEnum));
  w.u32(static_cast<std::uint32_t>(s.attrs.size()));
  for (auto& a : s.attrs) {
    w.str(a.section);
    w.str(a.name);
    w.u8(static_cast<std::uint8_t>(a.type.kind));
    w.u32(static_cast<std::uint32_t>(a.type.enumId));
    w.u8(static_cast<std::uint8_t>(a.type.elem));
    w.u8(a.optional ? 1 : 0);
  }
  w.u32(static_cast<std::uint32_t>(s.limits.size()));
  for (auto& l : s.limits) {
    w.str(l.name);
    w.u8(static_cast<std::uint8_t>(l.type.kind));
  }
}

bool readType(Reader& r, const Schema& s, Type& t, bool allowSet) {
  std::uint8_t k = r.u8();
  auto e = static_cast<std::int32_t>(r.u32());
  std::uint8_t elem = r.u8();
  if (!r.ok()) return false;
  if (!validKind(k)) return r.fail("invalid attribute type");
  t.kind = static_cast<TypeKind>(k);
  t.enumId = e;
  t.elem = static_cast<TypeKind>(elem);
  bool enumUsed = t.kind == TypeKind::Enum || (t.kind == TypeKind::Set && t.elem == TypeKind::Enum);
  if (enumUsed && (e < 0 || e >= static_cast<std::int32_t>(s.enums.size()))) return r.fail("attribute enum index out of range");
  if (!enumUsed) t.enumId = -1;
  if (t.kind == TypeKind::Set) {
    if (!allowSet || !validKind(elem) || t.elem == TypeKind::Set) return r.fail("invalid set element type");
    if (t.elem == TypeKind::Enum && s.enums[e].values.size() > 64) return r.fail("set of an enum with more than 64 values");
  } else {
    t.elem = TypeKind::Error;
  }
  return true;
}

bool readSchema(Reader& r, Schema& s) {
  s.present = true;
  std::uint32_t ne = r.count(8, 4096, "enum");
  for (std::uint32_t i = 0; i < ne && r.ok(); ++i) {
    EnumInfo e;
    e.name = r.str();
    std::uint32_t nv = r.count(4, 65536, "enum value");
    for (std::uint32_t k = 0; k < nv && r.ok(); ++k) e.values.push_back(r.str());
    s.enums.push_back(std::move(e));
  }
  std::uint32_t na = r.count(5, 64, "action");
  for (std::uint32_t i = 0; i < na && r.ok(); ++i) {
    s.actions.push_back(r.str());
    s.actionHasProducts.push_back(r.u8() != 0);
  }
  s.productsEnum = static_cast<std::int32_t>(r.u32());
  if (!r.ok()) return false;
  if (s.productsEnum != -1) {
    if (s.productsEnum < 0 || s.productsEnum >= static_cast<int>(s.enums.size())) return r.fail("products enum index out of range");
    if (s.enums[s.productsEnum].values.size() > kMaxProductClasses) return r.fail("more than 64 product classes");
  } else {
    for (bool b : s.actionHasProducts)
      if (b) return r.fail("an action has product classes but no products enum is declared");
  }
  std::uint32_t nat = r.count(12, 1 << 16, "attribute");
  for (std::uint32_t i = 0; i < nat && r.ok(); ++i) {
    AttrInfo a;
    a.section = r.str();
    a.name = r.str();
    if (!readType(r, s, a.type, true)) return false;
    a.optional = r.u8() != 0;
    a.slot = static_cast<int>(i);
    s.attrs.push_back(std::move(a));
  }
  std::uint32_t nl = r.count(5, 1024, "limit");
  for (std::uint32_t i = 0; i < nl && r.ok(); ++i) {
    LimitInfo l;
    l.name = r.str();
    std::uint8_t k = r.u8();
    if (k != static_cast<std::uint8_t>(TypeKind::Int) && k != static_cast<std::uint8_t>(TypeKind::Decimal) &&
        k != static_cast<std::uint8_t>(TypeKind::Duration))
      return r.fail("invalid limit type");
    l.type = Type::of(static_cast<TypeKind>(k));
    s.limits.push_back(std::move(l));
  }
  return r.ok();
}

void writeElement(Writer& w, TypeKind elem, const Value& v) {
  (void)elem;
  w.i64(v.a);
  w.i64(v.b);
}

void writeConstants(Writer& w, const std::vector<Constant>& cs) {
  w.u32(static_cast<std::uint32_t>(cs.size()));
  for (auto& c : cs) {
    w.u8(static_cast<std::uint8_t>(c.kind));
    w.u8(static_cast<std::uint8_t>(c.type));
    switch (c.kind) {
      case ConstKind::Scalar:
      case ConstKind::EnumMask:
        w.i64(c.scalar.a);
        w.i64(c.scalar.b);
        break;
      case ConstKind::String: w.str(c.str); break;
      case ConstKind::Cidr:
        w.u64(c.cidr.hi);
        w.u64(c.cidr.lo);
        w.u8(c.cidr.prefix);
        break;
      case ConstKind::Set:
        w.u8(static_cast<std::uint8_t>(c.set.elem));
        if (c.set.elem == TypeKind::String || c.set.elem == TypeKind::Region) {
          w.u32(static_cast<std::uint32_t>(c.set.strs.size()));
          for (auto& s : c.set.strs) w.str(s);
        } else if (c.set.elem == TypeKind::Cidr) {
          w.u32(static_cast<std::uint32_t>(c.set.cidrs.size()));
          for (auto& cd : c.set.cidrs) {
            w.u64(cd.hi);
            w.u64(cd.lo);
            w.u8(cd.prefix);
          }
        } else {
          w.u32(static_cast<std::uint32_t>(c.set.items.size()));
          for (auto& v : c.set.items) writeElement(w, c.set.elem, v);
        }
        break;
    }
  }
}

bool readCidr(Reader& r, Cidr& c) {
  c.hi = r.u64();
  c.lo = r.u64();
  c.prefix = r.u8();
  return r.ok() && (c.prefix <= 128 || r.fail("cidr prefix above 128"));
}

bool readConstants(Reader& r, std::vector<Constant>& cs) {
  std::uint32_t n = r.count(2, 1 << 22, "constant");
  cs.resize(n);
  for (auto& c : cs) {
    std::uint8_t kind = r.u8();
    std::uint8_t type = r.u8();
    if (!r.ok()) return false;
    if (kind < 1 || kind > 5) return r.fail("invalid constant kind");
    c.kind = static_cast<ConstKind>(kind);
    if (!validKind(type) && !(c.kind == ConstKind::Set)) return r.fail("invalid constant type");
    c.type = static_cast<TypeKind>(type);
    switch (c.kind) {
      case ConstKind::Scalar:
      case ConstKind::EnumMask:
        c.scalar.a = r.i64();
        c.scalar.b = r.i64();
        break;
      case ConstKind::String: c.str = r.str(); break;
      case ConstKind::Cidr:
        if (!readCidr(r, c.cidr)) return false;
        break;
      case ConstKind::Set: {
        std::uint8_t elem = r.u8();
        if (!validKind(elem) || elem == static_cast<std::uint8_t>(TypeKind::Set) ||
            elem == static_cast<std::uint8_t>(TypeKind::Enum))
          return r.fail("invalid set element type");
        c.set.elem = static_cast<TypeKind>(elem);
        if (c.set.elem == TypeKind::String || c.set.elem == TypeKind::Region) {
          std::uint32_t m = r.count(4, kMaxStrings, "set element");
          for (std::uint32_t i = 0; i < m && r.ok(); ++i) c.set.strs.push_back(r.str());
        } else if (c.set.elem == TypeKind::Cidr) {
          std::uint32_t m = r.count(17, 1 << 20, "set element");
          c.set.cidrs.resize(m);
          for (auto& cd : c.set.cidrs)
            if (!readCidr(r, cd)) return false;
        } else {
          std::uint32_t m = r.count(16, 1 << 20, "set element");
          c.set.items.resize(m);
          for (auto& v : c.set.items) {
            v.a = r.i64();
            v.b = r.i64();
          }
        }
        break;
      }
    }
  }
  return r.ok();
}

void writeRules(Writer& w, const std::vector<Rule>& rules) {
  w.u32(static_cast<std::uint32_t>(rules.size()));
  for (auto& r : rules) {
    w.u8(static_cast<std::uint8_t>(r.kind));
    w.str(r.id);
    w.str(r.policy);
    w.str(r.title);
    w.str(r.reason);
    w.str(r.cite);
    w.str(r.file);
    w.u32(r.line);
    w.u32(r.col);
    w.u32(r.len);
    w.u32(static_cast<std::uint32_t>(r.target.size()));
    for (auto m : r.target) w.u64(m);
    w.u32(static_cast<std::uint32_t>(r.limit));
    w.u32(r.preStart);
    w.u32(r.preLen);
    w.u64(r.productFilter);
    w.u32(r.condStart);
    w.u32(r.condLen);
    w.u32(r.maskStart);
    w.u32(r.maskLen);
    w.u32(r.valueStart);
    w.u32(r.valueLen);
    w.u8(r.productDependent ? 1 : 0);
    w.u32(static_cast<std::uint32_t>(r.valueTable.size()));
    for (const auto& v : r.valueTable) {
      w.i64(v.a);
      w.i64(v.b);
    }
  }
}

bool readRules(Reader& r, std::vector<Rule>& rules) {
  std::uint32_t n = r.count(40, 1 << 20, "rule");
  rules.resize(n);
  for (auto& x : rules) {
    std::uint8_t k = r.u8();
    if (k < 1 || k > 6) return r.fail("invalid rule kind");
    x.kind = static_cast<RuleKind>(k);
    x.id = r.str();
    x.policy = r.str();
    x.title = r.str();
    x.reason = r.str();
    x.cite = r.str();
    x.file = r.str();
    x.line = r.u32();
    x.col = r.u32();
    x.len = r.u32();
    std::uint32_t na = r.count(8, 64, "rule target action");
    for (std::uint32_t i = 0; i < na && r.ok(); ++i) x.target.push_back(r.u64());
    x.limit = static_cast<std::int32_t>(r.u32());
    x.preStart = r.u32();
    x.preLen = r.u32();
    x.productFilter = r.u64();
    x.condStart = r.u32();
    x.condLen = r.u32();
    x.maskStart = r.u32();
    x.maskLen = r.u32();
    x.valueStart = r.u32();
    x.valueLen = r.u32();
    x.productDependent = r.u8() != 0;
    std::uint32_t nv = r.count(16, 64, "value table entry");
    x.valueTable.resize(nv);
    for (auto& v : x.valueTable) {
      v.a = r.i64();
      v.b = r.i64();
    }
    if (!r.ok()) return false;
  }
  return true;
}

// ---- verification ------------------------------------------------------------------

// What a stack entry may be dereferenced as.
enum class Shape : std::uint8_t { Scalar, Str, Set, StrSet, CidrSet, Cidr, Unknown };

Shape shapeOfType(const Type& t) {
  switch (t.kind) {
    case TypeKind::String:
    case TypeKind::Region: return Shape::Str;
    case TypeKind::Cidr: return Shape::Cidr;
    case TypeKind::Set:
      if (t.elem == TypeKind::Enum) return Shape::Scalar;
      if (t.elem == TypeKind::String || t.elem == TypeKind::Region) return Shape::StrSet;
      if (t.elem == TypeKind::Cidr) return Shape::CidrSet;
      return Shape::Set;
    default: return Shape::Scalar;
  }
}

Shape shapeOfConst(const Constant& c) {
  switch (c.kind) {
    case ConstKind::String: return Shape::Str;
    case ConstKind::Cidr: return Shape::Cidr;
    case ConstKind::Set:
      if (c.set.elem == TypeKind::String || c.set.elem == TypeKind::Region) return Shape::StrSet;
      if (c.set.elem == TypeKind::Cidr) return Shape::CidrSet;
      return Shape::Set;
    default: return Shape::Scalar;
  }
}

bool verifyRange(const Bundle& b, std::uint32_t start, std::uint32_t len, std::uint32_t& maxStack, std::string& err) {
  const std::size_t n = b.code.size();
  if (len == 0 || start > n || len > n - start) {
    err = "code range out of bounds";
    return false;
  }
  std::uint32_t end = start + len;
  // Abstract stacks at each instruction; forward-only jumps make one pass enough.
  std::vector<std::vector<Shape>> at(len);
  std::vector<bool> reached(len, false);
  reached[0] = true;
  auto flow = [&](std::uint32_t target, const std::vector<Shape>& st) -> bool {
    if (target >= end) {
      err = "jump or fall-through past the end of a code range at " + std::to_string(target);
      return false;
    }
    std::uint32_t k = target - start;
    if (!reached[k]) {
      reached[k] = true;
      at[k] = st;
      return true;
    }
    if (at[k] != st) {
      err = "inconsistent stack at join point " + std::to_string(target);
      return false;
    }
    return true;
  };
  for (std::uint32_t pc = start; pc < end; ++pc) {
    std::uint32_t k = pc - start;
    if (!reached[k]) continue;  // dead code is harmless but never runs
    std::vector<Shape> st = at[k];
    const bc::Instr& ins = b.code[pc];
    if (static_cast<std::size_t>(ins.op) >= static_cast<std::size_t>(bc::Op::kCount)) {
      err = "invalid opcode at " + std::to_string(pc);
      return false;
    }
    const auto& info = bc::info(ins.op);
    if (st.size() < info.pops) {
      err = "stack underflow at " + std::to_string(pc) + " (" + std::string(info.name) + ")";
      return false;
    }
    auto top = [&](std::size_t i) { return st[st.size() - 1 - i]; };
    auto pop = [&](std::size_t m) { st.resize(st.size() - m); };
    auto bad = [&](const char* what) {
      err = std::string(info.name) + " at " + std::to_string(pc) + ": " + what;
      return false;
    };
    using bc::Op;
    switch (ins.op) {
      case Op::CONST:
        if (ins.a >= b.constants.size()) return bad("constant index out of range");
        st.push_back(shapeOfConst(b.constants[ins.a]));
        break;
      case Op::LOAD:
      case Op::HAS:
        if (ins.a >= b.schema.attrs.size()) return bad("slot out of range");
        st.push_back(ins.op == Op::HAS ? Shape::Scalar : shapeOfType(b.schema.attrs[ins.a].type));
        break;
      case Op::PRODUCT:
      case Op::NOW: st.push_back(Shape::Scalar); break;
      case Op::DUP: st.push_back(top(0)); break;
      case Op::POP: pop(1); break;
      case Op::JMP:
        if (ins.a <= pc) return bad("backward jump");
        if (!flow(ins.a, st)) return false;
        // no fall-through
        goto next;
      case Op::JMPF:
      case Op::JMPT:
      case Op::NARROW:
        if (ins.a <= pc) return bad("backward jump");
        if (top(0) != Shape::Scalar) return bad("condition is not a scalar");
        pop(1);
        if (!flow(ins.a, st)) return false;
        break;
      case Op::ANDJ:
      case Op::ORJ:
        if (ins.a <= pc) return bad("backward jump");
        if (top(0) != Shape::Scalar) return bad("condition is not a scalar");
        if (!flow(ins.a, st)) return false;
        pop(1);
        break;
      case Op::EQ_STR:
      case Op::NE_STR:
        if (top(0) != Shape::Str || top(1) != Shape::Str) return bad("operands are not strings");
        pop(2);
        st.push_back(Shape::Scalar);
        break;
      case Op::IN_SET: {
        Shape s = top(0), x = top(1);
        if (s == Shape::StrSet ? x != Shape::Str : (s != Shape::Set || x != Shape::Scalar)) return bad("operands are not an element and a set");
        pop(2);
        st.push_back(Shape::Scalar);
        break;
      }
      case Op::IN_CIDR:
        if (top(0) != Shape::Cidr || top(1) != Shape::Scalar) return bad("operands are not an ip and a cidr");
        pop(2);
        st.push_back(Shape::Scalar);
        break;
      case Op::IN_CIDRS:
        if (top(0) != Shape::CidrSet || top(1) != Shape::Scalar) return bad("operands are not an ip and a set of cidrs");
        pop(2);
        st.push_back(Shape::Scalar);
        break;
      case Op::RET:
        if (st.size() != 1) return bad("stack must hold exactly one value");
        if (st[0] != Shape::Scalar) return bad("result is not a scalar");
        goto next;
      default:
        for (std::size_t i = 0; i < info.pops; ++i)
          if (top(i) != Shape::Scalar) return bad("operand is not a scalar");
        pop(info.pops);
        for (std::size_t i = 0; i < info.pushes; ++i) st.push_back(Shape::Scalar);
        break;
    }
    if (st.size() > 64) return bad("stack deeper than 64");
    maxStack = std::max<std::uint32_t>(maxStack, static_cast<std::uint32_t>(st.size()));
    if (!flow(pc + 1, st)) return false;
  next:;
  }
  return true;
}

bool verify(const Bundle& b, std::string& err) {
  const Schema& s = b.schema;
  std::size_t nprod = s.productCount();
  std::uint64_t all = nprod >= 64 ? ~0ULL : ((1ULL << nprod) - 1);
  std::uint32_t maxStack = 0;
  // Decimals are 128-bit units of 10^-18 within +-10^38 (the language's range); the VM and the
  // renderer rely on it (10^38 leaves room to negate and to scale without overflow).
  constexpr __int128 kDecMax = static_cast<__int128>(1'000'000'000'000'000'000LL) * 1'000'000'000'000'000'000LL * 100;
  auto decimalOk = [&](const Value& v) { return decimalOf(v) <= kDecMax && decimalOf(v) >= -kDecMax; };
  for (std::size_t i = 0; i < b.constants.size(); ++i) {
    const Constant& c = b.constants[i];
    bool ok = true;
    if (c.kind == ConstKind::Scalar && c.type == TypeKind::Decimal) ok = decimalOk(c.scalar);
    if (c.kind == ConstKind::Set && c.set.elem == TypeKind::Decimal)
      for (const auto& v : c.set.items) ok = ok && decimalOk(v);
    if (!ok) return (err = "constant " + std::to_string(i) + ": a decimal outside +-10^38", false);
  }
  for (std::size_t i = 0; i < b.rules.size(); ++i) {
    const Rule& r = b.rules[i];
    std::string where = "rule " + std::to_string(i) + " (" + r.id + "): ";
    if (r.target.size() != s.actions.size()) return (err = where + "target does not cover the schema's actions", false);
    for (std::size_t a = 0; a < r.target.size(); ++a) {
      std::uint64_t allowed = s.actionHasProducts[a] ? all : 1;
      if (r.target[a] & ~allowed) return (err = where + "target names product classes outside the schema", false);
    }
    if (r.kind == RuleKind::Limit && (r.limit < 0 || r.limit >= static_cast<std::int32_t>(s.limits.size())))
      return (err = where + "limit index out of range", false);
    if (r.kind != RuleKind::Limit && r.limit != -1) return (err = where + "a limit index on a rule that is not a limit", false);
    bool needsValue = r.kind == RuleKind::Limit || r.kind == RuleKind::RequireAal || r.kind == RuleKind::RequireAuthAge ||
                      r.kind == RuleKind::CapTtl;
    if (needsValue != (r.valueLen > 0)) return (err = where + "value code missing or unexpected", false);
    if (r.preLen > 0 && !verifyRange(b, r.preStart, r.preLen, maxStack, err)) return (err = where + err, false);
    if (!r.valueTable.empty() && (!r.productDependent || r.valueLen == 0 || r.valueTable.size() != s.productCount()))
      return (err = where + "a value table that does not match the product classes", false);
    if (r.kind == RuleKind::Limit && s.limits[r.limit].type.kind == TypeKind::Decimal)
      for (const auto& v : r.valueTable)
        if (!decimalOk(v)) return (err = where + "a value table entry outside the decimal range", false);
    if ((r.preLen > 0 || r.productFilter != ~0ULL) && !r.productDependent)
      return (err = where + "a condition prefix or product filter on a rule that does not read `product`", false);
    if (r.condLen > 0 && !verifyRange(b, r.condStart, r.condLen, maxStack, err)) return (err = where + err, false);
    if (r.maskLen > 0 && (!r.productDependent || r.condLen == 0))
      return (err = where + "a mask condition without a per-class condition it stands for", false);
    if (r.maskLen > 0 && !verifyRange(b, r.maskStart, r.maskLen, maxStack, err)) return (err = where + err, false);
    if (r.valueLen > 0 && !verifyRange(b, r.valueStart, r.valueLen, maxStack, err)) return (err = where + err, false);
    if (r.productDependent && s.productsEnum < 0) return (err = where + "reads `product` but there are no product classes", false);
  }
  return true;
}

}  // namespace

std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(d[p[i] >> 4]);
    out.push_back(d[p[i] & 15]);
  }
  return out;
}

std::string serialize(Bundle& b, const Signer* signer) {
  Writer schema;
  writeSchema(schema, b.schema);
  b.schemaHash = sha256(schema.out);
  Writer w;
  w.bytes(kMagic, 8);
  w.u32(kFormatVersion);
  w.bytes(b.schemaHash.data(), 32);
  w.u32(6);
  auto section = [&](Section id, const std::string& payload) {
    w.u32(id);
    w.u32(static_cast<std::uint32_t>(payload.size()));
    w.out += payload;
  };
  section(kSchema, schema.out);
  Writer c;
  writeConstants(c, b.constants);
  section(kConstants, c.out);
  Writer code;
  code.u32(static_cast<std::uint32_t>(b.code.size()));
  for (auto& i : b.code) {
    code.u8(static_cast<std::uint8_t>(i.op));
    code.u32(i.a);
  }
  section(kCode, code.out);
  Writer rules;
  writeRules(rules, b.rules);
  section(kRules, rules.out);
  Writer dbg;
  dbg.u32(static_cast<std::uint32_t>(b.debug.size()));
  for (auto& d : b.debug) {
    dbg.u32(d.pc);
    dbg.u32(d.line);
    dbg.u32(d.col);
    dbg.str(d.text);
  }
  section(kDebug, dbg.out);
  Writer meta;
  meta.u64(b.worstCaseInstructions);
  meta.u32(b.maxStack);
  section(kMeta, meta.out);
  auto h = sha256(w.out);
  b.contentHash = "sha256:" + hex(h.data(), h.size());
  w.u32(kHash);
  w.u32(32);
  w.bytes(h.data(), 32);
  b.signerKey.clear();
  if (signer != nullptr) {
    PublicKey pub{};
    std::array<std::uint8_t, 64> sig{};
    if ((*signer)(h.data(), pub, sig)) {
      w.u32(kSignature);
      w.u32(96);
      w.bytes(pub.data(), 32);
      w.bytes(sig.data(), 64);
      b.signerKey = hex(pub.data(), 32);
    }
  }
  return w.out;
}

std::unique_ptr<Bundle> load(std::string_view bytes, const LoadOptions& options, std::string& error) {
  if (bytes.size() > kMaxBundleBytes) {
    error = "bundle is larger than " + std::to_string(kMaxBundleBytes) + " bytes";
    return nullptr;
  }
  Reader r(bytes, error);
  std::string_view magic = r.raw(8);
  if (!r.ok() || std::memcmp(magic.data(), kMagic, 8) != 0) {
    error = "not a Mandate policy bundle (bad magic)";
    return nullptr;
  }
  std::uint32_t version = r.u32();
  if (r.ok() && version != kFormatVersion) {
    error = "unsupported bundle format version " + std::to_string(version) + " (this build reads " +
            std::to_string(kFormatVersion) + ")";
    return nullptr;
  }
  std::string_view schemaHash = r.raw(32);
  std::uint32_t nsec = r.u32();
  if (!r.ok()) return nullptr;
  if (nsec != 6) {
    error = "expected 6 sections, found " + std::to_string(nsec);
    return nullptr;
  }
  auto b = std::make_unique<Bundle>();
  std::string_view payloads[7];
  for (std::uint32_t i = 0; i < nsec; ++i) {
    std::uint32_t id = r.u32();
    std::uint32_t len = r.u32();
    if (!r.ok()) return nullptr;
    if (id != i + 1) {
      error = "section " + std::to_string(i + 1) + " missing or out of order (found id " + std::to_string(id) + ")";
      return nullptr;
    }
    payloads[id] = r.raw(len);
    if (!r.ok()) return nullptr;
  }
  std::size_t contentEnd = r.pos();
  auto expect = sha256(bytes.substr(0, contentEnd));
  std::uint32_t hid = r.u32();
  std::uint32_t hlen = r.u32();
  std::string_view h = r.raw(32);
  if (!r.ok() || hid != kHash || hlen != 32) {
    error = "content hash section missing";
    return nullptr;
  }
  if (std::memcmp(h.data(), expect.data(), 32) != 0) {
    error = "content hash mismatch: the bundle was modified or corrupted";
    return nullptr;
  }
  b->contentHash = "sha256:" + hex(expect.data(), 32);
  if (!r.done()) {
    std::uint32_t sid = r.u32();
    std::uint32_t slen = r.u32();
    std::string_view sig = r.raw(96);
    if (!r.ok() || sid != kSignature || slen != 96 || !r.done()) {
      error = "unexpected data after the content hash";
      return nullptr;
    }
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(sig.data()), 32);
    bool ok = false;
    if (key != nullptr) {
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
           EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data() + 32), 64, expect.data(), 32) == 1;
      EVP_MD_CTX_free(ctx);
      EVP_PKEY_free(key);
    }
    if (!ok) {
      error = "the bundle's signature is invalid";
      return nullptr;
    }
    b->signerKey = hex(reinterpret_cast<const std::uint8_t*>(sig.data()), 32);
    if (!options.trustedKeys.empty()) {
      bool trusted = false;
      for (auto& k : options.trustedKeys) trusted |= std::memcmp(k.data(), sig.data(), 32) == 0;
      if (!trusted) {
        error = "the bundle is signed by an untrusted key " + b->signerKey;
        return nullptr;
      }
    }
  } else if (options.requireSignature) {
    error = "the bundle is not signed and signatures are required";
    return nullptr;
  }

  {
    Reader s(payloads[kSchema], error);
    if (!readSchema(s, b->schema)) return nullptr;
    if (!s.done()) return (error = "trailing bytes in the schema section", nullptr);
    auto sh = sha256(payloads[kSchema]);
    if (std::memcmp(sh.data(), schemaHash.data(), 32) != 0) return (error = "schema hash mismatch", nullptr);
    std::memcpy(b->schemaHash.data(), sh.data(), 32);
  }
  {
    Reader c(payloads[kConstants], error);
    if (!readConstants(c, b->constants)) return nullptr;
    if (!c.done()) return (error = "trailing bytes in the constants section", nullptr);
  }
  {
    Reader c(payloads[kCode], error);
    std::uint32_t n = c.count(5, 1 << 24, "instruction");
    b->code.resize(n);
    for (auto& i : b->code) {
      std::uint8_t op = c.u8();
      i.a = c.u32();
      if (op >= static_cast<std::uint8_t>(bc::Op::kCount)) return (error = "invalid opcode " + std::to_string(op), nullptr);
      i.op = static_cast<bc::Op>(op);
    }
    if (!c.ok()) return nullptr;
    if (!c.done()) return (error = "trailing bytes in the code section", nullptr);
  }
  {
    Reader c(payloads[kRules], error);
    if (!readRules(c, b->rules)) return nullptr;
    if (!c.done()) return (error = "trailing bytes in the rules section", nullptr);
  }
  {
    Reader c(payloads[kDebug], error);
    std::uint32_t n = c.count(16, 1 << 24, "debug entry");
    b->debug.resize(n);
    for (auto& d : b->debug) {
      d.pc = c.u32();
      d.line = c.u32();
      d.col = c.u32();
      d.text = c.str();
    }
    if (!c.ok()) return nullptr;
    if (!c.done()) return (error = "trailing bytes in the debug section", nullptr);
  }
  {
    Reader c(payloads[kMeta], error);
    b->worstCaseInstructions = c.u64();
    b->maxStack = c.u32();
    if (!c.ok()) return nullptr;
    if (!c.done()) return (error = "trailing bytes in the meta section", nullptr);
  }
  if (!verify(*b, error)) {
    error = "verification failed: " + error;
    return nullptr;
  }
  b->materialize();
  return b;
}

bool makeSigner(const std::string& privatePem, Signer& out, std::string& error) {
  BIO* bio = BIO_new_mem_buf(privatePem.data(), static_cast<int>(privatePem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    error = "not an Ed25519 private key in PEM form (make one with: openssl genpkey -algorithm ed25519)";
    return false;
  }
  std::shared_ptr<EVP_PKEY> shared(key, EVP_PKEY_free);
  out = [shared](const std::uint8_t* hash, PublicKey& pub, std::array<std::uint8_t, 64>& sig) {
    std::size_t publen = 32, siglen = 64;
    if (EVP_PKEY_get_raw_public_key(shared.get(), pub.data(), &publen) != 1) return false;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, shared.get()) == 1 &&
              EVP_DigestSign(ctx, sig.data(), &siglen, hash, 32) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  };
  return true;
}

bool publicKeyFromPem(const std::string& pem, PublicKey& out, std::string& error) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr && bio != nullptr) {
    BIO_free(bio);
    bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  }
  BIO_free(bio);
  std::size_t len = 32;
  bool ok = key != nullptr && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 &&
            EVP_PKEY_get_raw_public_key(key, out.data(), &len) == 1;
  EVP_PKEY_free(key);
  if (!ok) error = "not an Ed25519 key in PEM form";
  return ok;
}

}  // namespace mandate::bundle
