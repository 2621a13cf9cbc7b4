#pragma once
// Internal: the server's TLS context from Options (certificate chain, key, client certificates).
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "http/server.h"

namespace mandate::http::detail {

// Null with `error` set when a file cannot be loaded or the key does not match the certificate.
std::unique_ptr<boost::asio::ssl::context> makeTlsContext(const Options& options, std::string& error);

}  // namespace mandate::http::detail
