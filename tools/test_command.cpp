// mandate test [PATHS...] [--junit FILE] [--coverage]
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "commands.h"
#include "compile_sources.h"
#include "files.h"
#include "testing/policy_tests.h"

namespace mandate::cli {
namespace {

struct TestArgs {
  std::vector<std::string> paths;
  std::string junit;
  bool coverage = false;
};

std::string xmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

int runTest(const TestArgs& a) {
  Compiled c;
  std::vector<std::string> paths = a.paths.empty() ? std::vector<std::string>{"."} : a.paths;
  int rc = compileSources(paths, nullptr, c, std::cerr);
  if (rc != kExitOk) return rc;
  auto start = std::chrono::steady_clock::now();
  testing::TestRun run = testing::runTests(*c.program, *c.bundle);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& r : run.results) {
    std::cout << (r.passed ? "PASS " : "FAIL ") << r.name << "  (" << r.file << ":" << r.line << ")\n";
    for (const auto& f : r.failures) std::cout << "     " << f << "\n";
  }
  int status = run.failed > 0 ? kExitProblems : kExitOk;
  if (a.coverage) {
    std::size_t unexercised = 0;
    for (std::size_t i = 0; i < c.bundle->rules.size(); ++i) {
      if (run.firedCount[i] > 0) continue;
      const auto& r = c.bundle->rules[i];
      if (unexercised++ == 0) std::cout << "\nrules no test exercised:\n";
      std::cout << "  " << r.id << "  (" << r.file << ":" << r.line << ")\n";
    }
    std::cout << "\ncoverage: " << (c.bundle->rules.size() - unexercised) << " of " << c.bundle->rules.size()
              << " rules exercised" << (unexercised > 0 ? "; failing because " + std::to_string(unexercised) +
                                                              " rule" + (unexercised == 1 ? " is" : "s are") + " not exercised"
                                                        : std::string())
              << "\n";
    if (unexercised > 0) status = kExitProblems;
  }
  if (!a.junit.empty()) {
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"" + std::to_string(run.results.size()) +
                      "\" failures=\"" + std::to_string(run.failed) + "\">\n  <testsuite name=\"mandate policy tests\" tests=\"" +
                      std::to_string(run.results.size()) + "\" failures=\"" + std::to_string(run.failed) + "\" time=\"" +
                      std::to_string(secs) + "\">\n";
    for (const auto& r : run.results) {
      xml += "    <testcase classname=\"" + xmlEscape(r.file) + "\" name=\"" + xmlEscape(r.name) + "\"";
      if (r.passed) {
        xml += "/>\n";
        continue;
      }
      std::string msg;
      for (const auto& f : r.failures) msg += f + "\n";
      xml += ">\n      <failure message=\"" + xmlEscape(r.failures.front()) + "\">" + xmlEscape(msg) + "</failure>\n    </testcase>\n";
    }
    xml += "  </testsuite>\n</testsuites>\n";
    std::string error;
    if (!writeFileAtomic(a.junit, xml, error)) {
      std::cerr << "mandate test: " << error << "\n";
      return kExitProblems;
    }
  }
  std::cout << "\n" << run.passed << " passed, " << run.failed << " failed\n";
  return status;
}

}  // namespace

void addTestCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<TestArgs>();
  CLI::App* cmd = app.add_subcommand("test", "Run the policies' test blocks");
  cmd->footer("Exit status: 0 all passed (and, with --coverage, every rule exercised), 1 failures, 2 usage error.");
  cmd->add_option("paths", args->paths, "Policy files or directories (default: the current directory)");
  cmd->add_option("--junit", args->junit, "Also write a JUnit XML report to this file");
  cmd->add_flag("--coverage", args->coverage, "List every rule no test exercised (and fail if there is one)");
  cmd->callback([args, &result] { result = runTest(*args); });
}

}  // namespace mandate::cli
