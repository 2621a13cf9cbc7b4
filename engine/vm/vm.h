#pragma once
// The policy VM: evaluates a whole token request against a bundle. Reentrant: the bundle is
// shared and immutable; each call writes only the caller's Decision (allocated once per
// thread and reused: evaluation itself allocates nothing unless a Trace is requested).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bundle/bundle.h"
#include "vm/frame.h"

namespace mandate::vm {

inline constexpr std::size_t kMaxStack = 64;
inline constexpr std::size_t kMaxErrors = 32;

enum class EvalError : std::uint8_t { None, Absent, NoNow, Overflow, DivideByZero };
const char* describe(EvalError e);

struct RuleError {
  std::uint32_t rule = 0;
  EvalError error = EvalError::None;
  std::uint32_t slot = 0;  // Absent: the attribute's slot
};

enum class Outcome : std::uint8_t { NotApplicable = 0, Fired = 1, Errored = 2 };

struct Decision {
  std::size_t actions = 0;
  std::vector<std::uint64_t> permitted, denied;  // per action
  std::vector<std::int32_t> denyRule;            // per cell [action * 64 + product]: first deny, -1 none
  std::vector<bundle::Value> limit;              // [limit][action * 64 + product]
  std::vector<std::int32_t> limitRule;           // which rule set the current minimum, -1 none
  std::vector<std::int64_t> aal;                 // per cell, highest required level (0 none)
  std::vector<std::int64_t> authAgeMs;           // per cell, shortest max auth age (-1 none)
  std::int64_t ttlCapMs = -1;                    // -1 none
  std::array<RuleError, kMaxErrors> errors{};
  std::uint32_t errorCount = 0;
  std::uint32_t errorsDropped = 0;
  std::vector<Outcome> outcome;  // per rule
  std::uint64_t instructions = 0;
  // Bookkeeping for reset(): per [limit][action], then per action for aal and for auth age, the
  // cells written since the last reset, so that reusing a Decision clears only those.
  std::vector<std::uint64_t> written;

  // Sizes the buffers for a bundle; reusing a Decision for the same bundle allocates nothing.
  void reset(const bundle::Bundle& b);
  bool allowed(std::size_t action, std::size_t product) const {
    return ((permitted[action] & ~denied[action]) >> product) & 1;
  }
};

// One decided sub-condition, for explanations.
struct TraceEvent {
  std::uint32_t rule;
  std::int32_t product;  // -1 when the rule does not depend on the product
  std::uint32_t pc;
  bundle::Value value;   // LOAD: the value; comparisons: result in a
  bool isLoad;
};
struct Trace {
  std::vector<TraceEvent> events;
};

void evaluate(const bundle::Bundle& b, const Frame& in, Decision& out, Trace* trace = nullptr);

// Runs one code range with no inputs and `product` = p (the compiler's per-class folding).
// False when the code reads an input or fails (overflow, division by zero).
bool evaluateConstantRange(const bundle::Bundle& b, std::uint32_t start, std::int64_t product, bundle::Value& out);

}  // namespace mandate::vm
