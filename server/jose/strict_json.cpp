#include "jose/internal/strict_json.h"

#include <set>
#include <vector>

namespace mandate::jose::detail {

bool parseStrictObject(std::string_view text, nlohmann::json& out, std::string& error, int maxDepth) {
  using json = nlohmann::json;
  // One set of member names per object being parsed; the innermost open object is the back.
  std::vector<std::set<std::string>> open;
  bool duplicate = false;
  bool tooDeep = false;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > maxDepth) tooDeep = true;
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() && !open.back().insert(parsed.get<std::string>()).second)
          duplicate = true;
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  json value = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    error = "not valid JSON";
    return false;
  }
  if (duplicate) {
    error = "duplicate member name in JSON object";
    return false;
  }
  if (tooDeep) {
    error = "JSON nested too deeply";
    return false;
  }
  if (!value.is_object()) {
    error = "not a JSON object";
    return false;
  }
  out = std::move(value);
  return true;
}

}  // namespace mandate::jose::detail
