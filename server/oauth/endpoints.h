#pragma once
// One function per endpoint; AuthServer routes to them.
#include "http/server.h"
#include "oauth/context.h"

namespace mandate::oauth {

http::Response tokenEndpoint(Context& ctx, const http::Request& req);          // POST /token
http::Response introspectionEndpoint(Context& ctx, const http::Request& req);  // POST /introspect (RFC 7662)
http::Response revocationEndpoint(Context& ctx, const http::Request& req);     // POST /revoke (RFC 7009)
http::Response metadataEndpoint(Context& ctx);                                 // RFC 8414
http::Response jwksEndpoint(Context& ctx);

// Shared request checks for the form-posting endpoints: POST, form content type, strict form.
// Returns false with the error response in `out`.
struct Form;
bool readFormRequest(const http::Request& req, Form& form, http::Response& out);

}  // namespace mandate::oauth
