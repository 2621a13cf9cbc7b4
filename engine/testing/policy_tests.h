#pragma once
// Runs the `test` blocks of a checked program against its compiled bundle.
#include <string>
#include <vector>

#include "bundle/bundle.h"
#include "check/program.h"

namespace mandate::testing {

struct TestResult {
  std::string name;
  std::string file;
  std::uint32_t line = 0;
  bool passed = false;
  std::vector<std::string> failures;  // one line each, naming the expectation
  double micros = 0;                  // filled by the caller if it measures
};

struct TestRun {
  std::vector<TestResult> results;
  std::vector<std::uint32_t> firedCount;  // per bundle rule: tests in which it fired or errored
  std::size_t passed = 0, failed = 0;
};

TestRun runTests(const Program& program, const bundle::Bundle& bundle);

}  // namespace mandate::testing
