// mandate check [PATHS...]: parse, resolve, type-check and lint policy files.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "diag/render.h"
#include "files.h"

namespace mandate::cli {
namespace {

struct CheckArgs {
  std::vector<std::string> paths;
  std::string format = "text";
  std::string color = "auto";
  bool werror = false;
  std::size_t maxErrors = Diagnostics::kDefaultMaxErrors;
  bool quiet = false;
};

int runCheck(const CheckArgs& a) {
  CheckOptions opts;
  std::vector<LoadedSource> roots;
  std::vector<std::string> unreadable;
  std::string error;
  std::vector<std::string> paths = a.paths.empty() ? std::vector<std::string>{"."} : a.paths;
  if (!collectSources(paths, opts.parse.maxFileBytes, roots, unreadable, error)) {
    std::cerr << "mandate check: " << error << "\n";
    return kExitUsage;
  }
  std::size_t fileCount = roots.size();
  FileSystemProvider provider(opts.parse.maxFileBytes);
  Diagnostics diags(a.maxErrors);
  for (const auto& u : unreadable) diags.report(Code::E0106, Span{}, "cannot read " + u);
  auto program = checkProgram(std::move(roots), provider, diags, opts);

  std::vector<Diagnostic> shown = diags.all();
  if (a.werror) {
    for (auto& d : shown) d.severity = Severity::Error;
  }
  std::size_t errors = 0, warnings = 0;
  for (const auto& d : shown) (d.severity == Severity::Error ? errors : warnings)++;

  if (a.format == "json") {
    std::cout << renderJson(program->sources, shown);
  } else if (a.format == "sarif") {
    std::cout << renderSarif(program->sources, shown, MANDATE_VERSION);
  } else {
    TextStyle style;
    style.color = a.color == "always" || (a.color == "auto" && ::isatty(STDOUT_FILENO) != 0);
    for (const auto& d : shown) std::cout << renderText(program->sources, d, style);
    if (!a.quiet || errors + warnings > 0) {
      std::cout << "checked " << program->files.size() << " file" << (program->files.size() == 1 ? "" : "s");
      if (program->files.size() != fileCount) std::cout << " (" << fileCount << " named, the rest imported)";
      std::cout << ": " << errors << " error" << (errors == 1 ? "" : "s") << ", " << warnings << " warning"
                << (warnings == 1 ? "" : "s") << (a.werror && !diags.all().empty() ? " (warnings treated as errors)" : "")
                << "\n";
    }
  }
  return errors > 0 ? kExitProblems : kExitOk;
}

}  // namespace

void addCheckCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "Parse, type-check and lint policy files");
  cmd->footer(
      "Directories are searched recursively for *.policy files; imports are followed.\n"
      "Exit status: 0 no errors, 1 errors found (or warnings with --werror), 2 usage error.");
  cmd->add_option("paths", args->paths, "Files or directories to check (default: the current directory)");
  cmd->add_option("--format", args->format, "Output format")->check(CLI::IsMember({"text", "json", "sarif"}))->capture_default_str();
  cmd->add_flag("--werror", args->werror, "Treat warnings as errors");
  cmd->add_option("--max-errors", args->maxErrors, "Stop reporting after this many errors")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--color", args->color, "Colour the text output")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  cmd->add_flag("-q,--quiet", args->quiet, "Print nothing when there is nothing to report");
  cmd->callback([args, &result] { result = runCheck(*args); });
}

}  // namespace mandate::cli
