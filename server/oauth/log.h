#pragma once
// JSON log lines on stderr. Callers never pass secrets or tokens: log a client id, a `jti`, a
// rule id, never a credential.
#include <string_view>

#include <nlohmann/json.hpp>

namespace mandate::oauth {

enum class Level { Info, Warn, Error };

// {"ts":"2026-11-26T08:00:00.123Z","level":"info","msg":...,<fields>}
void logEvent(Level level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace mandate::oauth
