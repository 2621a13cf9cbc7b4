#pragma once
// Turning a Response into the bytes of an HTTP/1.1 response. Internal to the server.
#include <string>

#include "http/server.h"

namespace mandate::http::detail {

struct WireOptions {
  bool head = false;       // answer to HEAD: headers only, Content-Length of the body kept
  bool close = false;      // adds `Connection: close`
  bool keepAlive10 = false;  // HTTP/1.0 client that asked for keep-alive
};

// One contiguous buffer, so a response is one write. Extra headers whose name or value could
// split the response (CR, LF, NUL, or a name that is not a token) are dropped, never sent.
std::string serializeResponse(const Response& response, WireOptions wire);

}  // namespace mandate::http::detail
