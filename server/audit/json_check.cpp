#include "audit/json_check.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mandate::audit {

namespace {

// Bytes that stand for themselves inside a string: printable ASCII except the quote and the
// backslash.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

class Checker {
 public:
  explicit Checker(std::string_view t) : s_(t) {}

  bool object() {
    ws();
    if (!peek('{')) return false;
    if (!value()) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  // Open containers: '{' or '['. Iterative, so hostile nesting cannot exhaust the stack.
  std::array<char, kMaxJsonDepth> stack_{};
  std::size_t depth_ = 0;

  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  // Spaces only: the records are compact, one per line when exported.
  void ws() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  static bool hexDigit(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  bool number() {
    const std::size_t start = i_;
    if (!numberSyntax()) return false;
    // A number a double cannot hold is refused, as nlohmann::json refuses it on reading back;
    // only long or non-integer numbers can be out of range.
    const std::size_t len = i_ - start;
    if (len <= 15 && s_.substr(start, len).find_first_of(".eE") == std::string_view::npos) return true;
    const std::string text(s_.substr(start, len));
    return std::isfinite(std::strtod(text.c_str(), nullptr));  // the C locale: '.' is the point
  }

  bool numberSyntax() {
    if (peek('-')) ++i_;
    if (peek('0')) {
      ++i_;
    } else if (i_ < s_.size() && s_[i_] >= '1' && s_[i_] <= '9') {
      while (i_ < s_.size() && digit(s_[i_])) ++i_;
    } else {
      return false;
    }
    if (peek('.')) {
      ++i_;
      if (i_ >= s_.size() || !digit(s_[i_])) return false;
      while (i_ < s_.size() && digit(s_[i_])) ++i_;
    }
    if (peek('e') || peek('E')) {
      ++i_;
      if (peek('+') || peek('-')) ++i_;
      if (i_ >= s_.size() || !digit(s_[i_])) return false;
      while (i_ < s_.size() && digit(s_[i_])) ++i_;
    }
    return true;
  }

  // Length of the valid UTF-8 sequence at i_ (lead byte >= 0x80), or 0.
  std::size_t utf8() const {
    auto c = static_cast<unsigned char>(s_[i_]);
    std::size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i_ + n > s_.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s_[i_ + k]) & 0xC0) != 0x80) return 0;
    auto c1 = static_cast<unsigned char>(s_[i_ + 1]);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogates
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // beyond U+10FFFF
    return n;
  }

  // Skips bytes that stand for themselves, eight at a time while none of them is special (a
  // control character, the quote, the backslash or a byte >= 0x80): strings are most of a record.
  void skipPlain() {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    auto hasZero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    while (i_ + 8 <= s_.size()) {
      std::uint64_t v;
      std::memcpy(&v, s_.data() + i_, 8);
      std::uint64_t special = (v & highs)                    // >= 0x80
                              | ((v - 0x20 * ones) & ~v & highs)  // < 0x20 (bytes < 0x80 here)
                              | hasZero(v ^ (0x22 * ones))      // '"'
                              | hasZero(v ^ (0x5C * ones));     // '\\'
      if (special != 0) break;
      i_ += 8;
    }
    while (i_ < s_.size() && kPlain[static_cast<unsigned char>(s_[i_])]) ++i_;
  }

  // At the 'u' of \uXXXX: the code unit, and i_ past it; -1 if malformed.
  int escapedUnit() {
    if (i_ + 4 >= s_.size()) return -1;
    int v = 0;
    for (std::size_t k = 1; k <= 4; ++k) {
      char h = s_[i_ + k];
      if (!hexDigit(h)) return -1;
      v = v * 16 + (digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    i_ += 5;
    return v;
  }

  bool string() {
    ++i_;  // the opening quote
    while (i_ < s_.size()) {
      skipPlain();  // the common case
      if (i_ >= s_.size()) return false;
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          // Surrogates must pair (as in nlohmann::json, which reads these records back).
          int unit = escapedUnit();
          if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
          if (unit >= 0xD800 && unit <= 0xDBFF) {
            if (!(peek('\\') && i_ + 1 < s_.size() && s_[i_ + 1] == 'u')) return false;
            ++i_;
            int low = escapedUnit();
            if (low < 0xDC00 || low > 0xDFFF) return false;
          }
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
          ++i_;
        } else {
          return false;
        }
        continue;
      }
      if (c >= 0x80) {
        std::size_t n = utf8();
        if (n == 0) return false;
        i_ += n;
        continue;
      }
      ++i_;
    }
    return false;
  }

  // One value; containers are walked here without recursion.
  bool value() {
    for (;;) {
      ws();
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      bool scalar = true;
      if (c == '{' || c == '[') {
        if (depth_ == kMaxJsonDepth) return false;
        stack_[depth_++] = c;
        ++i_;
        ws();
        if (peek(c == '{' ? '}' : ']')) {  // empty container: a complete value
          ++i_;
          --depth_;
        } else {
          scalar = false;
          if (c == '{' && !key()) return false;
        }
      } else if (c == '"') {
        if (!string()) return false;
      } else if (c == 't') {
        if (!literal("true")) return false;
      } else if (c == 'f') {
        if (!literal("false")) return false;
      } else if (c == 'n') {
        if (!literal("null")) return false;
      } else if (!number()) {
        return false;
      }
      if (!scalar) continue;  // the first member's value comes next
      // After a complete value: close containers or move to the next member.
      for (;;) {
        if (depth_ == 0) return true;
        ws();
        if (i_ >= s_.size()) return false;
        char open = stack_[depth_ - 1];
        if (s_[i_] == ',') {
          ++i_;
          if (open == '{' && !key()) return false;
          break;
        }
        if (s_[i_] != (open == '{' ? '}' : ']')) return false;
        ++i_;
        --depth_;
      }
    }
  }

  // `"name" :` inside an object.
  bool key() {
    ws();
    if (!peek('"') || !string()) return false;
    ws();
    if (!peek(':')) return false;
    ++i_;
    return true;
  }
};

}  // namespace

bool isJsonObject(std::string_view text) { return Checker(text).object(); }

}  // namespace mandate::audit
