#include "oauth/directory.h"

#include <algorithm>
#include <mutex>

#include "oauth/log.h"

namespace mandate::oauth {

std::vector<std::string> splitSpaces(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ClientEntry::hasGrant(std::string_view g) const {
  return std::find(client.grants.begin(), client.grants.end(), g) != client.grants.end();
}

std::shared_ptr<const ClientEntry> Directory::client(const std::string& id) {
  std::uint64_t generation;
  {
    std::shared_lock lock(mutex_);
    auto it = clients_.find(id);
    if (it != clients_.end()) return it->second;
    generation = generation_;
  }
  auto c = store_.getClient(id);
  if (!c) return nullptr;  // unknown ids are not cached: nothing for a flood of them to fill
  auto entry = std::make_shared<ClientEntry>();
  entry->client = std::move(*c);
  entry->scopes = splitSpaces(entry->client.scope);
  if (!entry->client.jwksJson.empty()) {
    std::string error;
    auto parsed = nlohmann::json::parse(entry->client.jwksJson, nullptr, false);
    auto keys = parsed.is_discarded() ? std::nullopt : jose::parseJwks(parsed, error);
    if (keys) {
      entry->keys = std::move(*keys);
    } else {
      logEvent(Level::Warn, "client keys unusable", {{"client_id", id}, {"error", error}});
    }
  }
  std::unique_lock lock(mutex_);
  if (generation != generation_) return entry;
  if (clients_.size() >= kMaxCached) clients_.clear();
  clients_[id] = entry;
  return entry;
}

std::shared_ptr<const SubjectEntry> Directory::subject(const std::string& id) {
  std::uint64_t generation;
  {
    std::shared_lock lock(mutex_);
    auto it = subjects_.find(id);
    if (it != subjects_.end()) return it->second;
    generation = generation_;
  }
  auto s = store_.getSubject(id);
  if (!s) return nullptr;
  auto entry = std::make_shared<SubjectEntry>();
  entry->subject = std::move(*s);
  entry->attrs = nlohmann::json::parse(entry->subject.attrsJson, nullptr, false);
  if (!entry->attrs.is_object()) entry->attrs = nlohmann::json::object();
  std::unique_lock lock(mutex_);
  if (generation != generation_) return entry;
  if (subjects_.size() >= kMaxCached) subjects_.clear();
  subjects_[id] = entry;
  return entry;
}

void Directory::invalidate() {
  std::unique_lock lock(mutex_);
  ++generation_;
  clients_.clear();
  subjects_.clear();
}

}  // namespace mandate::oauth
