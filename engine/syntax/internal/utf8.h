#pragma once
#include <cstddef>
#include <string_view>

namespace mandate::syntax {

// Returns the byte offset of the first invalid UTF-8 sequence, or npos when the text is valid.
// Rejects overlong forms, surrogates and code points above U+10FFFF.
std::size_t firstInvalidUtf8(std::string_view s);

}  // namespace mandate::syntax
