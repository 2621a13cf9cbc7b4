#pragma once
#include <string>

namespace mandate::cli {

// A unified diff (3 lines of context) between two texts, with ---/+++ headers naming `path`.
// Empty when the texts are equal.
std::string unifiedDiff(const std::string& path, const std::string& before, const std::string& after);

}  // namespace mandate::cli
