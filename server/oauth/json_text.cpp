#include "oauth/json_text.h"

#include <charconv>

namespace mandate::oauth {

namespace {
// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8Length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (n == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;  // overlong, surrogates
  if (n == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;
  return n;
}
}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    // Runs of plain ASCII (most of every string here) are copied at once.
    std::size_t j = i;
    while (j < s.size()) {
      auto b = static_cast<unsigned char>(s[j]);
      if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
      ++j;
    }
    if (j > i) {
      out.append(s.data() + i, j - i);
      if (j == s.size()) break;
      i = j;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else if (std::size_t n = utf8Length(s, i)) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      out += "\xEF\xBF\xBD";
    }
  }
  out.push_back('"');
}

void appendJsonInt(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void appendJsonNumberText(std::string& out, std::string_view t) {
  // JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?
  std::size_t i = 0;
  bool ok = !t.empty();
  if (ok && t[i] == '-') ++i;
  std::size_t intStart = i;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  ok = ok && i > intStart && !(t[intStart] == '0' && i - intStart > 1);
  if (ok && i < t.size() && t[i] == '.') {
    std::size_t frac = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    ok = i > frac;
  }
  if (ok && i == t.size()) {
    out.append(t);
  } else {
    appendJsonString(out, t);
  }
}

}  // namespace mandate::oauth
