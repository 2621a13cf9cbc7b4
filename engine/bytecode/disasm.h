#pragma once
#include <string>

#include "bundle/bundle.h"

namespace mandate::bc {

// Human-readable listing: header, constants, and each rule's code ranges.
std::string disassemble(const bundle::Bundle& b);
// One constant, rendered as policy text where possible.
std::string describeConstant(const bundle::Bundle& b, std::size_t index);

}  // namespace mandate::bc
