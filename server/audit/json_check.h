#pragma once
// A syntax check for the JSON object a record carries (RFC 8259: strings with valid escapes and
// valid UTF-8, numbers, literals, nesting up to a bound), without building anything: every token
// the server issues passes through it, and a DOM parse cost more than the rest of the record.
#include <cstddef>
#include <string_view>

namespace mandate::audit {

inline constexpr std::size_t kMaxJsonDepth = 256;

// True when `text` is exactly one JSON object nested at most kMaxJsonDepth deep, with no raw
// control characters anywhere (whitespace between tokens: spaces only).
bool isJsonObject(std::string_view text);

}  // namespace mandate::audit
