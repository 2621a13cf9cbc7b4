#pragma once
// The resolved schema model: enums, the permission universe, attributes and limits.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ast/type.h"
#include "source/source.h"

namespace mandate {

struct EnumInfo {
  std::string name;
  std::vector<std::string> values;
  Span span;
  int indexOf(std::string_view v) const;
};

struct AttrInfo {
  std::string section;  // subject, client, request, risk
  std::string name;
  Type type;
  bool optional = false;
  int slot = 0;         // position in the input frame
  Span span;
};

struct LimitInfo {
  std::string name;
  Type type;
  Span span;
};

inline constexpr std::string_view kSections[] = {"subject", "client", "request", "risk"};
inline constexpr std::size_t kMaxProductClasses = 64;  // one 64-bit mask per action

// "int", "country", ... ("enum" and "set" without their parameters).
const char* typeKindName(TypeKind k);

struct Schema {
  bool present = false;
  std::vector<EnumInfo> enums;
  std::vector<std::string> actions;
  std::vector<bool> actionHasProducts;
  int productsEnum = -1;  // index into enums
  std::vector<AttrInfo> attrs;
  std::vector<LimitInfo> limits;

  int findEnum(std::string_view name) const;
  int findAction(std::string_view name) const;
  int findProduct(std::string_view name) const;  // value index in the products enum
  int findLimit(std::string_view name) const;
  const AttrInfo* findAttr(std::string_view section, std::string_view name) const;
  std::vector<std::string> attrNames(std::string_view section) const;
  std::size_t productCount() const;
  std::string typeName(const Type& t) const;
};

}  // namespace mandate
