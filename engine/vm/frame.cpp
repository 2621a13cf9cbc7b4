#include "vm/frame.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "value/literals.h"

namespace mandate::vm {
namespace {

using bundle::Value;

bool ip128(const std::string& text, std::uint64_t& hi, std::uint64_t& lo) {
  unsigned char buf[16] = {};
  if (text.size() > 45) return false;
  if (text.find(':') == std::string::npos) {
    std::uint32_t v4;
    std::string why;
    if (!lit::parseIpv4(text, v4, why)) return false;
    buf[10] = buf[11] = 0xFF;
    buf[12] = static_cast<unsigned char>(v4 >> 24);
    buf[13] = static_cast<unsigned char>(v4 >> 16);
    buf[14] = static_cast<unsigned char>(v4 >> 8);
    buf[15] = static_cast<unsigned char>(v4);
  } else if (inet_pton(AF_INET6, text.c_str(), buf) != 1) {
    return false;
  }
  hi = lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | buf[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | buf[i];
  return true;
}

class Filler {
 public:
  Filler(const Schema& s, Frame& f, std::vector<std::string>& errors) : s_(s), f_(f), errors_(errors) {}

  // Converts one JSON scalar to a value of kind k (enumId for enums); false with a reason.
  bool scalar(TypeKind k, int enumId, const nlohmann::json& j, Value& out, std::string& why) {
    switch (k) {
      case TypeKind::Bool:
        if (!j.is_boolean()) return (why = "expected true or false", false);
        out.a = j.get<bool>() ? 1 : 0;
        return true;
      case TypeKind::Int:
        if (!j.is_number_integer()) return (why = "expected an integer", false);
        if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
          return (why = "integer out of range", false);
        out.a = j.get<std::int64_t>();
        return true;
      case TypeKind::Decimal: {
        // Exact: decimals come as strings ("12.50") or integers; JSON fractions are read from
        // their shortest text, never through binary arithmetic.
        std::string text;
        if (j.is_string()) {
          text = j.get<std::string>();
        } else if (j.is_number()) {
          text = j.dump();
        } else {
          return (why = "expected a decimal (string or number)", false);
        }
        bool neg = !text.empty() && text[0] == '-';
        lit::Decimal d;
        if (text.find_first_of("eE") != std::string::npos || !lit::parseDecimal(neg ? text.substr(1) : text, d, why)) {
          if (why.empty()) why = "expected a plain decimal number";
          return false;
        }
        out = bundle::decimalValue(neg ? -d.units : d.units);
        return true;
      }
      case TypeKind::String:
      case TypeKind::Region: {
        if (!j.is_string()) return (why = "expected a string", false);
        std::string v = j.get<std::string>();
        if (k == TypeKind::Region && !lit::isRegion(v, why)) return false;
        f_.strings.push_back(std::move(v));
        out.a = reinterpret_cast<std::int64_t>(f_.strings.back().data());
        out.b = static_cast<std::int64_t>(f_.strings.back().size());
        return true;
      }
      case TypeKind::Country: {
        if (!j.is_string() || !lit::isCountry(j.get<std::string>()))
          return (why = "expected an ISO 3166-1 alpha-2 country code", false);
        out.a = bundle::countryValue(j.get<std::string>());
        return true;
      }
      case TypeKind::Ip: {
        std::uint64_t hi, lo;
        if (!j.is_string() || !ip128(j.get<std::string>(), hi, lo)) return (why = "expected an IP address", false);
        out.a = static_cast<std::int64_t>(hi);
        out.b = static_cast<std::int64_t>(lo);
        return true;
      }
      case TypeKind::Cidr: {
        if (!j.is_string()) return (why = "expected a CIDR block", false);
        std::string t = j.get<std::string>();
        std::string e;
        if (!lit::parseCidr(t, e)) return (why = "expected a CIDR block: " + e, false);
        auto slash = t.find('/');
        bundle::Cidr c;
        ip128(t.substr(0, slash), c.hi, c.lo);
        int p = std::atoi(t.c_str() + slash + 1);
        c.prefix = static_cast<std::uint8_t>(t.find(':') == std::string::npos ? p + 96 : p);
        f_.cidrs.push_back(c);
        out.a = reinterpret_cast<std::int64_t>(&f_.cidrs.back());
        return true;
      }
      case TypeKind::Time: {
        std::int64_t secs;
        if (j.is_number_integer()) {
          secs = j.get<std::int64_t>();
        } else if (!j.is_string() || !lit::parseTime(j.get<std::string>(), secs, why)) {
          if (why.empty()) why = "expected a time (YYYY-MM-DDTHH:MM:SSZ or seconds since 1970)";
          return false;
        }
        if (secs > INT64_MAX / 1000 || secs < INT64_MIN / 1000) return (why = "time out of range", false);
        out.a = secs * 1000;
        return true;
      }
      case TypeKind::Duration: {
        if (j.is_number_integer()) {
          std::int64_t secs = j.get<std::int64_t>();
          if (secs > INT64_MAX / 1000 || secs < 0) return (why = "duration out of range", false);
          out.a = secs * 1000;
          return true;
        }
        if (!j.is_string() || !lit::parseDuration(j.get<std::string>(), out.a, why)) {
          if (why.empty()) why = "expected a duration such as \"15m\" or a number of seconds";
          return false;
        }
        return true;
      }
      case TypeKind::Enum: {
        if (!j.is_string()) return (why = "expected one of the values of " + s_.enums[enumId].name, false);
        int v = s_.enums[enumId].indexOf(j.get<std::string>());
        if (v < 0) return (why = "`" + j.get<std::string>() + "` is not a value of " + s_.enums[enumId].name, false);
        out.a = v;
        return true;
      }
      default:
        return (why = "unsupported type", false);
    }
  }

  bool value(const AttrInfo& a, const nlohmann::json& j, Value& out, std::string& why) {
    if (a.type.kind != TypeKind::Set) return scalar(a.type.kind, a.type.enumId, j, out, why);
    if (!j.is_array()) return (why = "expected an array", false);
    TypeKind elem = a.type.elem;
    if (elem == TypeKind::Enum) {
      std::uint64_t mask = 0;
      for (auto& x : j) {
        Value v;
        if (!scalar(elem, a.type.enumId, x, v, why)) return false;
        mask |= 1ULL << v.a;
      }
      out.a = static_cast<std::int64_t>(mask);
      return true;
    }
    bundle::SetData set;
    set.elem = elem;
    for (auto& x : j) {
      Value v;
      if (!scalar(elem, a.type.enumId, x, v, why)) return false;
      set.items.push_back(v);
    }
    if (elem != TypeKind::Cidr) {
      std::sort(set.items.begin(), set.items.end(),
                [&](const Value& x, const Value& y) { return bundle::compareElements(elem, x, y) < 0; });
    }
    f_.sets.push_back(std::move(set));
    out.a = reinterpret_cast<std::int64_t>(&f_.sets.back());
    return true;
  }

 private:
  const Schema& s_;
  Frame& f_;
  [[maybe_unused]] std::vector<std::string>& errors_;  // not used yet (clang: -Wunused-private-field)
};

}  // namespace

bool fillFrame(const Schema& schema, const nlohmann::json& input, Frame& frame, std::vector<std::string>& errors,
               const FrameOptions& options) {
  std::size_t before = errors.size();
  frame.slots.assign(schema.attrs.size(), Value{});
  // A reused frame (one per server thread) must not accumulate the storage of earlier requests.
  frame.strings.clear();
  frame.sets.clear();
  frame.cidrs.clear();
  frame.present.assign(schema.attrs.size(), 0);
  frame.hasNow = false;
  Filler fill(schema, frame, errors);
  // Attributes (and `now`) given with a bad value are reported once, not again as missing.
  std::vector<std::uint8_t> given(schema.attrs.size(), 0);
  bool nowGiven = false;
  if (!input.is_object()) {
    errors.push_back("the input must be a JSON object with subject, client, request, risk and now");
    return false;
  }
  for (auto& [key, val] : input.items()) {
    if (key == "now") {
      nowGiven = true;
      Value v;
      std::string why;
      if (!fill.scalar(TypeKind::Time, -1, val, v, why)) {
        errors.push_back("now: " + why);
      } else {
        frame.hasNow = true;
        frame.nowMs = v.a;
      }
      continue;
    }
    if (std::find(std::begin(kSections), std::end(kSections), key) == std::end(kSections)) {
      errors.push_back("unknown input section `" + key + "`");
      continue;
    }
    if (!val.is_object()) {
      errors.push_back(key + ": expected an object");
      continue;
    }
    for (auto& [name, j] : val.items()) {
      const AttrInfo* a = schema.findAttr(key, name);
      if (a == nullptr) {
        errors.push_back("unknown attribute `" + key + "." + name + "`");
        continue;
      }
      if (j.is_null() && a->optional) continue;
      given[a->slot] = 1;
      Value v;
      std::string why;
      if (!fill.value(*a, j, v, why)) {
        errors.push_back("attribute `" + key + "." + name + "`: " + why);
        continue;
      }
      frame.slots[a->slot] = v;
      frame.present[a->slot] = 1;
    }
  }
  if (options.requireAll) {
    for (const auto& a : schema.attrs) {
      if (!a.optional && !frame.present[a.slot] && !given[a.slot])
        errors.push_back("missing required attribute `" + a.section + "." + a.name + "`");
    }
    if (!frame.hasNow && !nowGiven) errors.push_back("missing `now`");
  }
  return errors.size() == before;
}

std::string formatValue(const Schema& schema, const Type& t, const Value& v) {
  switch (t.kind) {
    case TypeKind::Bool: return v.a ? "true" : "false";
    case TypeKind::Int: return std::to_string(v.a);
    case TypeKind::Decimal: {
      // Evaluation keeps decimals within +-10^38; a crafted bundle can still return another
      // type's constant as a decimal limit, which toString must not see (it negates).
      __int128 units = bundle::decimalOf(v);
      constexpr __int128 kMax = static_cast<__int128>(1'000'000'000'000'000'000LL) * 1'000'000'000'000'000'000LL * 100;
      if (units > kMax || units < -kMax) return "(decimal out of range)";
      return lit::toString(lit::Decimal{units});
    }
    case TypeKind::String:
    case TypeKind::Region: return std::string(reinterpret_cast<const char*>(v.a), static_cast<std::size_t>(v.b));
    case TypeKind::Country: return bundle::countryText(v.a);
    case TypeKind::Enum:
      return t.enumId >= 0 && v.a >= 0 && v.a < static_cast<std::int64_t>(schema.enums[t.enumId].values.size())
                 ? schema.enums[t.enumId].values[v.a]
                 : std::to_string(v.a);
    case TypeKind::Duration: return lit::formatDuration(v.a);
    case TypeKind::Time: {
      std::int64_t secs = v.a / 1000;
      std::int64_t days = secs / 86400, rem = secs % 86400;
      if (rem < 0) {
        rem += 86400;
        --days;
      }
      // civil_from_days (Howard Hinnant)
      days += 719468;
      std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
      std::int64_t doe = days - era * 146097;
      std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
      std::int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
      std::int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
      if (m <= 2) ++y;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", static_cast<long long>(y),
                    static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(rem / 3600),
                    static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
      return buf;
    }
    case TypeKind::Ip: {
      unsigned char buf[16];
      auto hi = static_cast<std::uint64_t>(v.a), lo = static_cast<std::uint64_t>(v.b);
      for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(hi >> (56 - 8 * i));
      for (int i = 0; i < 8; ++i) buf[8 + i] = static_cast<unsigned char>(lo >> (56 - 8 * i));
      char out[INET6_ADDRSTRLEN];
      bool mapped = hi == 0 && (lo >> 32) == 0xFFFF;
      if (mapped) {
        inet_ntop(AF_INET, buf + 12, out, sizeof out);
      } else {
        inet_ntop(AF_INET6, buf, out, sizeof out);
      }
      return out;
    }
    case TypeKind::Set: {
      if (t.elem == TypeKind::Enum) {
        std::string out = "{";
        bool first = true;
        for (int i = 0; i < 64; ++i) {
          if ((static_cast<std::uint64_t>(v.a) >> i) & 1) {
            out += (first ? "" : ", ") + formatValue(schema, Type::enumOf(t.enumId), Value{i, 0});
            first = false;
          }
        }
        return out + "}";
      }
      const auto* set = reinterpret_cast<const bundle::SetData*>(v.a);
      std::string out = "{";
      for (std::size_t i = 0; set != nullptr && i < set->items.size() && i < 20; ++i) {
        out += (i ? ", " : "") + (t.elem == TypeKind::Cidr ? std::string("cidr") : formatValue(schema, t.element(), set->items[i]));
      }
      if (set != nullptr && set->items.size() > 20) out += ", ...";
      return out + "}";
    }
    case TypeKind::Cidr: return "cidr";
    default: return "?";
  }
}

}  // namespace mandate::vm
