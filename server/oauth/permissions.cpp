#include "oauth/permissions.h"

#include <algorithm>

#include "oauth/json_text.h"

namespace mandate::oauth {

namespace {

constexpr std::size_t kMaxDetailEntries = 32;

// A value named in an error: a short string as JSON, anything else by its kind. Never the
// value itself (a deeply nested array would recurse in the serializer; a huge one bloat the answer).
std::string describeValue(const nlohmann::json& v) {
  if (v.is_string() && v.get_ref<const std::string&>().size() <= 64) return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (v.is_string()) return "(a string of " + std::to_string(v.get_ref<const std::string&>().size()) + " bytes)";
  return std::string("(a JSON ") + v.type_name() + ")";
}

std::uint64_t allProducts(const Schema& schema, std::size_t action) {
  if (!schema.actionHasProducts[action]) return 1;
  std::size_t n = schema.productCount();
  return n >= 64 ? ~0ULL : ((1ULL << n) - 1);
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
bool validScopeToken(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
  });
}

bool clientMayAsk(const ClientEntry& client, const std::string& action) {
  return std::find(client.scopes.begin(), client.scopes.end(), action) != client.scopes.end();
}

OAuthError scopeError(std::string d) { return {400, "invalid_scope", std::move(d), {}}; }
OAuthError detailsError(std::string d) { return {400, "invalid_authorization_details", std::move(d), {}}; }

bool addDetails(const Schema& schema, const ClientEntry& client, const std::string& text, CellSet& cells,
                OAuthError& error) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) {
    error = detailsError("authorization_details must be a non-empty JSON array (RFC 9396 §2)");
    return false;
  }
  if (j.size() > kMaxDetailEntries) {
    error = detailsError("at most 32 authorization_details entries");
    return false;
  }
  for (const auto& entry : j) {
    if (!entry.is_object()) {
      error = detailsError("each authorization_details entry must be an object");
      return false;
    }
    for (auto& [k, v] : entry.items()) {
      (void)v;
      if (k != "type" && k != "actions" && k != "product_classes") {
        error = detailsError("unsupported member `" + k + "` in a `trading` authorization_details entry");
        return false;
      }
    }
    auto type = entry.find("type");
    if (type == entry.end() || !type->is_string()) {
      error = detailsError("an authorization_details entry without a type");
      return false;
    }
    if (*type != "trading") {
      error = detailsError("unsupported authorization_details type `" + type->get<std::string>() + "`");
      return false;
    }
    auto actions = entry.find("actions");
    if (actions == entry.end() || !actions->is_array() || actions->empty()) {
      error = detailsError("a `trading` entry needs a non-empty `actions` array");
      return false;
    }
    std::uint64_t products = ~0ULL;
    bool productsGiven = false;
    if (auto pc = entry.find("product_classes"); pc != entry.end()) {
      if (!pc->is_array() || pc->empty()) {
        error = detailsError("`product_classes` must be a non-empty array");
        return false;
      }
      productsGiven = true;
      products = 0;
      for (const auto& p : *pc) {
        int idx = p.is_string() ? schema.findProduct(p.get<std::string>()) : -1;
        if (idx < 0) {
          error = detailsError("unknown product class " + describeValue(p));
          return false;
        }
        // Each class once: a request (and the audit record that keeps it) stays bounded.
        if (products & (1ULL << idx)) {
          error = detailsError("product class " + describeValue(p) + " is listed twice");
          return false;
        }
        products |= 1ULL << idx;
      }
    }
    std::vector<bool> seen(schema.actions.size(), false);
    for (const auto& a : *actions) {
      int idx = a.is_string() ? schema.findAction(a.get<std::string>()) : -1;
      if (idx < 0) {
        error = detailsError("unknown action " + describeValue(a));
        return false;
      }
      if (seen[static_cast<std::size_t>(idx)]) {
        error = detailsError("action " + describeValue(a) + " is listed twice in one entry");
        return false;
      }
      seen[static_cast<std::size_t>(idx)] = true;
      if (!clientMayAsk(client, a.get<std::string>())) {
        error = detailsError("action `" + a.get<std::string>() + "` is outside the client's registered scope");
        return false;
      }
      auto ai = static_cast<std::size_t>(idx);
      if (productsGiven && !schema.actionHasProducts[ai]) {
        error = detailsError("action `" + a.get<std::string>() + "` has no product classes");
        return false;
      }
      cells[ai] |= schema.actionHasProducts[ai] ? (products & allProducts(schema, ai)) : 1;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> actionNames(const Schema& schema, const CellSet& cells) {
  std::vector<std::string> out;
  for (std::size_t a = 0; a < cells.size(); ++a)
    if (cells[a] != 0) out.push_back(schema.actions[a]);
  return out;
}

std::optional<CellSet> requestedCells(const Schema& schema, const ClientEntry& client, const PermissionRequest& req,
                                      OAuthError& error) {
  CellSet cells(schema.actions.size(), 0);
  if (req.scope) {
    auto names = splitSpaces(*req.scope);
    if (names.empty()) {
      error = scopeError("scope is empty");
      return std::nullopt;
    }
    for (const auto& n : names) {
      if (!validScopeToken(n)) {
        error = scopeError("malformed scope token");
        return std::nullopt;
      }
      int a = schema.findAction(n);
      if (a < 0) {
        error = scopeError("unknown scope `" + n + "`");
        return std::nullopt;
      }
      if (!clientMayAsk(client, n)) {
        error = scopeError("scope `" + n + "` is outside the client's registered scope");
        return std::nullopt;
      }
      cells[a] = allProducts(schema, a);
    }
  }
  if (req.authorizationDetails && !addDetails(schema, client, *req.authorizationDetails, cells, error))
    return std::nullopt;
  if (!req.scope && !req.authorizationDetails) {
    for (const auto& s : client.scopes) {
      int a = schema.findAction(s);
      if (a >= 0) cells[a] = allProducts(schema, a);
    }
    if (std::all_of(cells.begin(), cells.end(), [](std::uint64_t m) { return m == 0; })) {
      error = scopeError("no scope requested and the client has no registered scope");
      return std::nullopt;
    }
  }
  return cells;
}

void appendCellsJson(std::string& out, const Schema& schema, const CellSet& cells, bool starForAll) {
  const EnumInfo* products = schema.productsEnum >= 0 ? &schema.enums[schema.productsEnum] : nullptr;
  out.push_back('{');
  bool first = true;
  for (std::size_t a = 0; a < cells.size() && a < schema.actions.size(); ++a) {
    if (cells[a] == 0) continue;
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, schema.actions[a]);
    if (starForAll && schema.actionHasProducts[a] && products != nullptr && cells[a] == allProducts(schema, a)) {
      out += R"(:"*")";
      continue;
    }
    out += ":[";
    if (schema.actionHasProducts[a] && products != nullptr) {
      bool firstProduct = true;
      for (std::uint64_t m = cells[a]; m != 0; m &= m - 1) {
        auto p = static_cast<std::size_t>(__builtin_ctzll(m));
        if (p >= products->values.size()) continue;
        if (!firstProduct) out.push_back(',');
        firstProduct = false;
        appendJsonString(out, products->values[p]);
      }
    }
    out.push_back(']');
  }
  out.push_back('}');
}

CellSet cellsFromJson(const Schema& schema, const nlohmann::json& j, std::vector<std::string>* unknown) {
  CellSet cells(schema.actions.size(), 0);
  if (!j.is_object()) return cells;
  for (const auto& [name, classes] : j.items()) {
    int a = schema.findAction(name);
    if (a < 0) {
      if (unknown) unknown->push_back("action " + name);
      continue;
    }
    auto ai = static_cast<std::size_t>(a);
    if (!schema.actionHasProducts[ai]) {
      cells[ai] = 1;
      continue;
    }
    if (classes.is_string() && classes.get<std::string>() == "*") {
      cells[ai] = allProducts(schema, ai);
      continue;
    }
    if (!classes.is_array()) {
      if (unknown) unknown->push_back("product classes of " + name + ": " + describeValue(classes));
      continue;
    }
    for (const auto& c : classes) {
      int p = c.is_string() ? schema.findProduct(c.get<std::string>()) : -1;
      if (p < 0) {
        if (unknown) unknown->push_back("product class " + describeValue(c));
        continue;
      }
      cells[ai] |= 1ULL << p;
    }
  }
  return cells;
}

}  // namespace mandate::oauth
