#pragma once
// Source files and spans. Every AST node and diagnostic points into a SourceSet.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mandate {

using FileId = std::uint32_t;

// line and col are 1-based; col counts Unicode code points; len is in code points.
struct Span {
  FileId file = 0;
  std::uint32_t line = 0;
  std::uint32_t col = 0;
  std::uint32_t len = 0;
  bool valid() const { return line != 0; }
};

struct SourceFile {
  std::string path;  // as given by the caller (used for display and import resolution)
  std::string text;  // raw bytes
  std::vector<std::uint32_t> lineStarts;  // byte offset of each line start

  SourceFile(std::string p, std::string t);
  // The text of a 1-based line without its terminator (empty if out of range).
  std::string_view lineText(std::uint32_t line) const;
};

class SourceSet {
 public:
  FileId add(std::string path, std::string text);
  const SourceFile& file(FileId id) const { return files_[id]; }
  std::size_t size() const { return files_.size(); }

 private:
  std::vector<SourceFile> files_;
};

}  // namespace mandate
