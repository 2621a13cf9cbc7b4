// Golden disassembly: tests/vm/golden/NAME.policy compiles to exactly NAME.disasm.
// Regenerate with MANDATE_UPDATE_GOLDEN=1 (see tests/vm/README.md) and review the diff.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

#include "bytecode/disasm.h"
#include "support.h"

namespace {

using namespace vmtest;

// Trailing blanks (the disassembler pads operand columns) are dropped, so that editors that
// strip them cannot break a golden.
std::string rstripLines(const std::string& text) {
  std::string out, line;
  for (char c : text) {
    if (c == '\n') {
      line.erase(line.find_last_not_of(' ') + 1);
      out += line + "\n";
      line.clear();
    } else {
      line.push_back(c);
    }
  }
  line.erase(line.find_last_not_of(' ') + 1);
  return out + line;
}

bool updating() {
  const char* v = std::getenv("MANDATE_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

TEST_CASE("golden: disassembly of the golden policies") {
  fs::path dir = kVmDir / "golden";
  std::vector<fs::path> policies;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".policy") policies.push_back(e.path());
  std::sort(policies.begin(), policies.end());
  REQUIRE(policies.size() >= 4);
  for (const auto& p : policies) {
    CAPTURE(p.filename().string());
    // A stable, relative display path: rule sources in the listing do not depend on the checkout.
    Compiled c = compile(readFile(p), "golden/" + p.filename().string());
    INFO(c.errors);
    REQUIRE(c.ok());
    std::string error;
    auto loaded = roundTrip(*c.bundle, nullptr, &error);
    INFO(error);
    REQUIRE(loaded != nullptr);  // the compiled code passes the loader's verifier
    std::string listing = rstripLines(mandate::bc::disassemble(*loaded));
    fs::path golden = p;
    golden.replace_extension(".disasm");
    if (updating()) {
      writeFile(golden, listing);
      MESSAGE("updated " << golden.string());
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(golden), golden.string() << " is missing; run with MANDATE_UPDATE_GOLDEN=1");
    std::string want = readFile(golden);
    INFO("differences (- golden, + now):\n" << lineDiff(want, listing));
    CHECK(listing == want);
  }
}

}  // namespace
