// Google Benchmark benchmarks of the policy VM and the bundle pipeline (run by tests/bench/run vm).
//
//   decision/<set>         ns per full decision: vm::evaluate of the whole permission matrix
//                          (every action x product cell, denials, limits, obligations) on a
//                          filled Frame and a reused Decision. Counter allocs_per_decision
//                          comes from the counting operator new in alloc_counter.cpp.
//   decision_json/<set>    the same, starting from the request's JSON text (parse + fillFrame
//                          + evaluate): the VM's counterpart of Cedar's per-call marshalling.
//   compile_verify/10k     text -> verified bundle for a generated 10,000-rule set: check
//                          (parse, resolve, type-check, lint), compile, serialize, load.
//   bundle_load/<set>      bundle::load (every verification) of serialized bundles.
//
// Sets: reference = the policies in policies/ with tests/bench/vm/reference-request.json;
// ten_rules = tests/bench/peers/ten-rules.policy with tests/bench/peers/request.json;
// generated_10k = the generated set (generate.cpp).
//
// Besides the benchmark table it prints `vm matrix: ...` (the ten-rules decision, cell by cell,
// compared with Cedar's by tests/bench/run) and a last line `vm: key=value ...` (medians).
//
// Own flags (before the Google Benchmark ones):
//   --policies=DIR         reference policies (default: <source>/policies)
//   --reference-input=FILE (default: <source>/tests/bench/vm/reference-request.json)
//   --rules=N              size of the generated set (default 10000)
//   --emit-generated=DIR   write the generated set as files and exit (to inspect it with mandate)
//   --profile=SET:N        run N decisions of SET (reference or ten_rules) and exit, for
//                          instruction counts: valgrind --tool=callgrind
//                          --toggle-collect='mandate::vm::evaluate*' mandate_vm_bench --profile=reference:1000
//                          (then divide evaluate's inclusive count by N)
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <unistd.h>

#include "alloc_counter.h"
#include "bundle/codec.h"
#include "compile/compiler.h"
#include "compile_sources.h"
#include "diag/render.h"
#include "generate.h"
#include "vm/frame.h"
#include "vm/vm.h"

namespace fs = std::filesystem;
using namespace mandate;

namespace {

// ---------------------------------------------------------------------------------------
// Loading

class MemoryProvider : public SourceProvider {
 public:
  explicit MemoryProvider(const std::vector<LoadedSource>& files) {
    for (const auto& f : files) files_[f.key] = &f;
  }
  bool resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                     std::string& error) override {
    std::string key = (fs::path(fromKey).parent_path() / importPath).lexically_normal().generic_string();
    auto it = files_.find(key);
    if (it == files_.end()) {
      error = "no such generated file " + key;
      return false;
    }
    out = *it->second;
    return true;
  }

 private:
  std::map<std::string, const LoadedSource*> files_;
};

struct PolicySet {
  std::string name;
  std::unique_ptr<bundle::Bundle> bundle;
  std::string bytes;  // serialized (unsigned)
  std::string inputText;
  vm::Frame frame;
  std::size_t cells = 0;
};

std::size_t cellCount(const bundle::Bundle& b) {
  std::size_t n = 0;
  for (std::size_t a = 0; a < b.schema.actions.size(); ++a)
    n += b.schema.actionHasProducts[a] ? std::max<std::size_t>(1, b.schema.productCount()) : 1;
  return n;
}

[[noreturn]] void die(const std::string& message) {
  std::cerr << "vm_bench: " << message << "\n";
  std::exit(1);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A plausible JSON value of the attribute's type, for attributes the input file does not give.
nlohmann::json defaultValue(const Schema& s, const AttrInfo& a) {
  auto scalar = [&](TypeKind k, int enumId) -> nlohmann::json {
    switch (k) {
      case TypeKind::Bool: return false;
      case TypeKind::Int: return 1;
      case TypeKind::Decimal: return "1.00";
      case TypeKind::String: return "x";
      case TypeKind::Country: return "DE";
      case TypeKind::Region: return "DE-BE";
      case TypeKind::Ip: return "203.0.113.42";
      case TypeKind::Cidr: return "203.0.113.0/24";
      case TypeKind::Time: return "2024-01-01T00:00:00Z";
      case TypeKind::Duration: return "5m";
      case TypeKind::Enum: return enumId >= 0 ? s.enums[enumId].values.at(0) : "";
      default: return nullptr;
    }
  };
  if (a.type.kind == TypeKind::Set) return nlohmann::json::array({scalar(a.type.elem, a.type.enumId)});
  return scalar(a.type.kind, a.type.enumId);
}

// The reference policies are being written while this benchmark exists: the request file is
// adapted to the current schema (unknown attributes dropped, missing required ones given a
// plausible value), and every adaptation is printed.
std::string adaptInput(const Schema& s, const std::string& text, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) die(what + " is not a JSON object");
  for (auto sec = j.begin(); sec != j.end();) {
    if (sec.key() == "now") {
      ++sec;
      continue;
    }
    if (!sec->is_object()) die(what + ": section " + sec.key() + " is not an object");
    for (auto it = sec->begin(); it != sec->end();) {
      if (s.findAttr(sec.key(), it.key()) == nullptr) {
        std::cout << "note: " << what << ": " << sec.key() << "." << it.key() << " is not in the schema; dropped\n";
        it = sec->erase(it);
      } else {
        ++it;
      }
    }
    ++sec;
  }
  for (const auto& a : s.attrs) {
    if (a.optional) continue;
    if (j.contains(a.section) && j[a.section].contains(a.name)) continue;
    j[a.section][a.name] = defaultValue(s, a);
    std::cout << "note: " << what << ": " << a.section << "." << a.name << " missing; using "
              << j[a.section][a.name].dump() << "\n";
  }
  if (!j.contains("now")) j["now"] = "2025-07-01T12:00:00Z";
  return j.dump();
}

void fill(PolicySet& set) {
  std::vector<std::string> errors;
  nlohmann::json j = nlohmann::json::parse(set.inputText);
  if (!vm::fillFrame(set.bundle->schema, j, set.frame, errors)) {
    std::string all;
    for (auto& e : errors) all += "\n  " + e;
    die(set.name + ": bad input:" + all);
  }
  set.cells = cellCount(*set.bundle);
}

std::unique_ptr<PolicySet> loadFromPaths(const std::string& name, const std::string& path,
                                         const std::string& inputPath, bool adapt) {
  auto set = std::make_unique<PolicySet>();
  set->name = name;
  if (!fs::exists(path)) die(name + ": " + path + " does not exist");
  cli::Compiled c;
  std::ostringstream diag;
  int rc = cli::compileSources({path}, nullptr, c, diag);
  if (rc != 0 || !c.bundle) die(name + ": " + path + " does not compile:\n" + diag.str());
  set->bundle = std::move(c.bundle);
  set->bytes = std::move(c.bytes);
  std::string text = readFile(inputPath);
  set->inputText = adapt ? adaptInput(set->bundle->schema, text, inputPath) : text;
  fill(*set);
  return set;
}

struct CompileTimes {
  double checkMs = 0, compileMs = 0, serializeMs = 0, loadMs = 0;
  double totalMs() const { return checkMs + compileMs + serializeMs + loadMs; }
};

// Phases are timed in thread CPU time, like Google Benchmark's CPU column (the machine may be
// shared); the benchmark's Time column gives the wall time of the whole pipeline.
double cpuMsNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
double msSince(double t0) { return cpuMsNow() - t0; }

// Source text -> verified, loaded bundle, timed by phase.
std::unique_ptr<bundle::Bundle> compileGenerated(const bench::GeneratedSet& g, CompileTimes& t, std::string* bytesOut,
                                                 std::size_t* warnings = nullptr) {
  MemoryProvider provider(g.files);
  Diagnostics diags(1000);
  double t0 = cpuMsNow();
  std::unique_ptr<Program> program = checkProgram(g.files, provider, diags);
  t.checkMs = msSince(t0);
  if (diags.errorCount() > 0) {
    std::string all;
    for (const auto& d : diags.all())
      if (d.severity == Severity::Error) all += renderText(program->sources, d);
    die("generated set does not check:\n" + all.substr(0, 4000));
  }
  if (warnings) *warnings = diags.warningCount();
  t0 = cpuMsNow();
  std::unique_ptr<bundle::Bundle> b = compileProgram(*program, diags);
  t.compileMs = msSince(t0);
  if (!b || diags.errorCount() > 0) die("generated set does not compile");
  t0 = cpuMsNow();
  std::string bytes = bundle::serialize(*b);
  t.serializeMs = msSince(t0);
  t0 = cpuMsNow();
  std::string error;
  std::unique_ptr<bundle::Bundle> loaded = bundle::load(bytes, {}, error);
  t.loadMs = msSince(t0);
  if (!loaded) die("generated bundle refused by the loader: " + error);
  if (bytesOut) *bytesOut = std::move(bytes);
  return loaded;
}

std::string matrixLine(const bundle::Bundle& b, const vm::Decision& d) {
  std::string out;
  const Schema& s = b.schema;
  for (std::size_t a = 0; a < s.actions.size(); ++a) {
    if (s.actionHasProducts[a] && s.productsEnum >= 0) {
      for (std::size_t p = 0; p < s.productCount(); ++p)
        out += " " + s.actions[a] + "." + s.enums[s.productsEnum].values[p] + "=" + (d.allowed(a, p) ? "allow" : "deny");
    } else {
      out += " " + s.actions[a] + "=" + (d.allowed(a, 0) ? "allow" : "deny");
    }
  }
  return out;
}

// Allocations over n decisions after one warm-up decision (which sizes the Decision).
double allocationsPerDecision(const PolicySet& set, int n) {
  vm::Decision d;
  vm::evaluate(*set.bundle, set.frame, d);
  std::uint64_t a0 = bench::allocationCount();
  for (int i = 0; i < n; ++i) vm::evaluate(*set.bundle, set.frame, d);
  return static_cast<double>(bench::allocationCount() - a0) / n;
}

bool makeSignedBytes(bundle::Bundle& b, std::string& out, bundle::PublicKey& pub) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return false;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  std::size_t publen = 32;
  EVP_PKEY_get_raw_public_key(key, pub.data(), &publen);
  EVP_PKEY_free(key);
  bundle::Signer signer;
  std::string error;
  if (!bundle::makeSigner(pem, signer, error)) return false;
  out = bundle::serialize(b, &signer);
  return true;
}

// ---------------------------------------------------------------------------------------
// Benchmarks

void benchDecision(benchmark::State& st, const PolicySet* set) {
  vm::Decision d;
  vm::evaluate(*set->bundle, set->frame, d);  // sizes the Decision's buffers once
  std::uint64_t a0 = bench::allocationCount();
  for (auto _ : st) {
    vm::evaluate(*set->bundle, set->frame, d);
    benchmark::DoNotOptimize(d.permitted.data());
    benchmark::ClobberMemory();
  }
  std::uint64_t allocs = bench::allocationCount() - a0;
  st.counters["allocs_per_decision"] = benchmark::Counter(static_cast<double>(allocs), benchmark::Counter::kAvgIterations);
  st.counters["rules"] = static_cast<double>(set->bundle->rules.size());
  st.counters["cells"] = static_cast<double>(set->cells);
  st.counters["instructions"] = static_cast<double>(d.instructions);
}

void benchDecisionJson(benchmark::State& st, const PolicySet* set) {
  vm::Decision d;
  std::vector<std::string> errors;
  std::uint64_t a0 = bench::allocationCount();
  for (auto _ : st) {
    nlohmann::json j = nlohmann::json::parse(set->inputText);
    vm::Frame frame;
    errors.clear();
    if (!vm::fillFrame(set->bundle->schema, j, frame, errors)) st.SkipWithError("fillFrame failed");
    vm::evaluate(*set->bundle, frame, d);
    benchmark::DoNotOptimize(d.permitted.data());
  }
  st.counters["allocs_per_decision"] = benchmark::Counter(static_cast<double>(bench::allocationCount() - a0),
                                                          benchmark::Counter::kAvgIterations);
}

void benchCompile(benchmark::State& st, const bench::GeneratedSet* g) {
  CompileTimes sum;
  for (auto _ : st) {
    CompileTimes t;
    auto b = compileGenerated(*g, t, nullptr);
    benchmark::DoNotOptimize(b.get());
    sum.checkMs += t.checkMs;
    sum.compileMs += t.compileMs;
    sum.serializeMs += t.serializeMs;
    sum.loadMs += t.loadMs;
  }
  auto avg = [&](double v) { return benchmark::Counter(v, benchmark::Counter::kAvgIterations); };
  st.counters["check_ms"] = avg(sum.checkMs);
  st.counters["compile_ms"] = avg(sum.compileMs);
  st.counters["serialize_ms"] = avg(sum.serializeMs);
  st.counters["load_ms"] = avg(sum.loadMs);
  st.counters["rules"] = static_cast<double>(g->rules);
}

void benchLoad(benchmark::State& st, const std::string* bytes, const bundle::LoadOptions* options) {
  std::string error;
  for (auto _ : st) {
    auto b = bundle::load(*bytes, *options, error);
    if (!b) st.SkipWithError(("refused: " + error).c_str());
    benchmark::DoNotOptimize(b.get());
  }
  st.counters["bytes"] = static_cast<double>(bytes->size());
}

// ---------------------------------------------------------------------------------------
// A console reporter that also keeps the medians for the summary line.

struct Median {
  double cpuNs = 0, realNs = 0;
  std::map<std::string, double> counters;
  double counter(const std::string& k) const {
    auto it = counters.find(k);
    return it == counters.end() ? 0 : it->second;
  }
};

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, Median> medians;
  SummaryReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Aggregate || r.aggregate_name != "median") continue;
      Median m;
      double toNs = 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
      m.cpuNs = r.GetAdjustedCPUTime() * toNs;
      m.realNs = r.GetAdjustedRealTime() * toNs;
      for (const auto& [k, c] : r.counters) m.counters[k] = c.value;
      medians[r.run_name.function_name] = m;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string source = MANDATE_SOURCE_DIR;
  std::string policiesDir = source + "/policies";
  std::string referenceInput = source + "/tests/bench/vm/reference-request.json";
  std::string emitDir;
  std::string profileSet;
  long profileRuns = 0;
  std::size_t ruleCount = 10'000;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      std::size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--policies=")) {
      policiesDir = v;
    } else if (const char* v2 = value("--reference-input=")) {
      referenceInput = v2;
    } else if (const char* v3 = value("--rules=")) {
      ruleCount = std::stoul(v3);
    } else if (const char* v4 = value("--emit-generated=")) {
      emitDir = v4;
    } else if (const char* v5 = value("--profile=")) {
      std::string p = v5;
      auto colon = p.find(':');
      profileSet = p.substr(0, colon);
      profileRuns = colon == std::string::npos ? 1000 : std::stol(p.substr(colon + 1));
    } else {
      rest.push_back(argv[i]);
    }
  }

  bench::GeneratedSet generated = bench::generatePolicySet(ruleCount);
  if (!emitDir.empty()) {
    for (const auto& f : generated.files) {
      fs::path p = fs::path(emitDir) / fs::path(f.key).filename();
      fs::create_directories(p.parent_path());
      std::ofstream(p) << f.text;
    }
    std::ofstream(fs::path(emitDir) / "request.json") << bench::generatedRequestJson() << "\n";
    std::cout << "wrote " << generated.files.size() << " files (" << generated.rules << " rules) to " << emitDir << "\n";
    return 0;
  }

  int restArgc = static_cast<int>(rest.size());
  benchmark::Initialize(&restArgc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(restArgc, rest.data())) return 2;

  // --- the policy sets
  auto reference = loadFromPaths("reference", policiesDir, referenceInput, true);
  auto tenRules = loadFromPaths("ten_rules", source + "/tests/bench/peers/ten-rules.policy",
                                source + "/tests/bench/peers/request.json", false);
  if (!profileSet.empty()) {
    const PolicySet* set = profileSet == "reference" ? reference.get() : profileSet == "ten_rules" ? tenRules.get() : nullptr;
    if (set == nullptr) die("--profile: unknown set " + profileSet);
    vm::Decision d;
    std::uint64_t instructions = 0;
    for (long i = 0; i < profileRuns; ++i) {
      vm::evaluate(*set->bundle, set->frame, d);
      instructions += d.instructions;
    }
    std::cout << "profile: " << profileRuns << " decisions of " << profileSet << ", "
              << static_cast<double>(instructions) / static_cast<double>(std::max(1L, profileRuns))
              << " bytecode instructions each\n";
    return 0;
  }
  auto gen = std::make_unique<PolicySet>();
  gen->name = "generated_" + std::to_string(ruleCount);
  CompileTimes firstCompile;
  std::size_t genWarnings = 0;
  gen->bundle = compileGenerated(generated, firstCompile, &gen->bytes, &genWarnings);
  gen->inputText = bench::generatedRequestJson();
  fill(*gen);

  std::string referenceSigned, genSigned;
  bundle::PublicKey refKey{}, genKey{};
  if (!makeSignedBytes(*reference->bundle, referenceSigned, refKey) || !makeSignedBytes(*gen->bundle, genSigned, genKey))
    die("cannot sign the bundles (OpenSSL Ed25519)");
  bundle::LoadOptions plain;
  bundle::LoadOptions signedRef{true, {refKey}};
  bundle::LoadOptions signedGen{true, {genKey}};

  std::cout << "reference: " << policiesDir << ": " << reference->bundle->rules.size() << " rules, "
            << reference->bundle->code.size() << " instructions, " << reference->cells << " cells, bundle "
            << reference->bytes.size() << " bytes\n";
  std::cout << "ten_rules: " << tenRules->bundle->rules.size() << " rules, " << tenRules->bundle->code.size()
            << " instructions, " << tenRules->cells << " cells\n";
  std::cout << gen->name << ": " << gen->bundle->rules.size() << " rules in " << generated.files.size() - 1
            << " files, " << gen->bundle->code.size() << " instructions, bundle " << gen->bytes.size() << " bytes, "
            << genWarnings << " lint warnings; first compile " << fixed(firstCompile.totalMs(), 1) << " ms\n";

  // --- decisions, checked once
  vm::Decision d;
  vm::evaluate(*tenRules->bundle, tenRules->frame, d);
  std::cout << "vm matrix:" << matrixLine(*tenRules->bundle, d) << "\n";
  if (d.errorCount != 0) die("ten_rules: evaluation errors");
  vm::evaluate(*reference->bundle, reference->frame, d);
  std::cout << "reference matrix:" << matrixLine(*reference->bundle, d) << " (errors: " << d.errorCount << ")\n";

  double allocRef = allocationsPerDecision(*reference, 10'000);
  double allocTen = allocationsPerDecision(*tenRules, 10'000);
  double allocGen = allocationsPerDecision(*gen, 100);
  std::cout << "allocations per decision after warm-up (counting operator new): reference " << allocRef
            << ", ten_rules " << allocTen << ", " << gen->name << " " << allocGen << "\n";
  std::cout.flush();

  // --- benchmarks
  const int reps = 15;
  auto decision = [&](const char* name, const PolicySet* set) {
    benchmark::RegisterBenchmark(name, benchDecision, set)->Repetitions(reps)->ReportAggregatesOnly(true);
  };
  decision("decision/reference", reference.get());
  decision("decision/ten_rules", tenRules.get());
  benchmark::RegisterBenchmark(("decision/" + gen->name).c_str(), benchDecision, gen.get())
      ->Repetitions(5)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("decision_json/reference", benchDecisionJson, reference.get())
      ->Repetitions(reps)
      ->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark("decision_json/ten_rules", benchDecisionJson, tenRules.get())
      ->Repetitions(reps)
      ->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark(("compile_verify/" + gen->name).c_str(), benchCompile, &generated)
      ->Iterations(1)
      ->Repetitions(5)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMillisecond);
  auto load = [&](const std::string& name, const std::string* bytes, const bundle::LoadOptions* o, bool big) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), benchLoad, bytes, o)->Repetitions(big ? 9 : reps)->ReportAggregatesOnly(true);
    b->Unit(big ? benchmark::kMillisecond : benchmark::kMicrosecond);
  };
  load("bundle_load/reference", &reference->bytes, &plain, false);
  load("bundle_load/reference_signed", &referenceSigned, &signedRef, false);
  load("bundle_load/" + gen->name, &gen->bytes, &plain, true);
  load("bundle_load/" + gen->name + "_signed", &genSigned, &signedGen, true);

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  auto get = [&](const std::string& name) -> const Median* {
    auto it = reporter.medians.find(name);
    return it == reporter.medians.end() ? nullptr : &it->second;
  };
  const Median* ref = get("decision/reference");
  const Median* ten = get("decision/ten_rules");
  const Median* tenJson = get("decision_json/ten_rules");
  const Median* refJson = get("decision_json/reference");
  const Median* comp = get("compile_verify/" + gen->name);
  const Median* loadGen = get("bundle_load/" + gen->name);
  const Median* loadGenSigned = get("bundle_load/" + gen->name + "_signed");
  const Median* loadRef = get("bundle_load/reference");
  if (!ref || !ten || !comp || !loadGen) {
    std::cout << "vm: (benchmarks filtered out; no summary)\n";
    return 0;
  }
  double allocs = std::max(allocRef, allocTen);
  std::cout << "\nmedians (CPU time):\n"
            << "  reference full decision     " << fixed(ref->cpuNs, 1) << " ns (" << ref->counter("rules") << " rules, "
            << ref->counter("cells") << " cells, " << ref->counter("instructions") << " instructions; wall "
            << fixed(ref->realNs, 1) << " ns)\n"
            << "  ten_rules full decision     " << fixed(ten->cpuNs, 1) << " ns (" << ten->counter("cells")
            << " cells; wall " << fixed(ten->realNs, 1) << " ns)\n";
  if (tenJson && refJson)
    std::cout << "  from JSON text (parse+fill+evaluate): ten_rules " << fixed(tenJson->cpuNs, 1) << " ns, reference "
              << fixed(refJson->cpuNs, 1) << " ns\n";
  std::cout << "  compile+verify " << generated.rules << " rules  " << fixed(comp->cpuNs / 1e6, 1) << " ms (wall "
            << fixed(comp->realNs / 1e6, 1) << " ms; check "
            << fixed(comp->counter("check_ms"), 1) << ", compile " << fixed(comp->counter("compile_ms"), 1)
            << ", serialize " << fixed(comp->counter("serialize_ms"), 1) << ", load "
            << fixed(comp->counter("load_ms"), 1) << ")\n"
            << "  bundle load " << gen->name << "  " << fixed(loadGen->cpuNs / 1e6, 2) << " ms unsigned (wall "
            << fixed(loadGen->realNs / 1e6, 2) << ")"
            << (loadGenSigned ? ", " + fixed(loadGenSigned->cpuNs / 1e6, 2) + " ms signed (wall " + fixed(loadGenSigned->realNs / 1e6, 2) + ")" : std::string())
            << "; reference "
            << (loadRef ? fixed(loadRef->cpuNs / 1e3, 1) : std::string("?")) << " us\n";
  std::cout << "vm: vm_ns_per_decision=" << fixed(ref->cpuNs, 1) << " ten_rules_ns_per_decision=" << fixed(ten->cpuNs, 1)
            << " vm_wall_ns_per_decision=" << fixed(ref->realNs, 1) << " ten_rules_wall_ns_per_decision=" << fixed(ten->realNs, 1)
            << " ten_rules_json_ns_per_decision=" << (tenJson ? fixed(tenJson->cpuNs, 1) : "0")
            << " allocs_per_decision=" << fixed(allocs, 0) << " compile_10k_rules_ms=" << fixed(comp->cpuNs / 1e6, 1)
            << " bundle_load_ms=" << fixed((loadGenSigned ? loadGenSigned : loadGen)->cpuNs / 1e6, 2)
            << " reference_rules=" << ref->counter("rules") << " ten_rules_cells=" << ten->counter("cells") << "\n";
  return 0;
}
