#include "oauth/form.h"

namespace mandate::oauth {

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool percentDecode(std::string_view in, bool plusIsSpace, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parseForm(std::string_view body, Form& out, std::string& error) {
  out.params.clear();
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) {
      if (amp == body.size()) break;
      continue;  // "a=1&&b=2": an empty pair carries nothing
    }
    std::size_t eq = pair.find('=');
    std::string name, value;
    if (!percentDecode(pair.substr(0, eq), true, name) ||
        (eq != std::string_view::npos && !percentDecode(pair.substr(eq + 1), true, value))) {
      error = "malformed percent-encoding in the request body";
      return false;
    }
    if (name.empty()) {
      error = "a parameter without a name in the request body";
      return false;
    }
    // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted".
    if (value.empty()) continue;
    if (out.params.size() >= kMaxFormParams) {
      error = "too many parameters in the request body";
      return false;
    }
    if (!out.params.emplace(name, std::move(value)).second) {
      error = "parameter `" + name + "` is repeated";
      return false;
    }
  }
  return true;
}

}  // namespace mandate::oauth
