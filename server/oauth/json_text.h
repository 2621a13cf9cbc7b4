#pragma once
// Building JSON text directly on the token endpoint's hot path, where a DOM (nlohmann::json) per
// request cost more than signing the token (measured: serialisation and its allocations were
// ~40% of the endpoint's CPU time).
#include <cstdint>
#include <string>
#include <string_view>

namespace mandate::oauth {

// Appends "s" as a JSON string: quotes, backslashes and control characters escaped; bytes >= 0x80
// that do not form valid UTF-8 are replaced by U+FFFD so the output is always valid JSON.
void appendJsonString(std::string& out, std::string_view s);
void appendJsonInt(std::string& out, std::int64_t v);
// A decimal rendered by the engine ("100", "0.5", "-2"): emitted as a JSON number when it is one.
void appendJsonNumberText(std::string& out, std::string_view text);

}  // namespace mandate::oauth
