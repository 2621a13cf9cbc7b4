#pragma once
// The policy AST: our own tree with source spans, built from the parse tree by
// engine/syntax and annotated in place by the checker (types and resolutions).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ast/type.h"
#include "source/source.h"

namespace mandate::ast {

struct Name {
  std::string text;
  Span span;
};

enum class BinOp { Or, And, Eq, Ne, Lt, Le, Gt, Ge, In, NotIn, Add, Sub, Mul, Div };
enum class UnOp { Not, Neg };
const char* spelling(BinOp op);

enum class ExprKind {
  Int, Decimal, Duration, Time, String, Ip, Cidr, Region, Bool,  // literals (text holds source)
  Name,      // bare identifier: const, enum value or country code
  Product,   // `product`: the product class of the cell being decided
  Attr,      // section.attribute, e.g. subject.kyc_tier
  Has,       // has section.attribute
  Set,       // { e, ... }
  Match,     // match subject { pattern => value, ... }
  Unary,
  Binary,
  Paren,
};

// What a Name resolved to (filled by the checker).
enum class Ref { None, Const, EnumValue, Country, Region };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct MatchArm {
  struct Pattern {
    bool isDefault = false;  // `_`
    ExprPtr value;           // literal or name, otherwise
    Span span;
  };
  std::vector<Pattern> patterns;
  ExprPtr result;
  Span span;
};

struct Expr {
  ExprKind kind;
  Span span;
  std::string text;            // literal source text, name, or attribute name
  std::string section;         // Attr/Has: subject, client, request, risk
  Span sectionSpan, nameSpan;  // Attr/Has: spans of the two parts
  BinOp binop = BinOp::Eq;
  UnOp unop = UnOp::Not;
  std::vector<ExprPtr> kids;   // operands, set elements, match subject (kids[0])
  std::vector<MatchArm> arms;  // Match only

  // Checker annotations.
  Type type;
  Ref ref = Ref::None;
  const struct ConstDecl* constRef = nullptr;  // Ref::Const
  int enumValue = -1;                          // Ref::EnumValue: index in type.enumId's enum
};

struct Import {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  std::string path;  // as written
  Span span;
  FileId target = 0;     // resolved by the loader
  bool resolved = false;
  bool used = false;     // a constant from the target is referenced (set by the checker)
};

struct TypeRef {
  Name name;
  std::unique_ptr<TypeRef> arg;  // set<T>
  Span span;
};

struct ConstDecl {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name name;
  std::optional<TypeRef> declared;
  ExprPtr value;
  Span span;
  bool used = false;  // set by the checker
};

struct AttrDecl {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name name;
  TypeRef type;
  bool optional = false;
  Span span;
};

struct SectionDecl {  // subject { ... }, client { ... }, limits { ... }
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name name;
  std::vector<AttrDecl> attrs;
  Span span;
};

struct EnumDecl {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name name;
  std::vector<Name> values;
  Span span;
};

struct SchemaDecl {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  std::vector<EnumDecl> enums;
  std::optional<std::vector<Name>> actions;
  Span actionsSpan;
  std::optional<Name> productsEnum;
  std::vector<Name> productActions;  // empty: every action has the product axis
  Span productsSpan;
  std::optional<SectionDecl> limits;
  std::vector<SectionDecl> sections;
  // Source order of the items above, for the formatter: (kind, index).
  enum class ItemKind { Enum, Actions, Products, Limits, Section };
  std::vector<std::pair<ItemKind, std::size_t>> order;
  Span span;
};

struct Target {
  bool allActions = false;
  std::vector<Name> actions;
  bool hasProducts = false;  // an `on` clause was written
  bool allProducts = false;
  std::vector<Name> products;
  Span span;
};

enum class RuleKind { Permit, Deny, Limit, Require, CapTtl };

struct Rule {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  RuleKind kind;
  std::optional<Name> label;
  std::optional<Target> target;  // absent for permit/deny never; absent = all cells for others
  Name limitName;                // Limit; or the obligation name for Require (aal, auth_age)
  BinOp requireOp = BinOp::Ge;   // Require
  ExprPtr value;                 // Limit value, Require bound, CapTtl duration
  ExprPtr when;
  std::optional<Name> because;   // text holds the unquoted reason
  Span span;
  std::size_t index = 0;         // 1-based position in its policy
  std::string id;                // policy.label or policy.index
};

struct Meta {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  std::string key;  // cite, owner, version
  Name value;       // unquoted
  Span span;
};

struct Policy {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name name;
  std::optional<Name> title;
  std::vector<Meta> meta;
  std::vector<Rule> rules;
  // Source order of meta and rules, for the formatter: (isRule, index).
  std::vector<std::pair<bool, std::size_t>> order;
  Span span;
};

struct FieldInit {
  Name name;
  ExprPtr value;
};

struct Given {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name section;                 // subject/client/request/risk, or a scalar input such as `now`
  std::vector<FieldInit> fields;
  ExprPtr value;                // `given now = ...`
  Span span;
};

struct Expect {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  enum class Kind { Permit, Deny, Limit, Obligation } kind;
  Target target;
  bool hasTarget = false;
  Name name;                    // limit or obligation name
  BinOp op = BinOp::Eq;
  ExprPtr value;
  Span span;
};

struct TestDecl {
  std::uint32_t endLine = 0;  // last source line, for the formatter
  Name name;  // unquoted
  // Source order: (isExpect, index).
  std::vector<Given> givens;
  std::vector<Expect> expects;
  std::vector<std::pair<bool, std::size_t>> order;
  Span span;
};

struct Comment {
  std::string text;  // including the leading //
  Span span;
  bool trailing;     // code precedes it on the same line
};

using Item = std::variant<Import, ConstDecl, SchemaDecl, Policy, TestDecl>;

struct File {
  FileId id = 0;
  std::vector<Item> items;
  std::vector<Comment> comments;
  bool parsed = false;  // false when the file could not be parsed at all (limits, UTF-8)
};

// String literal unescaping: \" \\ \n \t; returns false on an unknown escape.
bool unescapeString(std::string_view quoted, std::string& out);
std::string escapeString(std::string_view raw);

}  // namespace mandate::ast
