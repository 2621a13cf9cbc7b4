#pragma once
// Strict application/x-www-form-urlencoded decoding (RFC 6749 Appendix B): every parameter at
// most once (RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than
// once"), valid percent-escapes, bounded counts and sizes.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mandate::oauth {

struct Form {
  std::map<std::string, std::string, std::less<>> params;
  const std::string* get(std::string_view name) const {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  }
};

inline constexpr std::size_t kMaxFormParams = 32;

// False with a reason: bad escape, duplicate, too many parameters, empty name.
bool parseForm(std::string_view body, Form& out, std::string& error);
bool percentDecode(std::string_view in, bool plusIsSpace, std::string& out);

}  // namespace mandate::oauth
