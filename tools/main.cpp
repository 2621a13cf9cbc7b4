// The `mandate` command line.
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Mandate: compliance policies for OAuth 2.0 trading permissions"};
  app.set_version_flag("--version", std::string("mandate ") + MANDATE_VERSION);
  app.require_subcommand(1);
  int result = mandate::cli::kExitOk;
  mandate::cli::addCheckCommand(app, result);
  mandate::cli::addFmtCommand(app, result);
  mandate::cli::addBuildCommand(app, result);
  mandate::cli::addTestCommand(app, result);
  mandate::cli::addEvalCommand(app, result);
  mandate::cli::addInspectCommands(app, result);
  mandate::cli::addServeCommand(app, result);
  mandate::cli::addSubjectCommand(app, result);
  mandate::cli::addClientCommand(app, result);
  mandate::cli::addKeysCommand(app, result);
  mandate::cli::addPolicyCommand(app, result);
  mandate::cli::addAuditCommand(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : mandate::cli::kExitUsage;
  }
  return result;
}
