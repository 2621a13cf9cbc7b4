#pragma once
// Shared helpers for the VM tests: compiling policy text held in memory, evaluating a bundle
// against a JSON request, and a canonical, comparable view of a decision.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/bundle.h"
#include "bundle/codec.h"
#include "check/program.h"
#include "vm/frame.h"
#include "vm/vm.h"

namespace vmtest {

namespace fs = std::filesystem;

inline const fs::path kSourceDir = MANDATE_SOURCE_DIR;
inline const fs::path kBinary = MANDATE_BINARY;
inline const fs::path kVmDir = kSourceDir / "tests" / "vm";

std::string readFile(const fs::path& p);
void writeFile(const fs::path& p, const std::string& text);

// Imports resolved from a map: keys are paths relative to a virtual root ("common/regions.policy").
class MemoryProvider : public mandate::SourceProvider {
 public:
  std::map<std::string, std::string> files;
  bool resolveImport(const std::string& fromKey, const std::string& importPath, mandate::LoadedSource& out,
                     std::string& error) override;
};

struct Compiled {
  std::unique_ptr<mandate::Program> program;
  std::unique_ptr<mandate::bundle::Bundle> bundle;
  std::string errors;  // rendered error diagnostics; empty when the program compiled
  std::vector<std::string> errorCodes;  // "E0309", ...
  bool ok() const { return bundle != nullptr; }
};

// Checks and compiles `text` (shown in diagnostics and rule sources as `display`).
Compiled compile(const std::string& text, const std::string& display = "main.policy",
                 const std::map<std::string, std::string>& imports = {}, bool lint = false);

// Serializes (optionally signed) and loads back through the verifying loader.
std::unique_ptr<mandate::bundle::Bundle> roundTrip(mandate::bundle::Bundle& b, std::string* bytes = nullptr,
                                                   std::string* error = nullptr);

struct Run {
  mandate::vm::Frame frame;  // kept: a trace's values point into it
  mandate::vm::Decision d;
  std::vector<std::string> frameErrors;
};

// Fills a frame from `input` (missing required attributes are left absent unless requireAll)
// and evaluates.
Run evaluate(const mandate::bundle::Bundle& b, const nlohmann::json& input, bool requireAll = false,
             mandate::vm::Trace* trace = nullptr);

// "read:permit trade/spot:permit{lev=2.5} trade/future:deny(p.uk) withdraw:- ttl=300000ms
//  errors=[p.3:absent subject.lei]": every cell in schema order, with its limits and
// obligations; then the token-wide ttl cap and the evaluation errors.
std::string summary(const mandate::bundle::Bundle& b, const mandate::vm::Decision& d);

// ---- canonical decision, comparable between the VM and the test interpreter ----------

struct ErrorView {
  std::uint32_t rule = 0;
  mandate::vm::EvalError error = mandate::vm::EvalError::None;
  std::uint32_t slot = 0;  // Absent only
  bool operator==(const ErrorView& o) const { return rule == o.rule && error == o.error && slot == o.slot; }
};

struct CellView {
  std::size_t action = 0, product = 0;
  bool permitted = false, denied = false;
  std::int32_t denyRule = -1;                     // first rule (in rule order) that denied the cell
  std::vector<std::optional<__int128>> limits;    // per schema limit: decimal units, or int / ms
  std::int64_t aal = 0;                           // 0: none
  std::int64_t authAgeMs = -1;                    // -1: none
  bool operator==(const CellView& o) const = default;
};

struct DecisionView {
  std::vector<CellView> cells;       // every (action, product) cell of the schema, in order
  std::int64_t ttlCapMs = -1;
  std::vector<mandate::vm::Outcome> outcome;  // per rule
  std::vector<ErrorView> errors;     // in evaluation order (rule order, then product order), at most 32
  std::uint32_t errorsDropped = 0;   // beyond the 32 kept
  bool operator==(const DecisionView& o) const = default;
};

DecisionView view(const mandate::bundle::Bundle& b, const mandate::vm::Decision& d);
// One line per cell and per rule outcome/error, for failure messages and diffs.
std::string render(const mandate::Schema& s, const std::vector<std::string>& ruleIds, const DecisionView& v);
std::vector<std::string> ruleIds(const mandate::bundle::Bundle& b);
// Lines of `a` and `b` that differ, marked - and +.
std::string lineDiff(const std::string& a, const std::string& b);

std::string toString(__int128 v);

}  // namespace vmtest
