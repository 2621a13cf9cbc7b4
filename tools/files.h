#pragma once
// Filesystem access for the CLI: collecting .policy files and reading imports.
#include <string>
#include <vector>

#include "check/program.h"

namespace mandate::cli {

// Expands files and directories (recursively, *.policy, sorted) into sources.
// Returns false and sets `error` when a path does not exist.
bool collectSources(const std::vector<std::string>& paths, std::size_t maxBytes, std::vector<LoadedSource>& out,
                    std::vector<std::string>& unreadable, std::string& error);

// Reads at most maxBytes + 1 bytes, so an oversized file is detected without loading it all.
bool readFileLimited(const std::string& path, std::size_t maxBytes, std::string& out, std::string& error);

class FileSystemProvider : public SourceProvider {
 public:
  explicit FileSystemProvider(std::size_t maxBytes) : maxBytes_(maxBytes) {}
  bool resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                     std::string& error) override;

 private:
  std::size_t maxBytes_;
};

// Writes a file atomically: a temporary file in the same directory, then rename.
bool writeFileAtomic(const std::string& path, const std::string& text, std::string& error);

}  // namespace mandate::cli
