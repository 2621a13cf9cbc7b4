#pragma once
// The HTTP/1.1 front end on Boost.Asio + Beast: asynchronous, keep-alive, N worker threads,
// size limits, read and idle timeouts, graceful shutdown, optional TLS. It knows nothing of
// OAuth: every complete request goes to one Handler, which answers through `respond` — now or
// later, from any thread (the audit trail answers only once a record is durable).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mandate::http {

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent: path and query
  std::string path;     // target before '?'
  std::string query;    // after '?', not decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::string remoteIp;  // textual, IPv4 or IPv6 (IPv4-mapped addresses shown as IPv4)
  bool tls = false;
  std::string peerCertDer;  // the client certificate (mutual TLS), DER; empty if none

  // First value of a header (name lower-case), or nullptr. `count` tells how many there are.
  const std::string* header(std::string_view name) const;
  std::size_t headerCount(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
};

using Respond = std::function<void(Response&&)>;  // call exactly once
// Called on the worker threads, concurrently: it must be thread-safe. It may answer before it
// returns or keep `respond` and answer later from any thread; a connection answers its
// requests one at a time, in order. Later calls of `respond` are ignored, calls after the
// connection closed are harmless, and dropping every copy unanswered sends a 500.
using Handler = std::function<void(Request&&, Respond)>;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = any free port (see Server::port())
  unsigned threads = 0;       // 0 = hardware concurrency
  std::size_t maxHeaderBytes = 8 * 1024;
  std::size_t maxBodyBytes = 64 * 1024;
  std::chrono::milliseconds readTimeout{10'000};   // a started request must arrive within this
  std::chrono::milliseconds idleTimeout{60'000};   // keep-alive connection with no request
  std::chrono::milliseconds shutdownGrace{10'000}; // in-flight work gets this long on stop()
  std::size_t maxConnections = 10'000;
  // TLS when both are set (PEM files). requestClientCert: mutual TLS (RFC 8705) — the server
  // asks for a client certificate but never requires one. Without tlsClientCaFile any
  // certificate is accepted (self-signed certificate binding: the handler checks the
  // thumbprint); with it, a presented certificate must chain to that CA or the handshake fails.
  std::string tlsCertFile, tlsKeyFile, tlsClientCaFile;
  bool requestClientCert = false;
};

class Server {
 public:
  Server(Options options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the worker threads. False with a reason (address in use, bad TLS files).
  bool start(std::string& error);
  std::uint16_t port() const;  // the bound port
  // Graceful: stop accepting, let in-flight requests finish (up to shutdownGrace), close idle
  // connections, join the threads. Safe to call from a signal-watching thread; idempotent.
  // Must not be called from a handler running on a worker thread (it joins them).
  void stop();
  void wait();  // blocks until stopped

  // Counters for /metrics.
  std::size_t openConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Answers a request that broke a limit or could not be parsed (used by the server itself;
// exposed so the handler's errors look the same).
Response errorResponse(int status, std::string_view error, std::string_view description);

}  // namespace mandate::http
