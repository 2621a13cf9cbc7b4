// Differential test: random well-typed policies, compiled by the real compiler and run by the
// VM (both from memory and through the binary bundle format), against the reference AST
// interpreter in diff/interp.cpp. A disagreement is shrunk to a small policy and request and
// reported with both decisions.
//
//   MANDATE_DIFF_SEED=N     base seed (default 20250101; printed on every run)
//   MANDATE_DIFF_CASES=N    number of random policies (default 2500, each with 5 requests)
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <set>
#include <tuple>
#include <algorithm>

#include "diff/gen.h"
#include "diff/interp.h"
#include "support.h"
#include "vm/report.h"

namespace {

using namespace vmtest;
using namespace vmtest::diff;
using nlohmann::json;

constexpr std::uint64_t kDefaultSeed = 20250101;
constexpr std::size_t kDefaultCases = 2500;
constexpr std::size_t kInputsPerPolicy = 5;

std::uint64_t envNumber(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// splitmix64: a per-case seed, so any single case can be regenerated from (seed, index).
std::uint64_t caseSeed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

enum class Verdict { Agree, Rejected, CompileError, Unverifiable, LoadedDiffers, Disagree };

const char* describe(Verdict v) {
  switch (v) {
    case Verdict::Agree: return "agree";
    case Verdict::Rejected: return "rejected (constant overflow)";
    case Verdict::CompileError: return "a well-typed policy did not compile";
    case Verdict::Unverifiable: return "the loader's verifier refused the compiler's output";
    case Verdict::LoadedDiffers: return "the loaded bundle decides differently from the compiled one";
    case Verdict::Disagree: return "the VM and the reference interpreter disagree";
  }
  return "?";
}

struct Outcome {
  Verdict verdict = Verdict::Agree;
  std::string detail;
};

// What the agreeing cases exercised, so that the test cannot quietly become vacuous.
struct Coverage {
  std::size_t requestsWithErrors = 0;
  std::size_t errorsByKind[5] = {0, 0, 0, 0, 0};  // vm::EvalError
  std::size_t perProductRules = 0, maskRules = 0, firedRules = 0, permittedCells = 0, deniedCells = 0, limitedCells = 0;
};

// The same decision: cells, ttl cap and rule outcomes exactly; evaluation errors as a set of
// (rule, error, attribute) — how many times an error is recorded for one rule (once, or once per
// product class) is not part of the semantics. When the VM dropped errors beyond its 32, what it
// kept must be among the reference's.
bool sameDecision(const DecisionView& vm, const DecisionView& ref) {
  if (vm.cells != ref.cells || vm.ttlCapMs != ref.ttlCapMs || vm.outcome != ref.outcome) return false;
  auto key = [](const ErrorView& e) { return std::tuple(e.rule, static_cast<int>(e.error), e.slot); };
  std::set<std::tuple<std::uint32_t, int, std::uint32_t>> a, b;
  for (const auto& e : vm.errors) a.insert(key(e));
  for (const auto& e : ref.errors) b.insert(key(e));
  if (vm.errorsDropped == 0 && ref.errorsDropped == 0) return a == b;
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

Outcome judge(const GenProgram& prog, const std::vector<json>& inputs, Coverage* cov = nullptr) {
  Outcome o;
  std::string text = prog.render();
  Compiled c = compile(text);
  if (!c.ok()) {
    bool onlyOverflow = !c.errorCodes.empty();
    for (const auto& code : c.errorCodes) onlyOverflow = onlyOverflow && code == "E0309";
    o.verdict = onlyOverflow ? Verdict::Rejected : Verdict::CompileError;
    o.detail = c.errors;
    return o;
  }
  std::string error;
  auto loaded = roundTrip(*c.bundle, nullptr, &error);
  if (!loaded) {
    o.verdict = Verdict::Unverifiable;
    o.detail = error;
    return o;
  }
  auto ids = ruleIds(*c.bundle);
  for (const auto& in : inputs) {
    Run run = evaluate(*c.bundle, in);
    if (!run.frameErrors.empty()) {
      o.verdict = Verdict::CompileError;
      o.detail = "the generated request was refused: " + run.frameErrors[0] + "\n" + in.dump();
      return o;
    }
    DecisionView vmView = view(*c.bundle, run.d);
    // The loaded bundle, evaluated with a trace as `--explain` does (a different path in the VM:
    // no reuse of product-independent runs), and its explanation rendered.
    mandate::vm::Trace trace;
    Run traced = evaluate(*loaded, in, false, &trace);
    DecisionView loadedView = view(*loaded, traced.d);
    (void)mandate::vm::decisionJson(*loaded, traced.d, &trace);
    DecisionView ref = interpret(*c.program, in);
    std::string a = render(c.bundle->schema, ids, vmView), b = render(c.bundle->schema, ids, ref);
    if (!sameDecision(vmView, ref)) {
      o.verdict = Verdict::Disagree;
      o.detail = "request: " + in.dump() + "\nVM:\n" + a + "reference interpreter:\n" + b +
                 "differences (- VM, + reference):\n" + lineDiff(a, b);
      return o;
    }
    if (!(vmView == loadedView)) {  // the same bundle: identical, errors included
      o.verdict = Verdict::LoadedDiffers;
      o.detail = "request: " + in.dump() + "\n" + lineDiff(a, render(c.bundle->schema, ids, loadedView));
      return o;
    }
    if (cov != nullptr) {
      if (!vmView.errors.empty()) ++cov->requestsWithErrors;
      for (const auto& e : vmView.errors) ++cov->errorsByKind[static_cast<int>(e.error)];
      for (auto o2 : vmView.outcome) cov->firedRules += o2 == mandate::vm::Outcome::Fired;
      for (const auto& cell : vmView.cells) {
        cov->permittedCells += cell.permitted && !cell.denied;
        cov->deniedCells += cell.denied;
        for (const auto& l : cell.limits) cov->limitedCells += l.has_value();
      }
    }
  }
  if (cov != nullptr)
    for (const auto& r : c.bundle->rules) {
      cov->perProductRules += r.productDependent;
      cov->maskRules += r.maskLen > 0;  // decided by a mask condition when not traced
    }
  return o;
}

// ---- shrinking ----------------------------------------------------------------------------

// Every node slot of a program, as a pointer to the owning NodePtr.
void slots(NodePtr& n, std::vector<NodePtr*>& out) {
  out.push_back(&n);
  for (auto& k : n->kids) slots(k, out);
}

std::vector<NodePtr*> allSlots(GenProgram& p) {
  std::vector<NodePtr*> out;
  for (auto& pol : p.policies)
    for (auto& r : pol) {
      if (r.cond) slots(r.cond, out);
      if (r.value) slots(r.value, out);
    }
  return out;
}

void shrink(GenProgram& prog, std::vector<json>& inputs, Verdict want) {
  auto still = [&](const GenProgram& p, const std::vector<json>& in) { return judge(p, in).verdict == want; };
  // Keep only one failing request.
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (still(prog, {inputs[k]})) {
      json one = inputs[k];
      inputs = {one};
      break;
    }
  }
  bool changed = true;
  while (changed) {
    changed = false;
    // Drop rules.
    for (std::size_t pi = 0; pi < prog.policies.size(); ++pi) {
      for (std::size_t ri = 0; ri < prog.policies[pi].size(); ++ri) {
        if (prog.ruleCount() <= 1) break;
        GenProgram cand = prog.clone();
        cand.policies[pi].erase(cand.policies[pi].begin() + static_cast<std::ptrdiff_t>(ri));
        if (cand.policies[pi].empty()) cand.policies.erase(cand.policies.begin() + static_cast<std::ptrdiff_t>(pi));
        if (still(cand, inputs)) {
          prog = std::move(cand);
          changed = true;
          --ri;
        }
      }
    }
    // Drop conditions.
    for (std::size_t pi = 0; pi < prog.policies.size(); ++pi) {
      for (std::size_t ri = 0; ri < prog.policies[pi].size(); ++ri) {
        if (!prog.policies[pi][ri].cond) continue;
        GenProgram cand = prog.clone();
        cand.policies[pi][ri].cond.reset();
        if (still(cand, inputs)) {
          prog = std::move(cand);
          changed = true;
        }
      }
    }
    // Replace subtrees by a same-typed child or by the simplest value of their type.
    for (std::size_t i = 0;; ++i) {
      std::vector<NodePtr*> s = allSlots(prog);
      if (i >= s.size()) break;
      const Node& n = **s[i];
      std::vector<NodePtr> replacements;
      for (const auto& k : n.kids)
        if (k->type == n.type) replacements.push_back(k->clone());
      NodePtr simple = Generator::simplest(n.type, prog);
      if (simple->fmt != n.fmt || !n.kids.empty()) replacements.push_back(std::move(simple));
      for (auto& rep : replacements) {
        GenProgram cand = prog.clone();
        *allSlots(cand)[i] = std::move(rep);
        if (still(cand, inputs)) {
          prog = std::move(cand);
          changed = true;
          break;
        }
      }
    }
    // Drop request attributes and `now`.
    std::vector<std::pair<std::string, std::string>> keys;
    for (const auto& [section, attrs] : inputs[0].items()) {
      if (!attrs.is_object()) continue;
      for (const auto& [name, value] : attrs.items()) keys.emplace_back(section, name);
    }
    for (const auto& [section, name] : keys) {
      std::vector<json> cand = inputs;
      cand[0][section].erase(name);
      if (still(prog, cand)) {
        inputs = cand;
        changed = true;
      }
    }
    if (inputs[0].contains("now")) {
      std::vector<json> cand = inputs;
      cand[0].erase("now");
      if (still(prog, cand)) {
        inputs = cand;
        changed = true;
      }
    }
  }
}

TEST_CASE("differential: compiler + VM agree with the reference interpreter on random policies") {
  std::uint64_t seed = envNumber("MANDATE_DIFF_SEED", kDefaultSeed);
  std::size_t cases = envNumber("MANDATE_DIFF_CASES", kDefaultCases);
  MESSAGE("differential seed " << seed << " (MANDATE_DIFF_SEED), " << cases << " policies x " << kInputsPerPolicy
                               << " requests (MANDATE_DIFF_CASES)");
  auto start = std::chrono::steady_clock::now();
  std::size_t pairs = 0, rejected = 0, failures = 0, rules = 0;
  Coverage cov;
  for (std::size_t i = 0; i < cases && failures < 3; ++i) {
    Generator g(caseSeed(seed, i));
    GenProgram prog = g.program();
    std::vector<json> inputs;
    for (std::size_t k = 0; k < kInputsPerPolicy; ++k) inputs.push_back(g.input(prog));
    Outcome o = judge(prog, inputs, &cov);
    if (o.verdict == Verdict::Rejected) {
      ++rejected;
      continue;
    }
    if (o.verdict != Verdict::Agree) {
      ++failures;
      std::string original = prog.render();
      if (o.verdict != Verdict::CompileError) shrink(prog, inputs, o.verdict);
      Outcome small = o.verdict == Verdict::CompileError ? o : judge(prog, inputs);
      FAIL_CHECK("case " << i << " of seed " << seed << ": " << std::string(describe(o.verdict)) << "\n--- minimized policy:\n"
                         << prog.render() << "--- request: " << inputs[0].dump() << "\n"
                         << small.detail << "\n--- original policy (" << original.size() << " bytes) omitted");
      continue;
    }
    pairs += inputs.size();
    rules += prog.ruleCount();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE(pairs << " policy/request pairs agreed (" << rules << " rules, " << cov.perProductRules
                << " of them per product class, " << cov.maskRules << " with a mask condition); " << rejected << " policies rejected for constant overflow; " << secs
                << " s\nexercised: " << cov.firedRules << " rules fired, " << cov.permittedCells << " cells permitted, "
                << cov.deniedCells << " denied, " << cov.limitedCells << " limit values; " << cov.requestsWithErrors
                << " requests with evaluation errors (absent " << cov.errorsByKind[1] << ", no now " << cov.errorsByKind[2]
                << ", overflow " << cov.errorsByKind[3] << ", division by zero " << cov.errorsByKind[4] << ")");
  CHECK(failures == 0);
  if (failures == 0 && cases >= kDefaultCases) {
    CHECK(pairs >= 10'000);
    CHECK(rejected * 20 < cases);  // the generator produces compilable policies
    // Every path is exercised: failing closed on each kind of error, rules per product class.
    CHECK(cov.requestsWithErrors * 10 > pairs);
    for (int k = 1; k < 5; ++k) CHECK(cov.errorsByKind[k] > 20);
    CHECK(cov.perProductRules * 20 > rules);
    CHECK(cov.maskRules * 100 > rules);  // mask conditions against per-class runs and the interpreter
    CHECK(cov.permittedCells > pairs);
    CHECK(cov.deniedCells > pairs);
  }
}

// The reference decimal arithmetic, checked on its own against hand-computed values.
TEST_CASE("differential: reference decimal arithmetic") {
  const __int128 one = static_cast<__int128>(1'000'000'000'000'000'000LL);
  __int128 out = 0;
  bool div0 = false;
  CHECK(decMul(one / 10, 3 * one, out));
  CHECK(out == 3 * one / 10);
  CHECK(decMul(-9, one / 10, out));  // -9e-18 * 0.1 truncates toward zero
  CHECK(out == 0);
  CHECK(decDiv(one, 3 * one, out, div0));
  CHECK(out == 333'333'333'333'333'333LL);
  CHECK(decDiv(-one, 3 * one, out, div0));
  CHECK(out == -333'333'333'333'333'333LL);
  CHECK_FALSE(decDiv(one, 0, out, div0));
  CHECK(div0);
  const __int128 big = one * one * 100;  // 10^20 as a decimal: the largest value
  CHECK(decMul(big, one, out));
  CHECK(out == big);
  CHECK_FALSE(decMul(big, one + 1, out));
  CHECK_FALSE(decDiv(big / 2 + 1, one / 2, out, div0));
  CHECK_FALSE(div0);
  CHECK(decDiv(big - 1, big - 1, out, div0));
  CHECK(out == one);
  CHECK(decDiv(big / 2, big / 10 * 6, out, div0));  // 5e19 / 6e19: a large remainder
  CHECK(out == 833'333'333'333'333'333LL);
}

}  // namespace
