#pragma once
// The `mandate` subcommands. Each registers its options on the app and returns the
// exit code through `result` when it ran: 0 clean, 1 problems found, 2 usage error.
#include <CLI/CLI.hpp>

namespace mandate::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;
inline constexpr int kExitUsage = 2;

void addCheckCommand(CLI::App& app, int& result);
void addFmtCommand(CLI::App& app, int& result);
void addBuildCommand(CLI::App& app, int& result);
void addInspectCommands(CLI::App& app, int& result);
void addEvalCommand(CLI::App& app, int& result);
void addTestCommand(CLI::App& app, int& result);
void addServeCommand(CLI::App& app, int& result);
void addSubjectCommand(CLI::App& app, int& result);
void addClientCommand(CLI::App& app, int& result);
void addKeysCommand(CLI::App& app, int& result);
void addPolicyCommand(CLI::App& app, int& result);
void addAuditCommand(CLI::App& app, int& result);

}  // namespace mandate::cli
