#include "oauth/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace mandate::oauth {

namespace {
std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}
const char* levelName(Level l) {
  switch (l) {
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}
std::mutex g_logMutex;  // one line at a time, never interleaved
}  // namespace

void logEvent(Level level, std::string_view msg, const nlohmann::json& fields) {
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = timestamp();
  line["level"] = levelName(level);
  line["msg"] = msg;
  if (fields.is_object())
    for (auto& [k, v] : fields.items()) line[k] = v;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(g_logMutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace mandate::oauth
