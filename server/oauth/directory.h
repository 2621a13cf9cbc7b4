#pragma once
// Clients and subjects as the hot path needs them, cached in memory. The cache is dropped
// whenever the store's configVersion changes (the poller checks it several times a second), so
// the admin CLI's changes take effect without a restart and without a query per request.
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "jose/jose.h"
#include "store/store.h"

namespace mandate::oauth {

struct ClientEntry {
  store::Client client;
  std::vector<jose::JwkEntry> keys;  // private_key_jwt: the registered public keys
  std::vector<std::string> scopes;   // the client's maximum scope, split
  bool hasGrant(std::string_view g) const;
};

struct SubjectEntry {
  store::Subject subject;
  nlohmann::json attrs;  // parsed attrsJson (an object)
};

class Directory {
 public:
  explicit Directory(store::Store& store) : store_(store) {}
  std::shared_ptr<const ClientEntry> client(const std::string& id);    // null: unknown
  std::shared_ptr<const SubjectEntry> subject(const std::string& id);  // null: unknown
  void invalidate();

 private:
  store::Store& store_;
  std::shared_mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const ClientEntry>> clients_;
  std::unordered_map<std::string, std::shared_ptr<const SubjectEntry>> subjects_;
  std::uint64_t generation_ = 0;  // bumped by invalidate: a fetch that straddles it is not cached
  static constexpr std::size_t kMaxCached = 100'000;  // then the cache starts over
};

std::vector<std::string> splitSpaces(std::string_view s);

}  // namespace mandate::oauth
