#pragma once
// A minimal blocking HTTP/1.1 client on raw sockets for the server tests: it can send anything
// (malformed requests, half requests, pipelined batches) and parses responses strictly enough
// to check status, headers and body.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace mandate::http::test {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class RawClient {
 public:
  explicit RawClient(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  // One response, or nullopt when the connection closed or timed out first.
  std::optional<RawResponse> read(bool headOnly = false);
  // True when the server closes the connection (EOF or reset) within `within`.
  bool closedWithin(std::chrono::milliseconds within);
  void close();

 private:
  bool fill();  // reads more into buffer_; false on EOF, error or timeout
  int fd_ = -1;
  std::string buffer_;
};

// Takes one complete response off the front of `buffer`; headOnly: the answer to HEAD (no body).
std::optional<RawResponse> parseResponse(std::string& buffer, bool headOnly, bool& complete);

}  // namespace mandate::http::test
