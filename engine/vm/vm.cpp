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

struct RunResult {
  EvalError error = EvalError::None;
  std::uint32_t slot = 0;
  Value value;
  bool usedProduct = false;  // PRODUCT was executed: the result may differ between products
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
RunResult run(const bundle::Bundle& b, const Frame& in, std::uint32_t pc, std::int64_t product, std::uint64_t& count,
              Trace* trace, std::uint32_t rule, std::int32_t traceProduct) {
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
        bool ok = true;
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
      case Op::NEG_D: stack[sp - 1] = bundle::decimalValue(-bundle::decimalOf(stack[sp - 1])); break;
      case Op::I2D: stack[sp - 1] = bundle::decimalValue(static_cast<__int128>(stack[sp - 1].a) * kScale); break;
      case Op::I2D_UNDER: stack[sp - 2] = bundle::decimalValue(static_cast<__int128>(stack[sp - 2].a) * kScale); break;
      case Op::RET:
        r.value = stack[sp - 1];
        return r;
      case Op::kCount:
        break;
    }
  }
fail:
  return r;
}

int compareLimit(TypeKind t, const Value& x, const Value& y) { return bundle::compareElements(t, x, y); }

void recordError(Decision& d, std::uint32_t rule, const RunResult& r) {
  if (d.errorCount < kMaxErrors) {
    d.errors[d.errorCount++] = RuleError{rule, r.error, r.slot};
  } else {
    ++d.errorsDropped;
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
  actions = b.schema.actions.size();
  permitted.assign(actions, 0);
  denied.assign(actions, 0);
  denyRule.assign(actions * 64, -1);
  // Value{} is all-zero bytes; memset instead of assign(n, Value{}), which compiled to a
  // 16-byte store loop over limits x actions x 64 cells (most of the cost of a small decision).
  static_assert(std::is_trivially_copyable_v<Value>);
  limit.resize(b.schema.limits.size() * actions * 64);
  if (!limit.empty()) std::memset(static_cast<void*>(limit.data()), 0, limit.size() * sizeof(Value));
  limitRule.assign(b.schema.limits.size() * actions * 64, -1);
  aal.assign(actions * 64, 0);
  authAgeMs.assign(actions * 64, -1);
  ttlCapMs = -1;
  errorCount = 0;
  errorsDropped = 0;
  outcome.assign(b.rules.size(), Outcome::NotApplicable);
  instructions = 0;
}

void evaluate(const bundle::Bundle& b, const Frame& in, Decision& d, Trace* trace) {
  d.reset(b);
  const std::size_t actions = d.actions;
  const std::size_t products = std::max<std::size_t>(1, b.schema.productCount());
  for (std::uint32_t ri = 0; ri < b.rules.size(); ++ri) {
    const bundle::Rule& rule = b.rules[ri];
    std::uint64_t productsTouched = 0;
    for (std::size_t a = 0; a < actions; ++a) productsTouched |= rule.target[a];
    if (rule.productDependent) {
      productsTouched &= rule.productFilter;
      // The conjuncts that do not read `product` run once for every class.
      if (rule.preLen > 0) {
        RunResult pre = run(b, in, rule.preStart, 0, d.instructions, trace, ri, -1);
        if (pre.error != EvalError::None) {
          recordError(d, ri, pre);
          d.outcome[ri] = Outcome::Errored;
          if (rule.kind == bundle::RuleKind::Permit) continue;
          for (std::size_t a = 0; a < actions; ++a) {
            std::uint64_t fresh = rule.target[a] & ~d.denied[a];
            d.denied[a] |= rule.target[a];
            for (; fresh != 0; fresh &= fresh - 1) d.denyRule[a * 64 + std::countr_zero(fresh)] = static_cast<std::int32_t>(ri);
          }
          continue;
        }
        if (pre.value.a == 0) continue;
      }
    }
    std::size_t passes = rule.productDependent ? products : 1;
    // A product-dependent rule runs once per product class, but when a run never reached
    // PRODUCT (e.g. `subject.residence == GB and product in CFDS` for a non-GB subject) every
    // other product would take the same path to the same result: reuse it, and its
    // instruction count, instead of running again. Not while tracing (events name the product).
    bool reuse = false;
    bool cachedApplies = false;
    RunResult cachedRes;
    Value cachedV;
    std::uint64_t cachedInstructions = 0;
    for (std::size_t p = 0; p < passes; ++p) {
      // The cells this pass decides: all target cells, or the cells of product p.
      std::uint64_t cellMask = rule.productDependent ? (1ULL << p) : ~0ULL;
      if (rule.productDependent && !((productsTouched >> p) & 1)) continue;
      std::int32_t tp = rule.productDependent ? static_cast<std::int32_t>(p) : -1;
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
        if (rule.productDependent && trace == nullptr && !usedProduct) {
          reuse = true;
          cachedRes = res;
          cachedApplies = applies;
          cachedV = v;
          cachedInstructions = d.instructions - before;
        }
      }
      if (res.error != EvalError::None) {
        recordError(d, ri, res);
        d.outcome[ri] = Outcome::Errored;
        // Fail closed: an error in any rule but a permit denies the cells the rule covers.
        if (rule.kind == bundle::RuleKind::Permit) continue;
        for (std::size_t a = 0; a < actions; ++a) {
          std::uint64_t m = rule.target[a] & (rule.productDependent && b.schema.actionHasProducts[a] ? cellMask : ~0ULL);
          if (rule.productDependent && !b.schema.actionHasProducts[a] && p != 0) m = 0;
          std::uint64_t fresh = m & ~d.denied[a];
          d.denied[a] |= m;
          for (; fresh != 0; fresh &= fresh - 1) d.denyRule[a * 64 + std::countr_zero(fresh)] = static_cast<std::int32_t>(ri);
        }
        continue;
      }
      if (!applies) continue;
      if (d.outcome[ri] != Outcome::Errored) d.outcome[ri] = Outcome::Fired;
      for (std::size_t a = 0; a < actions; ++a) {
        std::uint64_t m = rule.target[a];
        if (rule.productDependent) m &= b.schema.actionHasProducts[a] ? cellMask : (p == 0 ? ~0ULL : 0);
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
            TypeKind lt = b.schema.limits[rule.limit].type.kind;
            std::size_t base = static_cast<std::size_t>(rule.limit) * actions * 64 + a * 64;
            for (std::uint64_t bits = m; bits != 0; bits &= bits - 1) {
              std::size_t q = static_cast<std::size_t>(std::countr_zero(bits));
              if (d.limitRule[base + q] < 0 || compareLimit(lt, v, d.limit[base + q]) < 0) {
                d.limit[base + q] = v;
                d.limitRule[base + q] = static_cast<std::int32_t>(ri);
              }
            }
            break;
          }
          case bundle::RuleKind::RequireAal:
            for (std::uint64_t bits = m; bits != 0; bits &= bits - 1) {
              std::size_t q = static_cast<std::size_t>(std::countr_zero(bits));
              if (v.a > d.aal[a * 64 + q]) d.aal[a * 64 + q] = v.a;
            }
            break;
          case bundle::RuleKind::RequireAuthAge: {
            // A negative bound is as strict as 0 (and must not read as -1, "no requirement").
            std::int64_t age = std::max<std::int64_t>(0, v.a);
            for (std::uint64_t bits = m; bits != 0; bits &= bits - 1) {
              std::size_t q = static_cast<std::size_t>(std::countr_zero(bits));
              if (d.authAgeMs[a * 64 + q] < 0 || age < d.authAgeMs[a * 64 + q]) d.authAgeMs[a * 64 + q] = age;
            }
            break;
          }
          case bundle::RuleKind::CapTtl:
            if (d.ttlCapMs < 0 || v.a < d.ttlCapMs) d.ttlCapMs = std::max<std::int64_t>(0, v.a);
            break;
        }
        if (rule.kind == bundle::RuleKind::CapTtl) break;  // token-wide: once
      }
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
