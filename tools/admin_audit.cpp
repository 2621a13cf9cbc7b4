#include "admin_audit.h"

#include <pwd.h>
#include <unistd.h>

#include <iostream>

#include "audit/audit_log.h"
#include "server_setup.h"

namespace mandate::cli {

namespace {
// Record fields are printable ASCII; a user name that is not is shown escaped.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out.substr(0, 200);
}
}  // namespace

std::string adminName() {
  std::string name;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) name = pw->pw_name;
  else name = "uid " + std::to_string(::geteuid());
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0' && name != sudo)
    name += " (sudo by " + std::string(sudo) + ")";
  return printable(name);
}

bool recordAdminChange(const std::string& dataDir, const std::string& type, const std::string& id,
                       const nlohmann::json& before, const nlohmann::json& after) {
  audit::Record r;
  r.type = type;
  r.actor.admin = adminName();
  r.dataJson = nlohmann::json{{"id", id}, {"before", before}, {"after", after}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  try {
    auto log = audit::AuditLog::open(auditDbPath(dataDir));
    log->appendSync(std::move(r));
    return true;
  } catch (const std::exception& e) {
    std::cerr << "mandate: the change was made, but its audit record could not be written: " << e.what() << "\n";
    return false;
  }
}

}  // namespace mandate::cli
