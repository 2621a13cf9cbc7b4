#pragma once
// Shared helpers for the unit tests: files, temporary directories, running the built
// `mandate` binary under a timeout, and checking/formatting text through the library.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "check/program.h"
#include "diag/diagnostic.h"

namespace unit {

namespace fs = std::filesystem;

inline const fs::path kSourceDir = MANDATE_SOURCE_DIR;
inline const fs::path kBinary = MANDATE_BINARY;
inline const fs::path kUnitDir = kSourceDir / "tests" / "unit";

std::string readFile(const fs::path& p);
void writeFile(const fs::path& p, std::string_view text);

// A fresh directory under the build tree, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct RunResult {
  int exitCode = -1;      // -1 when killed by a signal
  bool timedOut = false;  // `timeout` fired (exit 124 or 137)
  std::string out, err;
  // Ended by itself with one of the documented statuses 0, 1, 2 and no sanitizer report.
  bool orderly() const {
    return !timedOut && exitCode >= 0 && exitCode <= 2 && err.find("Sanitizer") == std::string::npos &&
           err.find("runtime error:") == std::string::npos;
  }
};

// Runs `mandate ARGS...` in `cwd` (default: the current directory) under `timeout SECONDS`.
RunResult runMandate(const std::vector<std::string>& args, const fs::path& cwd = {}, int timeoutSeconds = 20);

// In-memory imports: keys are lexically normalised absolute-looking paths ("/mem/a.policy").
class MemoryProvider : public mandate::SourceProvider {
 public:
  std::map<std::string, std::string> files;
  bool resolveImport(const std::string& fromKey, const std::string& importPath, mandate::LoadedSource& out,
                     std::string& error) override;
};

struct Checked {
  std::unique_ptr<mandate::Program> program;
  std::unique_ptr<mandate::Diagnostics> diags;
  bool has(std::string_view code, std::uint32_t line, std::uint32_t col) const;
  bool has(std::string_view code) const;
  std::size_t count(std::string_view code) const;
  std::string dump() const;  // "line:col CODE message" per diagnostic, for failure messages
};

// Checks `roots` (path -> text) with imports resolved from `provider`.
Checked checkFiles(const std::vector<std::pair<std::string, std::string>>& roots, MemoryProvider& provider,
                   const mandate::CheckOptions& options = {});
Checked checkText(const std::string& text, const mandate::CheckOptions& options = {});

// Parses one file and formats it. `parsed` is false (and the result empty) on syntax errors.
std::string formatText(const std::string& text, bool& parsed, std::string* diagnostics = nullptr);

// The comments of a file, as the parser sees them (text including //).
std::vector<std::string> commentsOf(const std::string& text);

// A schema used by many tests (the reference library's, trimmed).
extern const char* const kSchema;

}  // namespace unit
