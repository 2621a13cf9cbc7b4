#pragma once
// Admin changes (clients, subjects, keys) go to the audit trail the server writes, from the CLI
// process itself: who (the OS user), what, before and after. Never a secret or a private key.
#include <string>

#include <nlohmann/json.hpp>

namespace mandate::cli {

// Appends `type` with {"id", "before", "after"} to DATA_DIR/audit.db and waits until durable.
// False (with a message on stderr saying the change was made but is unrecorded) on failure.
bool recordAdminChange(const std::string& dataDir, const std::string& type, const std::string& id,
                       const nlohmann::json& before, const nlohmann::json& after);

// The administrator as the trail names them: the OS user, and the sudo user behind it if any.
std::string adminName();

}  // namespace mandate::cli
