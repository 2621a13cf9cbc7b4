#pragma once
// A compiled policy bundle in memory: the schema it was compiled against, constants,
// bytecode and the rule table. Produced by the compiler or by loading (and verifying) the
// binary form; immutable afterwards and shared by every evaluating thread.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bytecode/opcodes.h"
#include "schema/schema.h"

namespace mandate::bundle {

// Untyped 16-byte VM value; the compiler knows each value's type statically.
//   bool, int, enum, duration (ms), time (ms since epoch): a
//   country: a = (c0 << 8) | c1
//   decimal: 128-bit units of 10^-18, a = low 64 bits, b = high 64 bits
//   string, region: a = pointer to bytes, b = length
//   ip: 128-bit address (IPv4 mapped to ::ffff:0:0/96), a = high, b = low
//   cidr, set: a = pointer to Cidr / SetData; set<enum>: a = bit mask of members
struct Value {
  std::int64_t a = 0;
  std::int64_t b = 0;
};

struct Cidr {
  std::uint64_t hi = 0, lo = 0;  // network address (IPv4 mapped)
  std::uint8_t prefix = 0;       // 0..128 (IPv4 prefixes + 96)
};

struct SetData {
  TypeKind elem = TypeKind::Error;
  std::vector<Value> items;        // sorted by the element's order (strings: bytewise)
  std::vector<std::string> strs;   // storage for string elements
  std::vector<Cidr> cidrs;         // cidr elements
};

enum class ConstKind : std::uint8_t { Scalar = 1, String = 2, Set = 3, Cidr = 4, EnumMask = 5 };

struct Constant {
  ConstKind kind = ConstKind::Scalar;
  TypeKind type = TypeKind::Error;  // scalar type, or the set's element type
  Value scalar;                     // Scalar, EnumMask
  std::string str;                  // String
  SetData set;                      // Set
  Cidr cidr;                        // Cidr
};

enum class RuleKind : std::uint8_t { Permit = 1, Deny = 2, Limit = 3, RequireAal = 4, RequireAuthAge = 5, CapTtl = 6 };

// The rule kind as written in policies: "permit", "require aal", "cap ttl", ...
const char* ruleKindName(RuleKind k);

struct Rule {
  RuleKind kind = RuleKind::Permit;
  std::string id;      // policy.label or policy.N
  std::string policy;  // policy name
  std::string title;   // policy title
  std::string reason;  // because
  std::string cite;    // the policy's citations, "; " separated
  std::string file;
  std::uint32_t line = 0, col = 0, len = 0;
  std::vector<std::uint64_t> target;  // per action: product mask (bit 0 for actions without products)
  std::int32_t limit = -1;            // Limit: index into schema.limits
  // A product-dependent rule's condition is split so that per product class only the part that
  // reads `product` runs: `pre` (its leading conjuncts that do not read `product`, run once),
  // `productFilter` (the classes a leading `product in K` / `product == X` test admits), then
  // `cond` (the rest, run per admitted class). Other rules have only `cond`.
  std::uint32_t preStart = 0, preLen = 0;       // preLen 0: no product-independent prefix
  std::uint64_t productFilter = ~0ULL;
  std::uint32_t condStart = 0, condLen = 0;    // condLen 0: always applies
  // When every conjunct of that rest is product-independent or a test of `product` against a
  // product-independent set (`product in K`, `product not in subject.appropriateness`), the
  // compiler also emits it as a mask condition: one run that yields the classes for which the
  // rest holds (ops.def, "Mask conditions"). The VM runs it instead of `cond` per class when
  // not tracing; `cond` stays for traces, which name the class of each sub-condition.
  std::uint32_t maskStart = 0, maskLen = 0;    // maskLen 0: no mask form
  std::uint32_t valueStart = 0, valueLen = 0;  // Limit / Require / CapTtl value
  bool productDependent = false;               // code reads `product`: evaluated once per product class
  // When the value depends on `product` and constants only (`match product { cfd => 2, ... }`),
  // the compiler evaluates it per product class: valueTable[p] replaces running the value code.
  std::vector<Value> valueTable;

  // Derived by Bundle::materialize(), not serialized: the classes the rule decides (the union
  // of its targets, narrowed by productFilter when it reads `product`).
  std::uint64_t classes = 0;
};

// Source text and position of an instruction that decides something (comparison, `in`,
// `has`, load), for explanations.
struct DebugEntry {
  std::uint32_t pc = 0;
  std::uint32_t line = 0, col = 0;
  std::string text;
};

struct Bundle {
  Schema schema;
  std::vector<Constant> constants;
  std::vector<bc::Instr> code;
  std::vector<Rule> rules;
  std::vector<DebugEntry> debug;  // sorted by pc
  std::uint64_t worstCaseInstructions = 0;
  std::uint32_t maxStack = 0;

  // Filled when the bundle is serialized or loaded.
  std::array<std::uint8_t, 32> schemaHash{};
  std::string contentHash;  // "sha256:<hex>": the policy version carried in tokens and audit
  std::string signerKey;    // hex Ed25519 public key when signed, else empty

  // Materialized constant values: pointers into `constants` (so a Bundle is not copyable).
  std::vector<Value> constValues;
  void materialize();

  Bundle() = default;
  Bundle(const Bundle&) = delete;
  Bundle& operator=(const Bundle&) = delete;
};

// Country code <-> value.
inline std::int64_t countryValue(std::string_view c) { return (static_cast<unsigned char>(c[0]) << 8) | static_cast<unsigned char>(c[1]); }
std::string countryText(std::int64_t v);

// Total order used for sorted sets and by IN_SET.
int compareElements(TypeKind elem, const Value& x, const Value& y);
bool cidrContains(const Cidr& c, std::uint64_t hi, std::uint64_t lo);

inline __int128 decimalOf(const Value& v) {
  return static_cast<__int128>((static_cast<unsigned __int128>(static_cast<std::uint64_t>(v.b)) << 64) |
                               static_cast<std::uint64_t>(v.a));
}
inline Value decimalValue(__int128 d) {
  auto u = static_cast<unsigned __int128>(d);
  return Value{static_cast<std::int64_t>(static_cast<std::uint64_t>(u)), static_cast<std::int64_t>(static_cast<std::uint64_t>(u >> 64))};
}

}  // namespace mandate::bundle
