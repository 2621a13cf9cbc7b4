#include "vm/vm.h"

#include "value/literals.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <type_traits>

namespace mandate::vm {
namespace {

using bc::Op;
using bundle::Value;

constexpr __int128 kScale = static_cast<__int128>(1'000'000'000'000'000'000LL);  // 10^18
constexpr __int128 kDecMax = kScale * kScale * 100;                                // 10^38

bool inDecimalRange(__int128 x) { return x <= kDecMax && x >= -kDecMax; }

struct RunResult {
  EvalError error = EvalError::None;
  std::uint32_t slot = 0;
  Value value;
  bool usedProduct = false;  // PRODUCT was executed: the result may differ between products
  std::uint64_t live = 0;    // mask conditions: the live classes when the run ended (on error: those that fail)
};

bool strEq(const Value& x, const Value& y) {
  return x.b == y.b && (x.b == 0 || std::memcmp(reinterpret_cast<const void*>(x.a), reinterpret_cast<const void*>(y.a),
                                                static_cast<std::size_t>(x.b)) == 0);
}

bool inSet(const bundle::SetData& set, const Value& x) {
  switch (set.elem) {
    case TypeKind::String:
    case TypeKind::Region:
    case TypeKind::Decimal:
    case TypeKind::Ip:
      return std::binary_search(set.items.begin(), set.items.end(), x, [&](const Value& p, const Value& q) {
        return bundle::compareElements(set.elem, p, q) < 0;
      });
    default:
      // Every other element type is ordered by `a` alone (compareElements' default case):
      // compare inline instead of calling out for each probe.
      return std::binary_search(set.items.begin(), set.items.end(), x,
                                [](const Value& p, const Value& q) { return p.a < q.a; });
  }
}

bool inCidrs(const bundle::SetData& set, const Value& ip) {
  for (const auto& item : set.items) {
    if (bundle::cidrContains(*reinterpret_cast<const bundle::Cidr*>(item.a), static_cast<std::uint64_t>(ip.a),
                             static_cast<std::uint64_t>(ip.b)))
      return true;
  }
  return false;
}

// The one dispatch function: a switch in a loop with a single error exit.
// `live` is the register L of mask conditions (ops.def): the classes the rule decides.
RunResult run(const bundle::Bundle& b, const Frame& in, std::uint32_t pc, std::int64_t product, std::uint64_t& count,
              Trace* trace, std::uint32_t rule, std::int32_t traceProduct, std::uint64_t live = 0) {
  // Left uninitialized: every slot is written before it is read (the loader verifies stack
  // use), and zero-filling kMaxStack values on every call cost more than running a small rule.
  union Stack {
    Stack() {}
    Value v[kMaxStack];
  } storage;
  Value* stack = storage.v;
  std::size_t sp = 0;
  const bc::Instr* code = b.code.data();
  const Value* K = b.constValues.data();
  RunResult r;
  for (;;) {
    const bc::Instr& ins = code[pc];
    ++count;
    ++pc;
    switch (ins.op) {
      case Op::CONST: stack[sp++] = K[ins.a]; break;
      case Op::LOAD:
        if (!in.present[ins.a]) {
          r.error = EvalError::Absent;
          r.slot = ins.a;
          goto fail;
        }
        stack[sp++] = in.slots[ins.a];
        if (trace) trace->events.push_back({rule, traceProduct, pc - 1, stack[sp - 1], true});
        break;
      case Op::HAS:
        stack[sp++] = Value{in.present[ins.a] ? 1 : 0, 0};
        if (trace) trace->events.push_back({rule, traceProduct, pc - 1, stack[sp - 1], false});
        break;
      case Op::PRODUCT:
        stack[sp++] = Value{product, 0};
        r.usedProduct = true;
        break;
      case Op::NOW:
        if (!in.hasNow) {
          r.error = EvalError::NoNow;
          goto fail;
        }
        stack[sp++] = Value{in.nowMs, 0};
        break;
      case Op::DUP: stack[sp] = stack[sp - 1]; ++sp; break;
      case Op::POP: --sp; break;
      case Op::JMP: pc = ins.a; break;
      case Op::JMPF:
        if (!stack[--sp].a) pc = ins.a;
        break;
      case Op::JMPT:
        if (stack[--sp].a) pc = ins.a;
        break;
      case Op::ANDJ:
        if (!stack[sp - 1].a) {
          pc = ins.a;
        } else {
          --sp;
        }
        break;
      case Op::ORJ:
        if (stack[sp - 1].a) {
          pc = ins.a;
        } else {
          --sp;
        }
        break;
      case Op::NOT:
        stack[sp - 1] = Value{stack[sp - 1].a ? 0 : 1, 0};
        if (trace) trace->events.push_back({rule, traceProduct, pc - 1, stack[sp - 1], false});  // `not in`
        break;
#define BINARY(expr)                                                                  \
  {                                                                                   \
    const Value& x = stack[sp - 2];                                                   \
    const Value& y = stack[sp - 1];                                                   \
    Value res{(expr) ? 1 : 0, 0};                                                     \
    --sp;                                                                             \
    stack[sp - 1] = res;                                                              \
    if (trace) trace->events.push_back({rule, traceProduct, pc - 1, stack[sp - 1], false}); \
  }
      case Op::EQ_W: BINARY(x.a == y.a && x.b == y.b) break;
      case Op::NE_W: BINARY(x.a != y.a || x.b != y.b) break;
      case Op::EQ_STR: BINARY(strEq(x, y)) break;
      case Op::NE_STR: BINARY(!strEq(x, y)) break;
      case Op::LT_I: BINARY(x.a < y.a) break;
      case Op::LE_I: BINARY(x.a <= y.a) break;
      case Op::GT_I: BINARY(x.a > y.a) break;
      case Op::GE_I: BINARY(x.a >= y.a) break;
      case Op::LT_D: BINARY(bundle::decimalOf(x) < bundle::decimalOf(y)) break;
      case Op::LE_D: BINARY(bundle::decimalOf(x) <= bundle::decimalOf(y)) break;
      case Op::GT_D: BINARY(bundle::decimalOf(x) > bundle::decimalOf(y)) break;
      case Op::GE_D: BINARY(bundle::decimalOf(x) >= bundle::decimalOf(y)) break;
      case Op::IN_MASK: BINARY((static_cast<std::uint64_t>(y.a) >> (x.a & 63)) & 1) break;
      case Op::IN_SET: BINARY(inSet(*reinterpret_cast<const bundle::SetData*>(y.a), x)) break;
      case Op::IN_CIDR:
        BINARY(bundle::cidrContains(*reinterpret_cast<const bundle::Cidr*>(y.a), static_cast<std::uint64_t>(x.a),
                                    static_cast<std::uint64_t>(x.b)))
        break;
      case Op::IN_CIDRS: BINARY(inCidrs(*reinterpret_cast<const bundle::SetData*>(y.a), x)) break;
#undef BINARY
      case Op::ADD_I:
      case Op::SUB_I:
      case Op::MUL_I:
      case Op::DIV_I: {
        std::int64_t x = stack[sp - 2].a, y = stack[sp - 1].a, z = 0;
        bool bad = false;
        if (ins.op == Op::ADD_I) bad = __builtin_add_overflow(x, y, &z);
        if (ins.op == Op::SUB_I) bad = __builtin_sub_overflow(x, y, &z);
        if (ins.op == Op::MUL_I) bad = __builtin_mul_overflow(x, y, &z);
        if (ins.op == Op::DIV_I) {
          if (y == 0) {
            r.error = EvalError::DivideByZero;
            goto fail;
          }
          bad = x == INT64_MIN && y == -1;
          if (!bad) z = x / y;
        }
        if (bad) {
          r.error = EvalError::Overflow;
          goto fail;
        }
        --sp;
        stack[sp - 1] = Value{z, 0};
        break;
      }
      case Op::NEG_I:
        if (stack[sp - 1].a == INT64_MIN) {
          r.error = EvalError::Overflow;
          goto fail;
        }
        stack[sp - 1].a = -stack[sp - 1].a;
        break;
      case Op::ADD_D:
      case Op::SUB_D:
      case Op::MUL_D:
      case Op::DIV_D: {
        __int128 x = bundle::decimalOf(stack[sp - 2]), y = bundle::decimalOf(stack[sp - 1]), z = 0;
        // Operands outside the decimal range (only a crafted bundle can make them: a scalar
        // constant of another type read as a decimal) would break the helpers' preconditions.
        bool ok = inDecimalRange(x) && inDecimalRange(y);
        if (!ok) {
          r.error = EvalError::Overflow;
          goto fail;
        }
        if (ins.op == Op::ADD_D) ok = !__builtin_add_overflow(x, y, &z) && z <= kDecMax && z >= -kDecMax;
        if (ins.op == Op::SUB_D) ok = !__builtin_sub_overflow(x, y, &z) && z <= kDecMax && z >= -kDecMax;
        if (ins.op == Op::MUL_D) ok = lit::mulDecimal(x, y, z);
        if (ins.op == Op::DIV_D) {
          if (y == 0) {
            r.error = EvalError::DivideByZero;
            goto fail;
          }
          ok = lit::divDecimal(x, y, z);
        }
        if (!ok) {
          r.error = EvalError::Overflow;
          goto fail;
        }
        --sp;
        stack[sp - 1] = bundle::decimalValue(z);
        break;
      }
      case Op::NEG_D: {
        __int128 x = bundle::decimalOf(stack[sp - 1]);
        if (!inDecimalRange(x)) {  // see DIV_D
          r.error = EvalError::Overflow;
          goto fail;
        }
        stack[sp - 1] = bundle::decimalValue(-x);
        break;
      }
      case Op::I2D: stack[sp - 1] = bundle::decimalValue(static_cast<__int128>(stack[sp - 1].a) * kScale); break;
      case Op::I2D_UNDER: stack[sp - 2] = bundle::decimalValue(static_cast<__int128>(stack[sp - 2].a) * kScale); break;
      case Op::RET:
        r.value = stack[sp - 1];
        r.live = live;
        return r;
      case Op::B2M: stack[sp - 1] = Value{stack[sp - 1].a ? -1 : 0, 0}; break;
      case Op::MNOT: stack[sp - 1] = Value{~stack[sp - 1].a, 0}; break;
      case Op::NARROW:
        live &= static_cast<std::uint64_t>(stack[--sp].a);
        if (live == 0) pc = ins.a;
        break;
      case Op::LIVE: stack[sp++] = Value{static_cast<std::int64_t>(live), 0}; break;
      case Op::kCount:
        break;
    }
  }
fail:
  r.live = live;
  return r;
}

void recordError(Decision& d, std::uint32_t rule, const RunResult& r) {
  if (d.errorCount < kMaxErrors) {
    d.errors[d.errorCount++] = RuleError{rule, r.error, r.slot};
  } else {
    ++d.errorsDropped;
  }
}

// The cells of action `a` that a rule decides for the product classes in `classes`. An action
// without product classes has the one cell of class 0.
inline std::uint64_t cellsFor(const Schema& s, const bundle::Rule& rule, std::size_t a, std::uint64_t classes) {
  return s.actionHasProducts[a] ? rule.target[a] & classes : ((classes & 1) ? rule.target[a] : 0);
}

// Fail closed: an error in any rule but a permit denies the cells it covers for `classes`.
void failClosed(const bundle::Bundle& b, Decision& d, std::uint32_t ri, const bundle::Rule& rule, std::uint64_t classes) {
  if (rule.kind == bundle::RuleKind::Permit) return;
  for (std::size_t a = 0; a < d.actions; ++a) {
    std::uint64_t m = cellsFor(b.schema, rule, a, classes);
    std::uint64_t fresh = m & ~d.denied[a];
    d.denied[a] |= m;
    for (; fresh != 0; fresh &= fresh - 1) d.denyRule[a * 64 + std::countr_zero(fresh)] = static_cast<std::int32_t>(ri);
  }
}

// Records `r`'s error once for each class in `classes` (once when the rule does not read
// `product`), in class order, and fails closed on them.
void errorFor(const bundle::Bundle& b, Decision& d, std::uint32_t ri, const bundle::Rule& rule, const RunResult& r,
              std::uint64_t classes) {
  int n = rule.productDependent ? std::popcount(classes) : 1;
  for (int i = 0; i < n; ++i) recordError(d, ri, r);
  d.outcome[ri] = Outcome::Errored;
  failClosed(b, d, ri, rule, rule.productDependent ? classes : ~0ULL);
}

// A rule whose condition holds for the classes in `classes` (all ones: a rule that does not
// read `product`) takes effect on its target cells; `valueOf(q)` is its value for class q.
template <class ValueOf>
void apply(const bundle::Bundle& b, Decision& d, std::uint32_t ri, const bundle::Rule& rule, std::uint64_t classes,
           ValueOf valueOf) {
  if (d.outcome[ri] != Outcome::Errored) d.outcome[ri] = Outcome::Fired;
  const std::size_t actions = d.actions;
  if (rule.kind == bundle::RuleKind::CapTtl) {  // token-wide: once per class that covers a cell
    // Bit q: class q covers a cell (an action without classes has its cell at class 0).
    std::uint64_t covered = 0;
    for (std::size_t a = 0; a < actions; ++a) covered |= cellsFor(b.schema, rule, a, classes);
    if (!rule.productDependent && covered != 0) covered = 1;  // one value
    for (; covered != 0; covered &= covered - 1) {
      Value v = valueOf(static_cast<std::size_t>(std::countr_zero(covered)));
      if (d.ttlCapMs < 0 || v.a < d.ttlCapMs) d.ttlCapMs = std::max<std::int64_t>(0, v.a);
    }
    return;
  }
  for (std::size_t a = 0; a < actions; ++a) {
    std::uint64_t m = cellsFor(b.schema, rule, a, classes);
    if (m == 0) continue;
    switch (rule.kind) {
      case bundle::RuleKind::Permit: d.permitted[a] |= m; break;
      case bundle::RuleKind::Deny: {
        std::uint64_t fresh = m & ~d.denied[a];
        d.denied[a] |= m;
        for (; fresh != 0; fresh &= fresh - 1) d.denyRule[a * 64 + std::countr_zero(fresh)] = static_cast<std::int32_t>(ri);
        break;
      }
      case bundle::RuleKind::Limit: {
        // Limit types are int, duration (ordered by `a`) and decimal (verified by the loader).
        const bool dec = b.schema.limits[rule.limit].type.kind == TypeKind::Decimal;
        const std::size_t base = static_cast<std::size_t>(rule.limit) * actions * 64 + a * 64;
        d.written[static_cast<std::size_t>(rule.limit) * actions + a] |= m;
        for (std::uint64_t bits = m; bits != 0; bits &= bits - 1) {
          std::size_t q = static_cast<std::size_t>(std::countr_zero(bits));
          Value v = valueOf(q);
          const Value& cur = d.limit[base + q];
          if (d.limitRule[base + q] < 0 || (dec ? bundle::decimalOf(v) < bundle::decimalOf(cur) : v.a < cur.a)) {
            d.limit[base + q] = v;
            d.limitRule[base + q] = static_cast<std::int32_t>(ri);
          }
        }
        break;
      }
      case bundle::RuleKind::RequireAal:
        d.written[b.schema.limits.size() * actions + a] |= m;
        for (std::uint64_t bits = m; bits != 0; bits &= bits - 1) {
          std::size_t q = static_cast<std::size_t>(std::countr_zero(bits));
          Value v = valueOf(q);
          if (v.a > d.aal[a * 64 + q]) d.aal[a * 64 + q] = v.a;
        }
        break;
      case bundle::RuleKind::RequireAuthAge:
        d.written[(b.schema.limits.size() + 1) * actions + a] |= m;
        for (std::uint64_t bits = m; bits != 0; bits &= bits - 1) {
          std::size_t q = static_cast<std::size_t>(std::countr_zero(bits));
          // A negative bound is as strict as 0 (and must not read as -1, "no requirement").
          std::int64_t age = std::max<std::int64_t>(0, valueOf(q).a);
          if (d.authAgeMs[a * 64 + q] < 0 || age < d.authAgeMs[a * 64 + q]) d.authAgeMs[a * 64 + q] = age;
        }
        break;
      case bundle::RuleKind::CapTtl: break;
    }
  }
}

// A product-dependent rule with a mask condition (or none: it holds for every class it
// decides), evaluated for all its classes at once. Exactly the per-class semantics: the mask
// run fails only with an error every live class would have met at the same conjunct, and
// errors are recorded once per class in class order.
void evaluateMasked(const bundle::Bundle& b, const Frame& in, Decision& d, std::uint32_t ri, const bundle::Rule& rule,
                    std::uint64_t classes) {
  if (classes == 0) return;  // no class to decide: nothing runs (a mask run would still fail)
  std::uint64_t holds = classes;
  if (rule.condLen > 0) {
    RunResult c = run(b, in, rule.maskStart, 0, d.instructions, nullptr, ri, -1, classes);
    if (c.error != EvalError::None) {
      errorFor(b, d, ri, rule, c, c.live);
      return;
    }
    holds = static_cast<std::uint64_t>(c.value.a) & classes;
  }
  if (holds == 0) return;
  if (rule.valueLen == 0) {
    apply(b, d, ri, rule, holds, [](std::size_t) { return Value{}; });
    return;
  }
  if (!rule.valueTable.empty()) {
    const Value* table = rule.valueTable.data();
    apply(b, d, ri, rule, holds, [table](std::size_t q) { return table[q]; });
    return;
  }
  // The value code, per class until a run shows it does not read `product`.
  for (std::uint64_t rest = holds; rest != 0;) {
    const auto p = static_cast<std::size_t>(std::countr_zero(rest));
    RunResult v = run(b, in, rule.valueStart, static_cast<std::int64_t>(p), d.instructions, nullptr, ri, -1);
    // Without PRODUCT the run is the same for every remaining class (instructions included).
    std::uint64_t these = v.usedProduct ? (1ULL << p) : rest;
    if (v.error != EvalError::None) {
      errorFor(b, d, ri, rule, v, these);
    } else {
      Value value = v.value;
      apply(b, d, ri, rule, these, [value](std::size_t) { return value; });
    }
    rest &= ~these;
  }
}

}  // namespace

const char* describe(EvalError e) {
  switch (e) {
    case EvalError::None: return "none";
    case EvalError::Absent: return "attribute is absent";
    case EvalError::NoNow: return "the `now` input is absent";
    case EvalError::Overflow: return "arithmetic overflow";
    case EvalError::DivideByZero: return "division by zero";
  }
  return "?";
}

void Decision::reset(const bundle::Bundle& b) {
  const std::size_t na = b.schema.actions.size(), nl = b.schema.limits.size();
  const bool sized = actions == na && permitted.size() == na && denied.size() == na && denyRule.size() == na * 64 &&
                     limit.size() == nl * na * 64 && limitRule.size() == nl * na * 64 && aal.size() == na * 64 &&
                     authAgeMs.size() == na * 64 && written.size() == (nl + 2) * na;
  if (!sized) {
    actions = na;
    permitted.assign(na, 0);
    denied.assign(na, 0);
    denyRule.assign(na * 64, -1);
    // Value{} is all-zero bytes: memset, not a 16-byte store loop.
    static_assert(std::is_trivially_copyable_v<Value>);
    limit.resize(nl * na * 64);
    if (!limit.empty()) std::memset(static_cast<void*>(limit.data()), 0, limit.size() * sizeof(Value));
    limitRule.assign(nl * na * 64, -1);
    aal.assign(na * 64, 0);
    authAgeMs.assign(na * 64, -1);
    written.assign((nl + 2) * na, 0);
  } else {
    // Clear only the cells the last evaluation wrote: a deny rule where `denied` is set, the
    // limits and obligations where `written` says so (a few cells, not 64 per action).
    for (std::size_t a = 0; a < na; ++a) {
      for (std::uint64_t m = denied[a]; m != 0; m &= m - 1) denyRule[a * 64 + std::countr_zero(m)] = -1;
      permitted[a] = 0;
      denied[a] = 0;
    }
    for (std::size_t l = 0; l < nl; ++l) {
      for (std::size_t a = 0; a < na; ++a) {
        const std::size_t base = l * na * 64 + a * 64;
        for (std::uint64_t m = written[l * na + a]; m != 0; m &= m - 1) {
          limit[base + std::countr_zero(m)] = Value{};
          limitRule[base + std::countr_zero(m)] = -1;
        }
      }
    }
    for (std::size_t a = 0; a < na; ++a) {
      for (std::uint64_t m = written[nl * na + a]; m != 0; m &= m - 1) aal[a * 64 + std::countr_zero(m)] = 0;
      for (std::uint64_t m = written[(nl + 1) * na + a]; m != 0; m &= m - 1) authAgeMs[a * 64 + std::countr_zero(m)] = -1;
    }
    std::fill(written.begin(), written.end(), 0);
  }
  ttlCapMs = -1;
  errorCount = 0;
  errorsDropped = 0;
  outcome.assign(b.rules.size(), Outcome::NotApplicable);
  instructions = 0;
}

void evaluate(const bundle::Bundle& b, const Frame& in, Decision& d, Trace* trace) {
  d.reset(b);
  const std::size_t products = std::max<std::size_t>(1, b.schema.productCount());
  for (std::uint32_t ri = 0; ri < b.rules.size(); ++ri) {
    const bundle::Rule& rule = b.rules[ri];
    if (!rule.productDependent) {
      RunResult res;
      if (rule.condLen > 0) {
        res = run(b, in, rule.condStart, 0, d.instructions, trace, ri, -1);
        if (res.error != EvalError::None) {
          errorFor(b, d, ri, rule, res, ~0ULL);
          continue;
        }
        if (res.value.a == 0) continue;
      }
      Value v;
      if (rule.valueLen > 0) {
        res = run(b, in, rule.valueStart, 0, d.instructions, trace, ri, -1);
        if (res.error != EvalError::None) {
          errorFor(b, d, ri, rule, res, ~0ULL);
          continue;
        }
        v = res.value;
      }
      apply(b, d, ri, rule, ~0ULL, [v](std::size_t) { return v; });
      continue;
    }

    // A product-dependent rule. The conjuncts that do not read `product` run once for every class.
    const std::uint64_t classes = rule.classes;
    if (rule.preLen > 0) {
      RunResult pre = run(b, in, rule.preStart, 0, d.instructions, trace, ri, -1);
      if (pre.error != EvalError::None) {
        recordError(d, ri, pre);
        d.outcome[ri] = Outcome::Errored;
        failClosed(b, d, ri, rule, ~0ULL);  // every target cell, as the whole condition failed
        continue;
      }
      if (pre.value.a == 0) continue;
    }
    if (trace == nullptr && (rule.condLen == 0 || rule.maskLen > 0)) {
      evaluateMasked(b, in, d, ri, rule, classes);
      continue;
    }

    // Per class: traces (events name the class) and conditions without a mask form. When a
    // run never reached PRODUCT (e.g. `subject.residence == GB and product in CFDS` for a
    // non-GB subject) every other class would take the same path to the same result: reuse
    // it, and its instruction count, instead of running again. Not while tracing.
    bool reuse = false;
    bool cachedApplies = false;
    RunResult cachedRes;
    Value cachedV;
    std::uint64_t cachedInstructions = 0;
    for (std::size_t p = 0; p < products; ++p) {
      if (!((classes >> p) & 1)) continue;
      const std::int32_t tp = static_cast<std::int32_t>(p);
      bool applies = true;
      RunResult res;
      Value v;
      if (reuse) {
        res = cachedRes;
        applies = cachedApplies;
        v = cachedV;
        d.instructions += cachedInstructions;
      } else {
        const std::uint64_t before = d.instructions;
        bool usedProduct = false;
        if (rule.condLen > 0) {
          res = run(b, in, rule.condStart, static_cast<std::int64_t>(p), d.instructions, trace, ri, tp);
          applies = res.error == EvalError::None && res.value.a != 0;
          usedProduct = res.usedProduct;
        }
        if (res.error == EvalError::None && applies && rule.valueLen > 0) {
          if (!rule.valueTable.empty()) {
            v = rule.valueTable[p];
            usedProduct = true;  // the value differs per class: never reuse it for another
          } else {
            res = run(b, in, rule.valueStart, static_cast<std::int64_t>(p), d.instructions, trace, ri, tp);
            v = res.value;
            usedProduct = usedProduct || res.usedProduct;
          }
        }
        if (trace == nullptr && !usedProduct) {
          reuse = true;
          cachedRes = res;
          cachedApplies = applies;
          cachedV = v;
          cachedInstructions = d.instructions - before;
        }
      }
      if (res.error != EvalError::None) {
        errorFor(b, d, ri, rule, res, 1ULL << p);
        continue;
      }
      if (!applies) continue;
      apply(b, d, ri, rule, 1ULL << p, [v](std::size_t) { return v; });
    }
  }
}

bool evaluateConstantRange(const bundle::Bundle& b, std::uint32_t start, std::int64_t product, Value& out) {
  Frame none;
  none.slots.assign(b.schema.attrs.size(), Value{});
  none.present.assign(b.schema.attrs.size(), 0);
  std::uint64_t count = 0;
  RunResult r = run(b, none, start, product, count, nullptr, 0, -1);
  if (r.error != EvalError::None) return false;
  out = r.value;
  return true;
}

}  // namespace mandate::vm
