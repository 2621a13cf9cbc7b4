// Runs LLVMFuzzerTestOneInput over files and directories without libFuzzer, so the
// committed corpus is replayed by ctest in ordinary (sanitizer) builds:
//   fuzz_policy_replay tests/fuzz/corpus/policy [more files or directories...]
//   fuzz_bundle_replay tests/fuzz/corpus/bundle
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    fs::path p = argv[i];
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (fs::is_regular_file(p, ec)) {
      inputs.push_back(p);
    } else {
      std::cerr << "fuzz replay: no such file or directory: " << p << "\n";
      return 2;
    }
  }
  if (inputs.empty()) {
    std::cerr << "usage: fuzz_*_replay FILE_OR_DIR...  (found no inputs)\n";
    return 2;
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::cerr << "fuzz replay: cannot read " << p << "\n";
      return 2;
    }
    std::cerr << "replay " << p.filename().string() << " (" << data.size() << " bytes)\n";
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  }
  std::cerr << "replayed " << inputs.size() << " inputs\n";
  return 0;
}
