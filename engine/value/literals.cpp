#include "value/literals.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace mandate::lit {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Digits with optional single underscores between digit groups ("5_000", not "5__0" or "5_").
bool digitsWithSeparators(std::string_view t, std::string& digits, std::string& why) {
  digits.clear();
  if (t.empty() || !isDigit(t.front()) || t.back() == '_') {
    why = "digit separators `_` must stand between digits";
    return false;
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (t[i - 1] == '_') {
        why = "digit separators `_` must stand between digits";
        return false;
      }
      continue;
    }
    if (!isDigit(t[i])) {
      why = "unexpected character in number";
      return false;
    }
    digits.push_back(t[i]);
  }
  return true;
}

constexpr const char* kCountries[] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"};

constexpr __int128 pow10(int n) {
  __int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

bool daysInMonthOk(int y, int m, int d) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = days[m - 1] + (m == 2 && leap ? 1 : 0);
  return d <= max;
}

// Days from 1970-01-01 (Howard Hinnant's civil algorithm).
std::int64_t daysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
}

int num(std::string_view t, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v * 10 + (t[pos + i] - '0');
  return v;
}

}  // namespace

Decimal Decimal::fromInt(std::int64_t v) { return Decimal{static_cast<__int128>(v) * pow10(kScale)}; }

bool parseInt(std::string_view text, std::int64_t& out, std::string& why) {
  std::string digits;
  if (!digitsWithSeparators(text, digits, why)) return false;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (v > (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - (c - '0')) / 10) {
      why = "integer does not fit in 64 bits";
      return false;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = static_cast<std::int64_t>(v);
  return true;
}

bool parseDecimal(std::string_view text, Decimal& out, std::string& why) {
  auto dot = text.find('.');
  std::string whole, frac;
  if (dot == std::string_view::npos) {
    if (!digitsWithSeparators(text, whole, why)) return false;
  } else if (!digitsWithSeparators(text.substr(0, dot), whole, why) ||
             !digitsWithSeparators(text.substr(dot + 1), frac, why)) {
    return false;
  }
  if (frac.size() > static_cast<std::size_t>(Decimal::kScale)) {
    why = "more than 18 digits after the decimal point";
    return false;
  }
  // Whole part limited so that units fit comfortably in 128 bits: 10^20 - 1.
  std::size_t firstNonZero = whole.find_first_not_of('0');
  if (firstNonZero != std::string::npos && whole.size() - firstNonZero > 20) {
    why = "decimal is too large (at most 20 digits before the point)";
    return false;
  }
  __int128 units = 0;
  for (char c : whole) units = units * 10 + (c - '0');
  units *= pow10(Decimal::kScale);
  __int128 f = 0;
  for (char c : frac) f = f * 10 + (c - '0');
  f *= pow10(Decimal::kScale - static_cast<int>(frac.size()));
  out.units = units + f;
  return true;
}

bool parseDuration(std::string_view text, std::int64_t& ms, std::string& why) {
  std::int64_t total = 0;
  std::size_t i = 0;
  if (text.empty()) {
    why = "empty duration";
    return false;
  }
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == start) {
      why = "expected digits in duration";
      return false;
    }
    std::int64_t n = 0;
    if (!parseInt(text.substr(start, i - start), n, why)) return false;
    std::int64_t unit = 0;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < text.size()) {
      switch (text[i]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60'000; break;
        case 'h': unit = 3'600'000; break;
        case 'd': unit = 86'400'000; break;
        default: break;
      }
      ++i;
    }
    if (unit == 0) {
      why = "duration units are ms, s, m, h, d";
      return false;
    }
    if (n > std::numeric_limits<std::int64_t>::max() / unit ||
        total > std::numeric_limits<std::int64_t>::max() - n * unit) {
      why = "duration is too long";
      return false;
    }
    total += n * unit;
  }
  ms = total;
  return true;
}

bool parseTime(std::string_view t, std::int64_t& unixSeconds, std::string& why) {
  // YYYY-MM-DD, YYYY-MM-DDTHH:MMZ, YYYY-MM-DDTHH:MM:SSZ (UTC only: policies must not depend on a zone)
  auto digitsAt = [&](std::size_t pos, std::size_t n) {
    if (pos + n > t.size()) return false;
    for (std::size_t k = 0; k < n; ++k)
      if (!isDigit(t[pos + k])) return false;
    return true;
  };
  if (!(t.size() == 10 || t.size() == 17 || t.size() == 20) || !digitsAt(0, 4) || t[4] != '-' ||
      !digitsAt(5, 2) || t[7] != '-' || !digitsAt(8, 2)) {
    why = "times are written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC)";
    return false;
  }
  int y = num(t, 0, 4), mo = num(t, 5, 2), d = num(t, 8, 2), h = 0, mi = 0, s = 0;
  if (!daysInMonthOk(y, mo, d)) {
    why = "no such calendar date";
    return false;
  }
  if (t.size() > 10) {
    bool ok = t[10] == 'T' && digitsAt(11, 2) && t[13] == ':' && digitsAt(14, 2);
    if (ok && t.size() == 20) ok = t[16] == ':' && digitsAt(17, 2) && t[19] == 'Z';
    if (ok && t.size() == 17) ok = t[16] == 'Z';
    if (!ok) {
      why = "times are written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC)";
      return false;
    }
    h = num(t, 11, 2);
    mi = num(t, 14, 2);
    if (t.size() == 20) s = num(t, 17, 2);
    if (h > 23 || mi > 59 || s > 59) {
      why = "no such time of day";
      return false;
    }
  }
  unixSeconds = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

bool parseIpv4(std::string_view text, std::uint32_t& addr, std::string& why) {
  std::uint32_t result = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    std::size_t start = i;
    while (i < text.size() && isDigit(text[i])) ++i;
    std::size_t n = i - start;
    if (n == 0 || n > 3 || (n > 1 && text[start] == '0')) {
      why = "IPv4 address octets are 0-255 without leading zeros";
      return false;
    }
    int v = num(text, start, n);
    if (v > 255) {
      why = "IPv4 address octets are 0-255";
      return false;
    }
    result = (result << 8) | static_cast<std::uint32_t>(v);
    ++parts;
    if (parts < 4) {
      if (i >= text.size() || text[i] != '.') {
        why = "an IPv4 address has four octets";
        return false;
      }
      ++i;
    }
  }
  if (i != text.size()) {
    why = "unexpected text after IPv4 address";
    return false;
  }
  addr = result;
  return true;
}

bool parseCidr4(std::string_view text, std::uint32_t& addr, int& prefix, std::string& why) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    why = "a CIDR block is ADDRESS/PREFIX";
    return false;
  }
  if (!parseIpv4(text.substr(0, slash), addr, why)) return false;
  std::string_view p = text.substr(slash + 1);
  if (p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), isDigit) ||
      (p.size() == 2 && p[0] == '0')) {
    why = "an IPv4 prefix length is 0-32";
    return false;
  }
  prefix = num(p, 0, p.size());
  if (prefix > 32) {
    why = "an IPv4 prefix length is 0-32";
    return false;
  }
  std::uint32_t hostMask = prefix == 32 ? 0 : (0xFFFFFFFFu >> prefix);
  if ((addr & hostMask) != 0) {
    why = "host bits are set below the prefix length";
    return false;
  }
  return true;
}

bool parseIp(std::string_view text, std::string& why) {
  std::uint32_t v4;
  if (text.find(':') == std::string_view::npos) return parseIpv4(text, v4, why);
  std::string s(text);
  unsigned char buf[16];
  if (s.size() > 45 || inet_pton(AF_INET6, s.c_str(), buf) != 1) {
    why = "not a valid IPv6 address";
    return false;
  }
  return true;
}

bool parseCidr(std::string_view text, std::string& why) {
  if (text.find(':') == std::string_view::npos) {
    std::uint32_t a;
    int p;
    return parseCidr4(text, a, p, why);
  }
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    why = "a CIDR block is ADDRESS/PREFIX";
    return false;
  }
  if (!parseIp(text.substr(0, slash), why)) return false;
  std::string_view p = text.substr(slash + 1);
  if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), isDigit) ||
      (p.size() > 1 && p[0] == '0') || num(p, 0, p.size()) > 128) {
    why = "an IPv6 prefix length is 0-128";
    return false;
  }
  // As for IPv4 blocks: no host bits below the prefix length.
  unsigned char addr[16];
  std::string a(text.substr(0, slash));
  int prefix = num(p, 0, p.size());
  if (inet_pton(AF_INET6, a.c_str(), addr) == 1) {
    for (int bit = prefix; bit < 128; ++bit) {
      if (addr[bit / 8] & (0x80 >> (bit % 8))) {
        why = "host bits are set below the prefix length";
        return false;
      }
    }
  }
  return true;
}

bool isCountry(std::string_view code) {
  return std::binary_search(std::begin(kCountries), std::end(kCountries), code,
                            [](auto a, auto b) { return std::string_view(a) < std::string_view(b); });
}

bool isRegion(std::string_view code, std::string& why) {
  auto dash = code.find('-');
  if (dash != 2 || code.size() < 4 || code.size() > 6) {
    why = "ISO 3166-2 codes are a country code, `-`, and 1 to 3 letters or digits";
    return false;
  }
  if (!isCountry(code.substr(0, 2))) {
    why = "`" + std::string(code.substr(0, 2)) + "` is not an ISO 3166-1 country code";
    return false;
  }
  // Values also arrive from requests, not only from the lexer: check the subdivision part too.
  for (char c : code.substr(3)) {
    if (!isDigit(c) && !(c >= 'A' && c <= 'Z')) {
      why = "ISO 3166-2 codes are a country code, `-`, and 1 to 3 letters or digits";
      return false;
    }
  }
  return true;
}

const char* const* countryCodes(std::size_t& count) {
  count = std::size(kCountries);
  return kCountries;
}

std::string toString(const Decimal& d) {
  // Digits written backwards into a buffer, in 64-bit arithmetic where the value fits: every
  // token's limits are formatted here, and 128-bit division is a library call per digit.
  unsigned __int128 u = d.units < 0 ? -static_cast<unsigned __int128>(d.units) : static_cast<unsigned __int128>(d.units);
  constexpr auto scale = static_cast<unsigned __int128>(pow10(Decimal::kScale));
  unsigned __int128 whole = u / scale;
  auto frac = static_cast<std::uint64_t>(u % scale);
  char buf[64];  // 21 digits (|units| <= 10^38), a point, 18 digits and a sign at most
  char* const end = buf + sizeof buf;
  char* p = end;
  if (frac != 0) {
    int digits = Decimal::kScale;
    for (; frac % 10 == 0; frac /= 10) --digits;  // no trailing zeros
    for (; digits > 0; --digits, frac /= 10) *--p = static_cast<char>('0' + frac % 10);
    *--p = '.';
  }
  for (; whole > std::numeric_limits<std::uint64_t>::max(); whole /= 10) *--p = static_cast<char>('0' + static_cast<int>(whole % 10));
  auto w = static_cast<std::uint64_t>(whole);
  do {
    *--p = static_cast<char>('0' + w % 10);
    w /= 10;
  } while (w > 0);
  if (d.units < 0) *--p = '-';
  return std::string(p, end);
}

std::string formatDuration(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string out = ms < 0 ? "-" : "";
  // Magnitude as unsigned so that the most negative value does not overflow.
  std::uint64_t rest = ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
  static const std::pair<std::uint64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [size, name] : units) {
    if (rest >= size) {
      out += std::to_string(rest / size) + name;
      rest %= size;
    }
  }
  return out;
}

namespace {
constexpr __int128 kUnit = pow10(Decimal::kScale);
constexpr __int128 kDecimalMax = pow10(38);
}  // namespace

bool mulDecimal(__int128 x, __int128 y, __int128& out) {
  // x*y/10^18 without overflowing: split x into whole and fraction.
  __int128 hi = x / kUnit, lo = x % kUnit;
  __int128 a;
  if (__builtin_mul_overflow(hi, y, &a)) return false;
  __int128 b = lo * (y / kUnit) + (lo * (y % kUnit)) / kUnit;
  if (__builtin_add_overflow(a, b, &out)) return false;
  return out <= kDecimalMax && out >= -kDecimalMax;
}

bool divDecimal(__int128 x, __int128 y, __int128& out) {
  if (y == 0) return false;
  __int128 q = x / y, rem = x % y;
  if (q > kDecimalMax / kUnit || q < -kDecimalMax / kUnit) return false;
  // The 18 fractional digits of |rem| / |y| by long division. |rem| < |y| <= 10^38, so 10 * |rem|
  // may not fit even unsigned: each digit is counted by adding |rem| ten times, reducing as we go
  // (the running value stays below 2 * |y| < 2^128).
  using U = unsigned __int128;
  U r = rem < 0 ? U(0) - U(rem) : U(rem), d = y < 0 ? U(0) - U(y) : U(y);
  __int128 frac = 0;
  for (int k = 0; k < Decimal::kScale; ++k) {
    U acc = 0;
    int digit = 0;
    for (int i = 0; i < 10; ++i) {
      acc += r;
      if (acc >= d) {
        acc -= d;
        ++digit;
      }
    }
    frac = frac * 10 + digit;
    r = acc;
  }
  out = q * kUnit + ((rem < 0) != (y < 0) ? -frac : frac);
  return out <= kDecimalMax && out >= -kDecimalMax;
}

}  // namespace mandate::lit
