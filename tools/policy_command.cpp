// mandate policy reload: asks the running server to reload its policies (SIGHUP).
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "server_setup.h"

namespace mandate::cli {
namespace {

int runReload(const std::string& dataDir) {
  std::ifstream in(pidFilePath(dataDir));
  long pid = 0;
  if (!(in >> pid) || pid <= 1) {
    std::cerr << "mandate policy reload: no running server found (" << pidFilePath(dataDir) << " missing or invalid)\n";
    return kExitProblems;
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    std::cerr << "mandate policy reload: cannot signal process " << pid << ": " << std::strerror(errno) << "\n";
    return kExitProblems;
  }
  std::cout << "reload requested from process " << pid
            << "; the server logs `policy loaded` or `policy refused` (and keeps the old bundle)\n";
  return kExitOk;
}

}  // namespace

void addPolicyCommand(CLI::App& app, int& result) {
  auto dataDir = std::make_shared<std::string>("./mandate-data");
  CLI::App* cmd = app.add_subcommand("policy", "Control the running server's policies");
  cmd->require_subcommand(1);
  CLI::App* reload = cmd->add_subcommand("reload", "Recompile/reload the policies in the running server (SIGHUP)");
  reload->add_option("--data-dir", *dataDir, "The server's data directory (holds its pid file)")->capture_default_str();
  reload->callback([dataDir, &result] { result = runReload(*dataDir); });
}

}  // namespace mandate::cli
