#include "schema/schema.h"

namespace mandate {

int EnumInfo::indexOf(std::string_view v) const {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] == v) return static_cast<int>(i);
  return -1;
}

int Schema::findEnum(std::string_view name) const {
  for (std::size_t i = 0; i < enums.size(); ++i)
    if (enums[i].name == name) return static_cast<int>(i);
  return -1;
}

int Schema::findAction(std::string_view name) const {
  for (std::size_t i = 0; i < actions.size(); ++i)
    if (actions[i] == name) return static_cast<int>(i);
  return -1;
}

int Schema::findProduct(std::string_view name) const {
  return productsEnum < 0 ? -1 : enums[productsEnum].indexOf(name);
}

int Schema::findLimit(std::string_view name) const {
  for (std::size_t i = 0; i < limits.size(); ++i)
    if (limits[i].name == name) return static_cast<int>(i);
  return -1;
}

const AttrInfo* Schema::findAttr(std::string_view section, std::string_view name) const {
  for (const auto& a : attrs)
    if (a.section == section && a.name == name) return &a;
  return nullptr;
}

std::vector<std::string> Schema::attrNames(std::string_view section) const {
  std::vector<std::string> out;
  for (const auto& a : attrs)
    if (a.section == section) out.push_back(a.name);
  return out;
}

std::size_t Schema::productCount() const {
  return productsEnum < 0 ? 0 : enums[productsEnum].values.size();
}

const char* typeKindName(TypeKind k) {
  switch (k) {
    case TypeKind::Bool: return "bool";
    case TypeKind::Int: return "int";
    case TypeKind::Decimal: return "decimal";
    case TypeKind::String: return "string";
    case TypeKind::Country: return "country";
    case TypeKind::Region: return "region";
    case TypeKind::Ip: return "ip";
    case TypeKind::Cidr: return "cidr";
    case TypeKind::Time: return "time";
    case TypeKind::Duration: return "duration";
    case TypeKind::EmptySet: return "empty set";
    case TypeKind::Enum: return "enum";
    case TypeKind::Set: return "set";
    default: return "?";
  }
}

std::string Schema::typeName(const Type& t) const {
  auto one = [&](TypeKind k, int e) -> std::string {
    if (k == TypeKind::Enum) return e >= 0 && e < static_cast<int>(enums.size()) ? enums[e].name : "enum";
    return typeKindName(k);
  };
  if (t.kind == TypeKind::Set) return "set<" + one(t.elem, t.enumId) + ">";
  return one(t.kind, t.enumId);
}

}  // namespace mandate
