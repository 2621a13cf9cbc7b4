#pragma once
// Constant folding of checked expressions: the checker uses it to catch overflow in
// constants and the linter to reason about conditions. No side effects, no exceptions.
#include <cstdint>
#include <optional>
#include <string>

#include "ast/ast.h"
#include "value/literals.h"

namespace mandate::check {

struct ConstValue {
  TypeKind kind = TypeKind::Error;
  bool b = false;
  std::int64_t i = 0;   // Int, Duration (ms), Time (unix seconds)
  lit::Decimal d;       // Decimal
  std::string s;        // String, Country, Region, enum value name

  // Numeric view for ordering comparisons across int and decimal.
  std::optional<lit::Decimal> number() const;
  bool sameValue(const ConstValue& o) const;
};

enum class FoldError { None, NotConstant, Overflow, DivideByZero };

// Folds an expression the checker has typed. Attributes, `now` and `product` are not constant.
std::optional<ConstValue> fold(const ast::Expr& e, FoldError& err);

}  // namespace mandate::check
