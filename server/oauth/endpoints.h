#pragma once
// One function per endpoint; AuthServer routes to them.
#include "http/server.h"
#include "oauth/audit_events.h"
#include "oauth/context.h"

namespace mandate::oauth {

// The form-posting endpoints may leave a record in `audit` (see audit_events.h).
http::Response tokenEndpoint(Context& ctx, const http::Request& req, AuditSlot& audit);          // POST /token
http::Response introspectionEndpoint(Context& ctx, const http::Request& req, AuditSlot& audit);  // RFC 7662
http::Response revocationEndpoint(Context& ctx, const http::Request& req, AuditSlot& audit);     // RFC 7009
http::Response metadataEndpoint(Context& ctx);                                 // RFC 8414
http::Response jwksEndpoint(Context& ctx);

// Shared request checks for the form-posting endpoints: POST, form content type, strict form.
// Returns false with the error response in `out`.
struct Form;
bool readFormRequest(const http::Request& req, Form& form, http::Response& out);

}  // namespace mandate::oauth
