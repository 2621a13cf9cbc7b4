#pragma once
// A test-only reference interpreter: evaluates a checked program by walking its AST directly,
// reading the request JSON itself. It shares nothing with the compiler, the bundle format,
// the frame filler or the VM (not even literal parsing or decimal arithmetic), and implements
// the decision semantics from the design:
//   default deny; deny overrides permit per cell; limits combine to the minimum; obligations
//   to the strongest (highest aal, shortest auth_age, shortest ttl cap; negative durations
//   count as 0); an evaluation error fails closed: a permit whose condition errors does not
//   apply, any other rule whose condition or value errors denies the cells it covers; rules
//   reading `product` are evaluated once per product class of their target.
#include <nlohmann/json.hpp>

#include "check/program.h"
#include "support.h"

namespace vmtest::diff {

DecisionView interpret(const mandate::Program& program, const nlohmann::json& input);

// Exact decimal arithmetic on 10^-18 units, by 256-bit long multiplication and division.
// Returns false on overflow (|result| > 10^38 units) or division by zero (`divByZero` set).
bool decMul(__int128 x, __int128 y, __int128& out);
bool decDiv(__int128 x, __int128 y, __int128& out, bool& divByZero);

}  // namespace vmtest::diff
