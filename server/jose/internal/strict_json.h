#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mandate::jose::detail {

// Parses `text` as one JSON object. Refuses what nlohmann would accept silently: duplicate member
// names (nlohmann keeps the last one, so two parsers could read two different headers from the
// same signed bytes), nesting deeper than `maxDepth`, and anything that is not an object.
bool parseStrictObject(std::string_view text, nlohmann::json& out, std::string& error, int maxDepth = 16);

}  // namespace mandate::jose::detail
