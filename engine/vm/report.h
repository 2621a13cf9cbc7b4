#pragma once
// Decisions as JSON and as text, with optional explanations from a Trace.
#include <string>

#include <nlohmann/json.hpp>

#include "vm/vm.h"

namespace mandate::vm {

nlohmann::json decisionJson(const bundle::Bundle& b, const Decision& d, const Trace* trace);
std::string decisionText(const bundle::Bundle& b, const Decision& d, const Trace* trace);

// The value of limit `limit` for a cell, rendered; empty when no limit applies.
std::string limitText(const bundle::Bundle& b, const Decision& d, std::size_t limit, std::size_t action, std::size_t product);

}  // namespace mandate::vm
