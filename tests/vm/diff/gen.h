#pragma once
// Random well-typed policies and requests for the differential test. Programs are kept as
// typed trees (not only text) so that a failing case can be shrunk while staying well typed.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmtest::diff {

// Expression types the generator produces.
enum class T { Bool, Int, Dec, Dur, Time, Cat, PC, Country, Str, Region, Ip };

struct Node;
using NodePtr = std::unique_ptr<Node>;

// `fmt` is the node's text with $0..$9 standing for its children's text.
struct Node {
  T type;
  std::string fmt;
  std::vector<NodePtr> kids;
  NodePtr clone() const;
  std::string render() const;
  std::size_t size() const;
};

struct GenAttr {
  std::string section, name;
  std::string typeText;   // as written in the schema
  T type = T::Int;        // scalar type, or the element type of a set
  bool isSet = false;
  bool isCidr = false;    // cidr or set<cidr> (type is then Ip: what `in` tests)
  bool optional = false;
  std::string ref() const { return section + "." + name; }
};

struct GenRule {
  enum Kind { Permit, Deny, Limit, RequireAal, RequireAuthAge, CapTtl } kind = Permit;
  std::string limit;   // Limit
  std::string target;  // rendered target ("trade on spot, margin", "all"); empty: none (limit/require/cap)
  NodePtr value;       // Limit / Require / CapTtl
  NodePtr cond;        // optional
  GenRule clone() const;
  std::string render() const;
};

struct GenProgram {
  std::vector<std::string> products;  // product class names
  std::vector<std::string> actions;
  std::vector<bool> actionHasProducts;
  std::vector<GenAttr> attrs;
  std::vector<std::vector<GenRule>> policies;
  GenProgram clone() const;
  std::string render() const;
  std::size_t ruleCount() const;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  GenProgram program();
  nlohmann::json input(const GenProgram& p);
  // The simplest node of a type: what shrinking replaces subtrees with.
  static NodePtr simplest(T t, const GenProgram& p);

 private:
  std::mt19937_64 rng_;
  const GenProgram* prog_ = nullptr;
  bool productOk_ = false;

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  bool chance(int percent) { return static_cast<int>(below(100)) < percent; }
  template <class C>
  const auto& pick(const C& c) {
    return c[below(std::size(c))];
  }

  NodePtr gen(T t, int depth);
  NodePtr leaf(T t);
  NodePtr literal(T t);
  NodePtr genBool(int depth);
  NodePtr genIn(int depth);
  NodePtr genMatch(T result, int depth, const std::string& forced = "");
  NodePtr genMatchOn(const std::string& subject, T result, int depth);
  NodePtr genProductTest(int depth);
  NodePtr genArith(T t, int depth);
  std::vector<const GenAttr*> attrsOf(T t, bool set) const;
  std::string target(bool allowNone, bool& productOk);
  nlohmann::json value(const GenAttr& a);
  nlohmann::json scalar(T t, bool cidr);
};

}  // namespace vmtest::diff
