#pragma once
// Types of the policy language.
#include <string>

namespace mandate {

enum class TypeKind {
  Error,  // already reported; suppresses cascades
  Bool, Int, Decimal, String, Country, Region, Ip, Cidr, Time, Duration, Enum,
  Set,
  EmptySet,  // `{}` before its element type is known
};

struct Type {
  TypeKind kind = TypeKind::Error;
  int enumId = -1;                      // Enum, or the element of a Set of Enum
  TypeKind elem = TypeKind::Error;      // Set element kind

  static Type of(TypeKind k) { return Type{k, -1, TypeKind::Error}; }
  static Type enumOf(int id) { return Type{TypeKind::Enum, id, TypeKind::Error}; }
  static Type setOf(Type e) { return Type{TypeKind::Set, e.enumId, e.kind}; }
  Type element() const { return Type{elem, enumId, TypeKind::Error}; }
  bool isError() const { return kind == TypeKind::Error; }
  bool operator==(const Type& o) const {
    return kind == o.kind && (kind != TypeKind::Enum && kind != TypeKind::Set ? true
                               : enumId == o.enumId && elem == o.elem);
  }
  bool operator!=(const Type& o) const { return !(*this == o); }
};

}  // namespace mandate
