#include "bundle/bundle.h"

#include <algorithm>
#include <cstring>

namespace mandate::bundle {

const char* ruleKindName(RuleKind k) {
  switch (k) {
    case RuleKind::Permit: return "permit";
    case RuleKind::Deny: return "deny";
    case RuleKind::Limit: return "limit";
    case RuleKind::RequireAal: return "require aal";
    case RuleKind::RequireAuthAge: return "require auth_age";
    case RuleKind::CapTtl: return "cap ttl";
  }
  return "?";
}

std::string countryText(std::int64_t v) {
  return std::string{static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

int compareElements(TypeKind elem, const Value& x, const Value& y) {
  switch (elem) {
    case TypeKind::String:
    case TypeKind::Region: {
      std::size_t n = static_cast<std::size_t>(std::min(x.b, y.b));
      int c = n == 0 ? 0 : std::memcmp(reinterpret_cast<const void*>(x.a), reinterpret_cast<const void*>(y.a), n);
      if (c != 0) return c < 0 ? -1 : 1;
      return x.b < y.b ? -1 : (x.b > y.b ? 1 : 0);
    }
    case TypeKind::Decimal: {
      __int128 a = decimalOf(x), b = decimalOf(y);
      return a < b ? -1 : (a > b ? 1 : 0);
    }
    case TypeKind::Ip: {
      auto ua = static_cast<std::uint64_t>(x.a), ub = static_cast<std::uint64_t>(y.a);
      if (ua != ub) return ua < ub ? -1 : 1;
      auto la = static_cast<std::uint64_t>(x.b), lb = static_cast<std::uint64_t>(y.b);
      return la < lb ? -1 : (la > lb ? 1 : 0);
    }
    default:
      return x.a < y.a ? -1 : (x.a > y.a ? 1 : 0);
  }
}

bool cidrContains(const Cidr& c, std::uint64_t hi, std::uint64_t lo) {
  if (c.prefix == 0) return true;
  if (c.prefix <= 64) {
    std::uint64_t mask = c.prefix == 64 ? ~0ULL : ~(~0ULL >> c.prefix);
    return (hi & mask) == (c.hi & mask);
  }
  if (hi != c.hi) return false;
  unsigned p = c.prefix - 64u;
  std::uint64_t mask = p == 64 ? ~0ULL : ~(~0ULL >> p);
  return (lo & mask) == (c.lo & mask);
}

void Bundle::materialize() {
  constValues.assign(constants.size(), Value{});
  for (std::size_t i = 0; i < constants.size(); ++i) {
    Constant& c = constants[i];
    switch (c.kind) {
      case ConstKind::Scalar:
      case ConstKind::EnumMask: constValues[i] = c.scalar; break;
      case ConstKind::String:
        constValues[i] = Value{reinterpret_cast<std::int64_t>(c.str.data()), static_cast<std::int64_t>(c.str.size())};
        break;
      case ConstKind::Cidr: constValues[i] = Value{reinterpret_cast<std::int64_t>(&c.cidr), 0}; break;
      case ConstKind::Set: {
        SetData& s = c.set;
        if (s.elem == TypeKind::String || s.elem == TypeKind::Region) {
          s.items.clear();
          for (auto& str : s.strs)
            s.items.push_back(Value{reinterpret_cast<std::int64_t>(str.data()), static_cast<std::int64_t>(str.size())});
        }
        if (s.elem == TypeKind::Cidr) {
          s.items.clear();
          for (auto& cd : s.cidrs) s.items.push_back(Value{reinterpret_cast<std::int64_t>(&cd), 0});
        } else {
          std::sort(s.items.begin(), s.items.end(),
                    [&](const Value& x, const Value& y) { return compareElements(s.elem, x, y) < 0; });
        }
        constValues[i] = Value{reinterpret_cast<std::int64_t>(&s), 0};
        break;
      }
    }
  }
  for (Rule& r : rules) {
    r.classes = 0;
    for (std::uint64_t m : r.target) r.classes |= m;
    if (r.productDependent) r.classes &= r.productFilter;
  }
}

}  // namespace mandate::bundle
