#pragma once
// Lists of strings (a client's grants and IP allowlist) stored as JSON array text.
#include <string>
#include <string_view>
#include <vector>

namespace mandate::store::sqlite {

// Throws StoreError if a string is not valid UTF-8.
std::string encodeStringList(const std::vector<std::string>& items, std::string_view what);

// Strict: anything but an array of strings throws StoreError (the row was not written by us).
std::vector<std::string> decodeStringList(std::string_view json, std::string_view what);

}  // namespace mandate::store::sqlite
