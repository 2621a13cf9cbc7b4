#pragma once
// Strict parsers for literal text, shared by the checker, the formatter and (later) the compiler.
// Each returns false for malformed or out-of-range text; `why` then says what is wrong.
#include <cstdint>
#include <string>
#include <string_view>

namespace mandate::lit {

// Exact decimal: value = units / 10^kScale. Never binary floating point.
struct Decimal {
  static constexpr int kScale = 18;
  __int128 units = 0;
  bool operator==(const Decimal& o) const { return units == o.units; }
  auto operator<=>(const Decimal& o) const { return units <=> o.units; }
  static Decimal fromInt(std::int64_t v);
};

bool parseInt(std::string_view text, std::int64_t& out, std::string& why);         // 5_000
bool parseDecimal(std::string_view text, Decimal& out, std::string& why);          // 2.5, 10_000.25
bool parseDuration(std::string_view text, std::int64_t& ms, std::string& why);     // 15m, 1h30m, 500ms
bool parseTime(std::string_view text, std::int64_t& unixSeconds, std::string& why); // 2024-12-30[T10:00[:00]Z]
bool parseIpv4(std::string_view text, std::uint32_t& addr, std::string& why);
bool parseCidr4(std::string_view text, std::uint32_t& addr, int& prefix, std::string& why);
// IPv6 text ("2001:db8::1", "2001:db8::/32") as written inside a string literal.
bool parseIp(std::string_view text, std::string& why);
bool parseCidr(std::string_view text, std::string& why);

bool isCountry(std::string_view code);        // ISO 3166-1 alpha-2, officially assigned
bool isRegion(std::string_view code, std::string& why);  // ISO 3166-2 shape: country + "-" + 1..3 alnum
const char* const* countryCodes(std::size_t& count);

std::string toString(const Decimal& d);

// Exact decimal arithmetic on units of 10^-18, results within +-10^38. Both truncate toward zero
// at 18 places and return false on overflow; divDecimal also on a zero divisor. Shared by
// constant folding and the VM so compile-time and run-time results cannot differ.
bool mulDecimal(__int128 x, __int128 y, __int128& out);
bool divDecimal(__int128 x, __int128 y, __int128& out);
// Milliseconds in the language's own notation: 15m, 1h30m, 500ms, 0s.
std::string formatDuration(std::int64_t ms);

}  // namespace mandate::lit
