// mandate fmt [PATHS...]: rewrite policy files in the canonical layout.
#include <iostream>
#include <memory>

#include "commands.h"
#include "diag/render.h"
#include "files.h"
#include "format/formatter.h"
#include "line_diff.h"
#include "syntax/parser.h"

namespace mandate::cli {
namespace {

struct FmtArgs {
  std::vector<std::string> paths;
  bool check = false;
  bool toStdout = false;
};

int runFmt(const FmtArgs& a) {
  ParseLimits limits;
  std::vector<LoadedSource> files;
  std::vector<std::string> unreadable;
  std::string error;
  std::vector<std::string> paths = a.paths.empty() ? std::vector<std::string>{"."} : a.paths;
  if (!collectSources(paths, limits.maxFileBytes, files, unreadable, error)) {
    std::cerr << "mandate fmt: " << error << "\n";
    return kExitUsage;
  }
  int status = kExitOk;
  for (const auto& u : unreadable) {
    std::cerr << "mandate fmt: cannot read " << u << "\n";
    status = kExitProblems;
  }
  std::size_t changed = 0;
  for (auto& f : files) {
    SourceSet sources;
    FileId id = sources.add(f.display, f.text);
    Diagnostics diags;
    ast::File file = parseFile(sources, id, diags, limits);
    // Errors the parser reports on a tree it did build (an unknown escape, a malformed path)
    // also stop formatting: the tree does not hold the erroneous text, so it would be lost.
    if (!file.parsed || diags.errorCount() > 0) {
      for (const auto& d : diags.all()) std::cerr << renderText(sources, d);
      std::cerr << "mandate fmt: " << f.display << " not formatted: it has syntax errors\n";
      status = kExitProblems;
      continue;
    }
    std::string formatted = formatFile(file, sources.file(id));
    if (a.toStdout) {
      std::cout << formatted;
      continue;
    }
    if (formatted == f.text) continue;
    ++changed;
    if (a.check) {
      std::cout << unifiedDiff(f.display, f.text, formatted);
      status = kExitProblems;
      continue;
    }
    if (!writeFileAtomic(f.display, formatted, error)) {
      std::cerr << "mandate fmt: " << error << "\n";
      status = kExitProblems;
      continue;
    }
    std::cerr << "formatted " << f.display << "\n";
  }
  if (a.check && changed > 0) {
    std::cerr << changed << " of " << files.size() << " file" << (files.size() == 1 ? "" : "s")
              << " would be reformatted; run `mandate fmt` to fix\n";
  }
  return status;
}

}  // namespace

void addFmtCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<FmtArgs>();
  CLI::App* cmd = app.add_subcommand("fmt", "Rewrite policy files in the canonical layout");
  cmd->footer(
      "Files are rewritten in place (atomically) unless --check or --stdout is given.\n"
      "Comments are kept. Files with syntax errors are left untouched.\n"
      "Exit status: 0 all formatted, 1 unformatted files (--check) or errors, 2 usage error.");
  cmd->add_option("paths", args->paths, "Files or directories (default: the current directory)");
  cmd->add_flag("--check", args->check, "Change nothing; print a diff of each unformatted file and exit 1");
  cmd->add_flag("--stdout", args->toStdout, "Print the formatted text instead of writing files");
  cmd->callback([args, &result] { result = runFmt(*args); });
}

}  // namespace mandate::cli
