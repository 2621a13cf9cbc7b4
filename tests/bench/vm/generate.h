#pragma once
// A generated policy set of any size, for the compile / verify / load benchmarks: one schema
// file (the reference library's shape) and policy files of 100 rules each, cycling through
// the rule shapes the reference policies use (country and region lists, KYC tiers, product
// targets with `product not in ...`, limits with `match`, obligations, string scopes, CIDR
// allowlists, time arithmetic). Constants vary with the rule number, so no two rules match.
#include <string>
#include <vector>

#include "check/program.h"

namespace mandate::bench {

struct GeneratedSet {
  std::vector<LoadedSource> files;  // files[0] is the schema; every other file imports it
  std::size_t rules = 0;
};

GeneratedSet generatePolicySet(std::size_t rules, std::size_t rulesPerFile = 100);

// A request for the generated schema, as `mandate eval` input JSON.
std::string generatedRequestJson();

}  // namespace mandate::bench
