#include "store/json_list.h"

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace mandate::store::sqlite {

std::string encodeStringList(const std::vector<std::string>& items, std::string_view what) {
  try {
    return nlohmann::json(items).dump();
  } catch (const nlohmann::json::exception&) {
    throw StoreError("store: " + std::string(what) + ": a value is not valid UTF-8");
  }
}

std::vector<std::string> decodeStringList(std::string_view json, std::string_view what) {
  auto v = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!v.is_array()) throw StoreError("store: corrupt " + std::string(what) + ": not a JSON array");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (auto& item : v) {
    if (!item.is_string()) throw StoreError("store: corrupt " + std::string(what) + ": not a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace mandate::store::sqlite
