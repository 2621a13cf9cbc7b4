// engine/value/literals.h and closestMatch (engine/diag/diagnostic.h).
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "diag/diagnostic.h"
#include "value/literals.h"

using namespace mandate;

namespace {

std::int64_t intOf(const char* text) {
  std::int64_t v = -1;
  std::string why;
  INFO(text);
  REQUIRE(lit::parseInt(text, v, why));
  CHECK(why.empty());
  return v;
}

std::string intError(const char* text) {
  std::int64_t v = 12345;
  std::string why;
  INFO(text);
  CHECK_FALSE(lit::parseInt(text, v, why));
  CHECK(v == 12345);  // untouched on failure
  CHECK_FALSE(why.empty());
  return why;
}

lit::Decimal decOf(const char* text) {
  lit::Decimal d;
  std::string why;
  INFO(text);
  REQUIRE(lit::parseDecimal(text, d, why));
  return d;
}

std::string decError(const char* text) {
  lit::Decimal d;
  std::string why;
  INFO(text);
  CHECK_FALSE(lit::parseDecimal(text, d, why));
  CHECK_FALSE(why.empty());
  return why;
}

std::int64_t msOf(const char* text) {
  std::int64_t ms = -1;
  std::string why;
  INFO(text);
  REQUIRE(lit::parseDuration(text, ms, why));
  return ms;
}

std::string durationError(const char* text) {
  std::int64_t ms = 0;
  std::string why;
  INFO(text);
  CHECK_FALSE(lit::parseDuration(text, ms, why));
  CHECK_FALSE(why.empty());
  return why;
}

std::int64_t timeOf(const char* text) {
  std::int64_t s = 0;
  std::string why;
  INFO(text);
  REQUIRE(lit::parseTime(text, s, why));
  return s;
}

std::string timeError(const char* text) {
  std::int64_t s = 0;
  std::string why;
  INFO(text);
  CHECK_FALSE(lit::parseTime(text, s, why));
  CHECK_FALSE(why.empty());
  return why;
}

std::uint32_t ipOf(const char* text) {
  std::uint32_t a = 0;
  std::string why;
  INFO(text);
  REQUIRE(lit::parseIpv4(text, a, why));
  return a;
}

bool ipv4Ok(const char* text) {
  std::uint32_t a = 0;
  std::string why;
  bool ok = lit::parseIpv4(text, a, why);
  if (!ok) CHECK_FALSE(why.empty());
  return ok;
}

bool cidr4Ok(const char* text, std::string* whyOut = nullptr) {
  std::uint32_t a = 0;
  int p = -1;
  std::string why;
  bool ok = lit::parseCidr4(text, a, p, why);
  if (!ok) CHECK_FALSE(why.empty());
  if (whyOut) *whyOut = why;
  return ok;
}

bool ip6(const char* text) {
  std::string why;
  bool ok = lit::parseIp(text, why);
  if (!ok) CHECK_FALSE(why.empty());
  return ok;
}

bool cidr(const char* text, std::string* whyOut = nullptr) {
  std::string why;
  bool ok = lit::parseCidr(text, why);
  if (!ok) CHECK_FALSE(why.empty());
  if (whyOut) *whyOut = why;
  return ok;
}

bool region(const char* text) {
  std::string why;
  bool ok = lit::isRegion(text, why);
  if (!ok) CHECK_FALSE(why.empty());
  return ok;
}

}  // namespace

TEST_SUITE("literals") {

TEST_CASE("integers: digits and separators") {
  CHECK(intOf("0") == 0);
  CHECK(intOf("7") == 7);
  CHECK(intOf("5_000") == 5000);
  CHECK(intOf("1_000_000") == 1'000'000);
  CHECK(intOf("1_0_0") == 100);
  CHECK(intOf("007") == 7);
  CHECK(intError("5__000").find("separator") != std::string::npos);
  CHECK(intError("5_").find("separator") != std::string::npos);
  CHECK(intError("_5").find("separator") != std::string::npos);
  intError("");
  intError("12a");
  intError("-1");  // the sign is an operator, not part of the literal
  intError("1.5");
}

TEST_CASE("integers: the 64-bit boundary") {
  CHECK(intOf("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
  CHECK(intOf("9_223_372_036_854_775_807") == std::numeric_limits<std::int64_t>::max());
  CHECK(intOf("09223372036854775807") == std::numeric_limits<std::int64_t>::max());
  CHECK(intError("9223372036854775808").find("64 bits") != std::string::npos);
  CHECK(intError("18446744073709551616").find("64 bits") != std::string::npos);
  CHECK(intError("99999999999999999999999999999").find("64 bits") != std::string::npos);
}

TEST_CASE("decimals are exact") {
  const auto scale = [] {
    __int128 v = 1;
    for (int i = 0; i < lit::Decimal::kScale; ++i) v *= 10;
    return v;
  }();
  CHECK(decOf("2.5").units == 25 * scale / 10);
  CHECK(decOf("0.000000000000000001").units == 1);  // 18 digits: the finest step
  CHECK(decOf("1").units == scale);                 // a whole number is a decimal too
  CHECK(decOf("10_000.25").units == decOf("10000.25").units);
  CHECK(decOf("1.50").units == decOf("1.5").units);
  // 0.1 + 0.2 == 0.3 exactly: no binary floating point anywhere.
  CHECK(decOf("0.1").units + decOf("0.2").units == decOf("0.3").units);
  CHECK((decOf("0.1") < decOf("0.10000000000000001")));
  CHECK(lit::toString(decOf("10_000.25")) == "10000.25");
  CHECK(lit::toString(decOf("1.50")) == "1.5");
  CHECK(lit::toString(decOf("0.000000000000000001")) == "0.000000000000000001");
  CHECK(lit::toString(decOf("3.0")) == "3");
  CHECK(lit::toString(decOf("0.0")) == "0");
  CHECK(lit::toString(lit::Decimal::fromInt(-3)) == "-3");
  CHECK(lit::toString(lit::Decimal{-decOf("2.75").units}) == "-2.75");
  CHECK((lit::Decimal::fromInt(42) == decOf("42.000")));
}

TEST_CASE("decimals: canonical text round-trips through parse and toString, 20,000 random values") {
  // Up to 20 whole digits and 18 fraction digits, inner zeros, no trailing ones, either sign:
  // the text toString must give back exactly.
  std::mt19937_64 rng(20261126);
  auto digits = [&](int n, bool leadingNonZero) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      int dgt = static_cast<int>(rng() % 10);
      if (i == 0 && leadingNonZero && dgt == 0) dgt = 1;
      if (rng() % 3 == 0) dgt = 0;  // runs of zeros
      if (i == 0 && leadingNonZero && dgt == 0) dgt = 7;
      s += static_cast<char>('0' + dgt);
    }
    return s;
  };
  for (int i = 0; i < 20000; ++i) {
    const int wholeDigits = static_cast<int>(rng() % 21);
    std::string text = wholeDigits == 0 ? "0" : digits(wholeDigits, true);
    const int fracDigits = static_cast<int>(rng() % 19);
    std::string frac = digits(fracDigits, false);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    if (!frac.empty()) text += "." + frac;
    const bool negative = rng() % 2 == 0 && text != "0";
    if (negative) text = "-" + text;
    lit::Decimal d = decOf(negative ? text.c_str() + 1 : text.c_str());
    if (negative) d.units = -d.units;
    REQUIRE_MESSAGE(lit::toString(d) == text, text);
  }
  CHECK(lit::toString(lit::Decimal{-decOf("0.5").units}) == "-0.5");
  CHECK(lit::toString(decOf("18446744073709551616")) == "18446744073709551616");  // 2^64: past 64 bits
  CHECK(lit::toString(decOf("18446744073709551615.000000000000000001")) == "18446744073709551615.000000000000000001");
  CHECK(lit::toString(decOf("1.05")) == "1.05");
}

TEST_CASE("decimals: limits and malformed text") {
  // 20 digits before the point and 18 after is the largest decimal.
  const char* biggest = "99999999999999999999.999999999999999999";
  CHECK(lit::toString(decOf(biggest)) == biggest);
  CHECK(lit::toString(decOf("000000000000000000000000001.5")) == "1.5");  // leading zeros do not count
  CHECK(decError("100000000000000000000.0").find("too large") != std::string::npos);
  CHECK(decError("0.0000000000000000001").find("18 digits") != std::string::npos);
  CHECK(lit::toString(lit::Decimal::fromInt(std::numeric_limits<std::int64_t>::max())) == "9223372036854775807");
  decError("1._5");
  decError("1.5_");
  decError("1_.5");
  decError("1.");
  decError(".5");
  decError("1.2.3");
  decError("");
}

TEST_CASE("durations") {
  CHECK(msOf("500ms") == 500);
  CHECK(msOf("1s") == 1000);
  CHECK(msOf("15m") == 15 * 60'000);
  CHECK(msOf("2h") == 2 * 3'600'000);
  CHECK(msOf("7d") == 7 * 86'400'000LL);
  CHECK(msOf("1h30m") == 90 * 60'000);
  CHECK(msOf("1m1ms") == 60'001);  // `m` then `1ms`, not `1m` `1m` `s`
  CHECK(msOf("1d2h3m4s5ms") == 86'400'000LL + 2 * 3'600'000 + 3 * 60'000 + 4'000 + 5);
  CHECK(msOf("0s") == 0);
  CHECK(msOf("9223372036854775807ms") == std::numeric_limits<std::int64_t>::max());
  CHECK(msOf("106751991167d") == 106751991167LL * 86'400'000LL);
  CHECK(durationError("15").find("units") != std::string::npos);
  CHECK(durationError("5x").find("units") != std::string::npos);
  CHECK(durationError("1h30").find("units") != std::string::npos);
  durationError("m");
  durationError("");
  durationError("1_000ms");
  CHECK(durationError("106751991168d").find("too long") != std::string::npos);
  CHECK(durationError("9223372036854775807s").find("too long") != std::string::npos);
  CHECK(durationError("9223372036854775807ms1ms").find("too long") != std::string::npos);
  durationError("99999999999999999999ms");
}

TEST_CASE("times: UTC dates and instants") {
  CHECK(timeOf("1970-01-01") == 0);
  CHECK(timeOf("1969-12-31") == -86400);
  CHECK(timeOf("2024-12-30") == 1735516800);
  CHECK(timeOf("2024-12-30T10:00Z") == 1735516800 + 36000);
  CHECK(timeOf("2024-12-30T10:00:05Z") == 1735516800 + 36005);
  CHECK(timeOf("2024-12-30T00:00:00Z") == timeOf("2024-12-30"));
  CHECK(timeOf("0001-01-01") == -62135596800);
  CHECK(timeOf("9999-12-31T23:59:59Z") == 253402300799);
}

TEST_CASE("times: leap years and impossible dates") {
  CHECK(timeOf("2024-02-29T23:59:59Z") == 1709251199);
  CHECK(timeOf("2000-02-29") == 951782400);  // divisible by 400: leap
  CHECK(timeOf("2024-03-01") - timeOf("2024-02-28") == 2 * 86400);
  CHECK(timeOf("2023-03-01") - timeOf("2023-02-28") == 86400);
  CHECK(timeError("2023-02-29").find("calendar") != std::string::npos);
  CHECK(timeError("1900-02-29").find("calendar") != std::string::npos);  // divisible by 100: not leap
  CHECK(timeError("2024-02-30").find("calendar") != std::string::npos);
  CHECK(timeError("2024-04-31").find("calendar") != std::string::npos);
  CHECK(timeError("2024-13-01").find("calendar") != std::string::npos);
  CHECK(timeError("2024-00-10").find("calendar") != std::string::npos);
  CHECK(timeError("2024-01-00").find("calendar") != std::string::npos);
  CHECK(timeError("2024-12-30T24:00Z").find("time of day") != std::string::npos);
  CHECK(timeError("2024-12-30T23:60Z").find("time of day") != std::string::npos);
  CHECK(timeError("2024-12-30T23:59:60Z").find("time of day") != std::string::npos);  // no leap seconds
  timeError("2024-12-30T10:00");        // no zone: not UTC
  timeError("2024-12-30T10:00+01:00");  // zones other than Z are refused
  timeError("2024-12-30T10Z");
  timeError("2024-12-30 10:00Z");
  timeError("2024-1-01");
  timeError("24-01-01");
  timeError("");
}

TEST_CASE("IPv4 addresses") {
  CHECK(ipOf("10.0.0.1") == 0x0A000001u);
  CHECK(ipOf("255.255.255.255") == 0xFFFFFFFFu);
  CHECK(ipOf("0.0.0.0") == 0u);
  CHECK(ipOf("192.168.1.20") == 0xC0A80114u);
  CHECK_FALSE(ipv4Ok("256.0.0.1"));
  CHECK_FALSE(ipv4Ok("01.2.3.4"));  // leading zeros could be read as octal elsewhere
  CHECK_FALSE(ipv4Ok("1.2.3"));
  CHECK_FALSE(ipv4Ok("1.2.3.4.5"));
  CHECK_FALSE(ipv4Ok("1..2.3"));
  CHECK_FALSE(ipv4Ok("1.2.3.4 "));
  CHECK_FALSE(ipv4Ok("1.2.3.1000"));
  CHECK_FALSE(ipv4Ok(""));
}

TEST_CASE("IPv4 CIDR blocks and host bits") {
  std::uint32_t a = 0;
  int p = -1;
  std::string why;
  REQUIRE(lit::parseCidr4("10.0.0.0/8", a, p, why));
  CHECK(a == 0x0A000000u);
  CHECK(p == 8);
  CHECK(cidr4Ok("0.0.0.0/0"));
  CHECK(cidr4Ok("10.0.0.1/32"));
  CHECK(cidr4Ok("192.168.1.128/25"));
  CHECK(cidr4Ok("192.168.1.0/24"));
  CHECK_FALSE(cidr4Ok("10.0.0.1/8", &why));
  CHECK(why.find("host bits") != std::string::npos);
  CHECK_FALSE(cidr4Ok("192.168.1.64/25", &why));
  CHECK(why.find("host bits") != std::string::npos);
  CHECK_FALSE(cidr4Ok("1.0.0.0/0", &why));
  CHECK(why.find("host bits") != std::string::npos);
  CHECK_FALSE(cidr4Ok("10.0.0.0/33", &why));
  CHECK(why.find("0-32") != std::string::npos);
  CHECK_FALSE(cidr4Ok("10.0.0.0/08"));
  CHECK_FALSE(cidr4Ok("10.0.0.0/"));
  CHECK_FALSE(cidr4Ok("10.0.0.0"));
  CHECK_FALSE(cidr4Ok("10.0.0/8"));
  CHECK_FALSE(cidr4Ok("10.0.0.0/-1"));
}

TEST_CASE("IPv6 addresses and blocks written as strings") {
  CHECK(ip6("2001:db8::1"));
  CHECK(ip6("::1"));
  CHECK(ip6("::"));
  CHECK(ip6("fe80::1:2:3:4"));
  CHECK(ip6("2001:0db8:0000:0000:0000:0000:0000:0001"));
  CHECK(ip6("::ffff:10.0.0.1"));
  CHECK(ip6("10.0.0.1"));  // an IPv4 address is an ip too
  CHECK_FALSE(ip6("2001:db8::g"));
  CHECK_FALSE(ip6("2001:db8:::1"));
  CHECK_FALSE(ip6("1:2:3:4:5:6:7:8:9"));
  CHECK_FALSE(ip6("2001:db8::1%eth0"));
  CHECK_FALSE(ip6("2001:db8::1/64"));
  CHECK_FALSE(ip6(""));
  CHECK_FALSE(ip6("10.0.0.256"));

  std::string why;
  CHECK(cidr("2001:db8::/32"));
  CHECK(cidr("::/0"));
  CHECK(cidr("2001:db8::1/128"));
  CHECK(cidr("10.0.0.0/8"));
  CHECK_FALSE(cidr("10.0.0.1/8"));
  CHECK_FALSE(cidr("2001:db8::/129", &why));
  CHECK(why.find("0-128") != std::string::npos);
  CHECK_FALSE(cidr("2001:db8::/"));
  CHECK_FALSE(cidr("2001:db8::"));
  CHECK_FALSE(cidr("2001:db8::/3x"));
  CHECK_FALSE(cidr("2001:db8::/032"));  // like IPv4 prefixes: no leading zeros
  CHECK_FALSE(cidr("2001:zz8::/32"));
  // Host bits below the prefix are refused, as for IPv4 blocks.
  CHECK_FALSE(cidr("2001:db8::1/32", &why));
  CHECK(why.find("host bits") != std::string::npos);
  CHECK_FALSE(cidr("2001:db8:8000::/32"));
  CHECK_FALSE(cidr("2001:db8::/17"));
  CHECK(cidr("2001:db8:8000::/33"));
  CHECK(cidr("2001:db8:8000::/34"));
}

TEST_CASE("countries") {
  CHECK(lit::isCountry("GB"));
  CHECK(lit::isCountry("US"));
  CHECK(lit::isCountry("UA"));
  CHECK(lit::isCountry("AD"));  // first in the table
  CHECK(lit::isCountry("ZW"));  // last in the table
  CHECK_FALSE(lit::isCountry("UK"));  // the United Kingdom is GB
  CHECK_FALSE(lit::isCountry("EL"));  // the EU writes Greece EL; ISO says GR
  CHECK_FALSE(lit::isCountry("XK"));  // Kosovo: user-assigned, not official
  CHECK_FALSE(lit::isCountry("gb"));
  CHECK_FALSE(lit::isCountry("GBR"));
  CHECK_FALSE(lit::isCountry("G"));
  CHECK_FALSE(lit::isCountry(""));
  std::size_t n = 0;
  const char* const* codes = lit::countryCodes(n);
  CHECK(n == 249);  // the officially assigned ISO 3166-1 alpha-2 codes
  for (std::size_t i = 0; i < n; ++i) {
    CAPTURE(codes[i]);
    CHECK(lit::isCountry(codes[i]));
    if (i > 0) CHECK(std::string(codes[i - 1]) < std::string(codes[i]));  // sorted: binary search relies on it
  }
}

TEST_CASE("regions") {
  CHECK(region("UA-43"));
  CHECK(region("GB-ENG"));
  CHECK(region("US-CA"));
  CHECK(region("FR-7"));
  CHECK_FALSE(region("UK-ENG"));  // not a country
  CHECK_FALSE(region("GB-"));
  CHECK_FALSE(region("GB-ENGL"));
  CHECK_FALSE(region("GBENG"));
  CHECK_FALSE(region("G-ENG"));
  CHECK_FALSE(region("GB"));
  CHECK_FALSE(region(""));
  // The part after the dash is letters and digits only (values also arrive from requests).
  CHECK_FALSE(region("GB-E G"));
  CHECK_FALSE(region("GB-$$"));
  CHECK_FALSE(region("GB-en"));
  CHECK_FALSE(region("GB--1"));
}

}  // TEST_SUITE("literals")

TEST_SUITE("closest match") {

TEST_CASE("suggests the nearest candidate within the allowed distance") {
  std::vector<std::string> attrs = {"kyc_tier", "residence", "category", "appropriateness"};
  CHECK(closestMatch("kyc_teir", attrs) == "kyc_tier");  // a transposition is one edit
  CHECK(closestMatch("kyc_tie", attrs) == "kyc_tier");
  CHECK(closestMatch("residnce", attrs) == "residence");
  CHECK(closestMatch("catgeory", attrs) == "category");
  CHECK(closestMatch("kyc_tier", attrs) == "kyc_tier");  // distance 0
  CHECK(closestMatch("appropriatness", attrs) == "appropriateness");
}

TEST_CASE("prefers the smaller distance, then the earlier candidate") {
  CHECK(closestMatch("retial", {"rental", "retail"}) == "retail");  // 1 edit against 2
  CHECK(closestMatch("tier", {"tiar", "tiex"}) == "tiar");
  CHECK(closestMatch("tier", {"tiex", "tiar"}) == "tiex");
}

TEST_CASE("nothing when every candidate is too far") {
  CHECK(closestMatch("xyz", {"kyc_tier", "residence"}).empty());
  CHECK(closestMatch("abcdef", {"abcxyz"}).empty());         // 3 edits; 6 letters allow 2
  CHECK(closestMatch("abcdef", {"abxdyf"}) == "abxdyf");      // 2 edits
  CHECK(closestMatch("GB", {"gb"}).empty());                   // case counts
  CHECK(closestMatch("trade", {}).empty());
  CHECK(closestMatch("ab", {"a"}) == "a");                     // short names allow one edit
  CHECK(closestMatch("ab", {"cd"}).empty());
}

}  // TEST_SUITE("closest match")
