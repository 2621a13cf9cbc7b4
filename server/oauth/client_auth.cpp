#include "oauth/client_auth.h"

#include <algorithm>

#include "oauth/log.h"
#include "oauth/tokens.h"

namespace mandate::oauth {

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// Standard base64 (RFC 4648 §4) with mandatory padding, for the Basic scheme.
bool base64Decode(std::string_view in, std::string& out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=') {
        if (i + 4 != in.size() || k < 2) return false;
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return false;
        v[k] = value(c);
        if (v[k] < 0) return false;
      }
    }
    std::uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

bool isCaseInsensitivePrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

OAuthError failed(bool basic) { return invalidClient("client authentication failed", basic); }

std::optional<AuthenticatedClient> checkSecret(Context& ctx, const std::string& id, const std::string& secret,
                                               const std::string& method, OAuthError& error) {
  bool basic = method == "client_secret_basic";
  if (id.empty() || id.size() > kMaxClientIdBytes || secret.size() > kMaxSecretBytes) {
    error = failed(basic);
    return std::nullopt;
  }
  // Hash before looking the client up, so unknown ids cost the same as wrong secrets.
  std::string presented = hexSha256(secret);
  auto entry = ctx.directory.client(id);
  bool ok = entry && !entry->client.disabled && entry->client.authMethod == method &&
            !entry->client.secretHash.empty() && jose::constantTimeEqual(presented, entry->client.secretHash);
  if (!ok) {
    error = failed(basic);
    return std::nullopt;
  }
  return AuthenticatedClient{entry, method, 1};
}

std::int64_t claimInt(const nlohmann::json& claims, const char* name, bool& present, bool& valid) {
  auto it = claims.find(name);
  present = it != claims.end();
  valid = !present || it->is_number_integer() || it->is_number_unsigned() ||
          (it->is_number_float() && it->get<double>() > -1e15 && it->get<double>() < 1e15);
  if (!present || !valid) return 0;
  if (it->is_number_float()) return static_cast<std::int64_t>(it->get<double>());
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX / 1000)) {
    valid = false;
    return 0;
  }
  return it->get<std::int64_t>();
}

std::optional<AuthenticatedClient> checkAssertion(Context& ctx, const Form& form, const std::string& endpointUrl,
                                                  OAuthError& error) {
  const std::string* type = form.get("client_assertion_type");
  const std::string* assertion = form.get("client_assertion");
  if (type == nullptr || assertion == nullptr) {
    error = invalidRequest("client_assertion and client_assertion_type go together");
    return std::nullopt;
  }
  if (*type != kJwtBearer) {
    error = invalidClient("unsupported client_assertion_type", false);
    return std::nullopt;
  }
  auto reject = [&](const std::string& why) {
    error = invalidClient("client assertion refused: " + why, false);
    return std::nullopt;
  };
  if (assertion->size() > kMaxAssertionBytes) return reject("larger than 8 KiB");
  std::string perr;
  auto jws = jose::parse(*assertion, perr, kMaxAssertionBytes);
  if (!jws) return reject(perr);
  // RFC 8725 §3.11 explicit typing: one of our access tokens (typ at+jwt) is never a client
  // assertion, whatever its claims say.
  if (auto typ = jws->header.find("typ"); typ != jws->header.end() && typ->is_string()) {
    std::string t = typ->get<std::string>();
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (t == "at+jwt" || t == "application/at+jwt") return reject("an access token is not a client assertion");
  }
  auto claims = nlohmann::json::parse(jws->payload, nullptr, false);
  if (!claims.is_object()) return reject("the payload is not a JSON object");
  auto str = [&](const char* name) -> std::string {
    auto it = claims.find(name);
    return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string iss = str("iss"), sub = str("sub"), jti = str("jti");
  // RFC 7523 §3: iss and sub are both the client_id.
  if (iss.empty() || sub != iss) return reject("iss and sub must both be the client_id");
  if (iss.size() > kMaxClientIdBytes) return reject("client_id too long");
  if (const std::string* cid = form.get("client_id"); cid != nullptr && *cid != iss)
    return reject("client_id does not match the assertion's iss");
  auto entry = ctx.directory.client(iss);
  if (!entry || entry->client.disabled || entry->client.authMethod != "private_key_jwt")
    return reject("unknown client, or not registered for private_key_jwt");
  // Signature first: no claim of an unverified assertion is believed beyond picking the client.
  static constexpr jose::Alg kAllowed[] = {jose::Alg::ES256, jose::Alg::EdDSA, jose::Alg::PS256};
  std::string kid;
  if (auto it = jws->header.find("kid"); it != jws->header.end()) {
    if (!it->is_string()) return reject("kid must be a string");
    kid = it->get<std::string>();
  }
  bool verified = false;
  std::string verr = "no registered key matches";
  for (const auto& k : entry->keys) {
    if (!kid.empty() && k.kid != kid) continue;
    std::string e;
    if (jose::verify(*jws, k.key, kAllowed, e)) {
      verified = true;
      break;
    }
    verr = e;
  }
  if (!verified) return reject("signature: " + verr);
  // RFC 7523 §3: aud identifies the authorization server; we accept the issuer, the token
  // endpoint and the endpoint the assertion was sent to.
  auto audOk = [&](const std::string& a) { return a == ctx.issuer || a == ctx.tokenEndpoint || a == endpointUrl; };
  // An array is accepted only when every member is us: an assertion minted for several audiences
  // could be replayed by any of them (the audience-injection attacks behind RFC 7523bis).
  bool audMatch = false;
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_string()) audMatch = audOk(it->get<std::string>());
    if (it->is_array() && !it->empty() && it->size() <= 4) {
      audMatch = true;
      for (auto& a : *it)
        if (!a.is_string() || !audOk(a.get<std::string>())) audMatch = false;
    }
  }
  if (!audMatch) return reject("aud is not this authorization server");
  std::int64_t now = ctx.clock.nowMs() / 1000, skew = ctx.config.tokens.clockSkewS;
  bool present = false, valid = false;
  std::int64_t exp = claimInt(claims, "exp", present, valid);
  if (!present || !valid) return reject("exp is required and must be a number");
  if (exp + skew <= now) return reject("expired");
  if (exp > now + ctx.config.tokens.assertionMaxLifetimeS + skew) return reject("exp is too far in the future");
  std::int64_t nbf = claimInt(claims, "nbf", present, valid);
  if (!valid || (present && nbf > now + skew)) return reject("not valid yet (nbf)");
  std::int64_t iat = claimInt(claims, "iat", present, valid);
  if (!valid || (present && iat > now + skew)) return reject("issued in the future (iat)");
  if (jti.empty() || jti.size() > 256) return reject("jti is required (at most 256 bytes)");
  // Single use (RFC 7523 §3 item 7): remembered until it could no longer pass the exp check.
  if (!ctx.store.recordAssertionJti(iss, jti, (exp + skew) * 1000 + 1000, ctx.clock.nowMs()))
    return reject("jti was already used (replay)");
  return AuthenticatedClient{entry, "private_key_jwt", 2};
}

}  // namespace

namespace {
std::optional<AuthenticatedClient> authenticate(Context& ctx, const http::Request& req, const Form& form,
                                                const std::string& endpointUrl, OAuthError& error);

// Who tried, from where, and why it failed; never the credential. A claimed id is logged only
// when it names a registered client: a client that swaps its id and secret, or leaves out the
// colon of Basic, must not get its secret written to the log.
std::string claimedClient(Context& ctx, const http::Request& req, const Form& form) {
  std::string id;
  if (const std::string* cid = form.get("client_id")) id = *cid;
  const std::string* authz = req.header("authorization");
  if (id.empty() && authz != nullptr && isCaseInsensitivePrefix(*authz, "basic ")) {
    std::string decoded;
    std::string_view b64 = std::string_view(*authz).substr(6);
    auto colon = std::string::npos;
    if (b64.size() <= 4096 && base64Decode(b64, decoded)) colon = decoded.find(':');
    if (colon == std::string::npos || !percentDecode(std::string_view(decoded).substr(0, colon), true, id)) id.clear();
  }
  if (id.empty()) return "";
  if (id.size() > kMaxClientIdBytes || !ctx.directory.client(id)) return "(unregistered)";
  return id;
}
}  // namespace

std::optional<AuthenticatedClient> authenticateClient(Context& ctx, const http::Request& req, const Form& form,
                                                      const std::string& endpointUrl, OAuthError& error) {
  auto result = authenticate(ctx, req, form, endpointUrl, error);
  if (!result && error.status == 401) {
    std::string claimed = claimedClient(ctx, req, form);
    logEvent(Level::Warn, "client authentication failed",
             {{"client_id", claimed}, {"ip", req.remoteIp}, {"endpoint", req.path}, {"reason", error.description}});
    if (claimed != "(unregistered)") error.claimedClient = std::move(claimed);
  }
  return result;
}

namespace {
std::optional<AuthenticatedClient> authenticate(Context& ctx, const http::Request& req, const Form& form,
                                                const std::string& endpointUrl, OAuthError& error) {
  const std::string* authz = req.header("authorization");
  bool basic = authz != nullptr && isCaseInsensitivePrefix(*authz, "basic ");
  bool post = form.get("client_secret") != nullptr;
  bool jwt = form.get("client_assertion") != nullptr || form.get("client_assertion_type") != nullptr;
  if (req.headerCount("authorization") > 1) {
    error = invalidRequest("more than one Authorization header");
    return std::nullopt;
  }
  if (authz != nullptr && !basic) {
    error = invalidClient("unsupported Authorization scheme (use Basic, client_secret_post or private_key_jwt)", true);
    return std::nullopt;
  }
  if (int(basic) + int(post) + int(jwt) > 1) {
    // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
    error = invalidRequest("more than one client authentication method in the request");
    return std::nullopt;
  }
  if (basic) {
    std::string decoded, id, secret;
    std::string_view b64 = std::string_view(*authz).substr(6);
    while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
    if (b64.size() > 4 * (kMaxClientIdBytes + kMaxSecretBytes) || !base64Decode(b64, decoded)) {
      error = invalidClient("malformed Basic credentials", true);
      return std::nullopt;
    }
    auto colon = decoded.find(':');
    if (colon == std::string::npos || !percentDecode(std::string_view(decoded).substr(0, colon), true, id) ||
        !percentDecode(std::string_view(decoded).substr(colon + 1), true, secret)) {
      error = invalidClient("malformed Basic credentials", true);
      return std::nullopt;
    }
    if (const std::string* cid = form.get("client_id"); cid != nullptr && *cid != id) {
      error = invalidRequest("client_id in the body differs from the authenticated client");
      return std::nullopt;
    }
    return checkSecret(ctx, id, secret, "client_secret_basic", error);
  }
  if (post) {
    const std::string* id = form.get("client_id");
    if (id == nullptr) {
      error = invalidRequest("client_secret_post needs client_id");
      return std::nullopt;
    }
    return checkSecret(ctx, *id, *form.get("client_secret"), "client_secret_post", error);
  }
  if (jwt) return checkAssertion(ctx, form, endpointUrl, error);
  error = invalidClient("client authentication required", false);
  return std::nullopt;
}

}  // namespace

}  // namespace mandate::oauth
