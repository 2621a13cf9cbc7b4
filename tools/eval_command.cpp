// mandate eval (--bundle FILE | POLICIES...) --input FILE [--explain] [--format text|json]
#include <ctime>
#include <iostream>
#include <iterator>
#include <memory>

#include "commands.h"
#include "compile_sources.h"
#include "vm/frame.h"
#include "vm/report.h"
#include "vm/vm.h"

namespace mandate::cli {
namespace {

struct EvalArgs {
  std::vector<std::string> paths;
  std::string bundleFile;
  std::string input;
  std::string format = "text";
  bool explain = false;
};

constexpr std::size_t kMaxInputBytes = 1024 * 1024;

int runEval(const EvalArgs& a) {
  if (a.bundleFile.empty() == a.paths.empty()) {
    std::cerr << "mandate eval: give either --bundle FILE or policy paths\n";
    return kExitUsage;
  }
  std::unique_ptr<bundle::Bundle> b;
  Compiled c;
  if (!a.bundleFile.empty()) {
    std::string error;
    if (!loadBundleFile(a.bundleFile, {}, b, error)) {
      std::cerr << "mandate eval: " << error << "\n";
      return kExitProblems;
    }
  } else {
    int rc = compileSources(a.paths, nullptr, c, std::cerr);
    if (rc != kExitOk) return rc;
    b = std::move(c.bundle);
  }
  std::string text, error;
  if (a.input == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
    if (text.size() > kMaxInputBytes) {
      std::cerr << "mandate eval: input larger than 1 MiB\n";
      return kExitProblems;
    }
  } else if (!readWholeFile(a.input, kMaxInputBytes, text, error)) {
    std::cerr << "mandate eval: " << error << "\n";
    return kExitProblems;
  }
  nlohmann::json input = nlohmann::json::parse(text, nullptr, false);
  if (input.is_discarded()) {
    std::cerr << "mandate eval: " << a.input << " is not valid JSON\n";
    return kExitProblems;
  }
  if (input.is_object() && !input.contains("now")) {
    // The VM has no clock; on the command line the current time is the natural default.
    input["now"] = static_cast<std::int64_t>(std::time(nullptr));
    std::cerr << "mandate eval: the input has no \"now\"; using the current time\n";
  }
  vm::Frame frame;
  std::vector<std::string> errors;
  if (!vm::fillFrame(b->schema, input, frame, errors)) {
    for (auto& e : errors) std::cerr << "mandate eval: input: " << e << "\n";
    return kExitProblems;
  }
  vm::Decision d;
  vm::Trace trace;
  vm::evaluate(*b, frame, d, a.explain ? &trace : nullptr);
  if (a.format == "json") {
    std::cout << vm::decisionJson(*b, d, a.explain ? &trace : nullptr).dump(2) << "\n";
  } else {
    std::cout << vm::decisionText(*b, d, a.explain ? &trace : nullptr);
  }
  return kExitOk;
}

}  // namespace

void addEvalCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Decide one token request's permissions");
  cmd->footer(
      "The input is JSON: {\"subject\":{...},\"client\":{...},\"request\":{...},\"risk\":{...},\"now\":\"2025-01-01T00:00:00Z\"}.\n"
      "Every required schema attribute must be present; `now` defaults to the current time. Exit status: 0 decided, 1 bad bundle/policies/input, 2 usage.");
  cmd->add_option("paths", args->paths, "Policy files or directories (instead of --bundle)");
  cmd->add_option("--bundle", args->bundleFile, "A compiled bundle");
  cmd->add_option("--input", args->input, "Request JSON file, or - for stdin")->required();
  cmd->add_flag("--explain", args->explain, "Show each rule's outcome and the values that decided it");
  cmd->add_option("--format", args->format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->callback([args, &result] { result = runEval(*args); });
}

}  // namespace mandate::cli
