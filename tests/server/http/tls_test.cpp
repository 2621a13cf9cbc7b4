// TLS: a self-signed certificate made in the test (openssl CLI, temp dir), one request over
// TLS with an asio client, with and without a client certificate (mutual TLS).
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <openssl/x509.h>
#include <sstream>
#include <string>

#include "http/server.h"
#include "test_client.h"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using mandate::http::Options;
using mandate::http::Request;
using mandate::http::Respond;
using mandate::http::Response;
using mandate::http::Server;

namespace {

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mandate-http-tls-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

bool makeSelfSigned(const fs::path& dir, const std::string& name, const std::string& cn) {
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" + cn +
                    " -keyout " + (dir / (name + ".key")).string() + " -out " + (dir / (name + ".pem")).string() +
                    " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string readDer(const fs::path& pem) {
  std::string cmd = "openssl x509 -in " + pem.string() + " -outform DER -out " + pem.string() + ".der";
  if (std::system(cmd.c_str()) != 0) return {};
  std::ifstream in(pem.string() + ".der", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Two requests on one TLS connection, the second with Connection: close; returns the raw
// bytes of both responses. The server must end the TLS session cleanly (close_notify).
// With `endError`, how the connection ended is returned instead of checked.
std::string tlsRequest(std::uint16_t port, const fs::path* clientCert, const fs::path* clientKey,
                       boost::system::error_code* endError = nullptr) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);  // self-signed server certificate
  if (clientCert) {
    ctx.use_certificate_file(clientCert->string(), asio::ssl::context::pem);
    ctx.use_private_key_file(clientKey->string(), asio::ssl::context::pem);
  }
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  stream.handshake(asio::ssl::stream_base::client);
  std::string req = "GET /tls HTTP/1.1\r\nHost: t\r\n\r\nGET /tls HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  asio::write(stream, asio::buffer(req));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    std::size_t n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  if (endError)
    *endError = ec;
  else
    CHECK_MESSAGE(ec == asio::error::eof, ec.message());  // not stream_truncated
  return out;
}

}  // namespace

TEST_CASE("TLS: a request over TLS; the client certificate is optional and reported as DER") {
  TempDir dir;
  REQUIRE(makeSelfSigned(dir.path, "server", "localhost"));
  REQUIRE(makeSelfSigned(dir.path, "client", "bot-7"));
  Options o;
  o.port = 0;
  o.threads = 2;
  o.tlsCertFile = (dir.path / "server.pem").string();
  o.tlsKeyFile = (dir.path / "server.key").string();
  o.requestClientCert = true;
  Server server(o, [](Request&& req, Respond respond) {
    Response r;
    r.contentType = "text/plain";
    r.headers.emplace_back("X-Tls", req.tls ? "yes" : "no");
    r.body = req.peerCertDer;
    respond(std::move(r));
  });
  std::string error;
  REQUIRE_MESSAGE(server.start(error), error);

  SUBCASE("without a client certificate") {
    std::string raw = tlsRequest(server.port(), nullptr, nullptr);
    bool complete = false;
    for (int i = 0; i < 2; ++i) {
      auto r = mandate::http::test::parseResponse(raw, false, complete);
      REQUIRE(complete);
      CHECK(r->status == 200);
      CHECK(r->headers["x-tls"] == "yes");
      CHECK(r->body.empty());
    }
    CHECK(raw.empty());
  }
  SUBCASE("with a self-signed client certificate (mutual TLS)") {
    fs::path cert = dir.path / "client.pem", key = dir.path / "client.key";
    std::string raw = tlsRequest(server.port(), &cert, &key);
    bool complete = false;
    auto r = mandate::http::test::parseResponse(raw, false, complete);
    REQUIRE(complete);
    CHECK(r->status == 200);
    std::string der = readDer(cert);
    REQUIRE_FALSE(der.empty());
    CHECK(r->body == der);
  }
  SUBCASE("a plain-text request on the TLS port gets no HTTP answer") {
    mandate::http::test::RawClient c(server.port());
    REQUIRE(c.send("GET / HTTP/1.1\r\n\r\n"));
    CHECK_FALSE(c.read());
  }
}

TEST_CASE("TLS: no client certificate is asked for unless configured; key mismatch is refused") {
  TempDir dir;
  REQUIRE(makeSelfSigned(dir.path, "server", "localhost"));
  REQUIRE(makeSelfSigned(dir.path, "other", "other"));
  Options o;
  o.port = 0;
  o.threads = 1;
  o.tlsCertFile = (dir.path / "server.pem").string();
  o.tlsKeyFile = (dir.path / "server.key").string();
  Server server(o, [](Request&& req, Respond respond) {
    Response r;
    r.body = req.peerCertDer;
    respond(std::move(r));
  });
  std::string error;
  REQUIRE_MESSAGE(server.start(error), error);
  fs::path cert = dir.path / "other.pem", key = dir.path / "other.key";
  std::string raw = tlsRequest(server.port(), &cert, &key);
  bool complete = false;
  auto r = mandate::http::test::parseResponse(raw, false, complete);
  REQUIRE(complete);
  CHECK(r->body.empty());  // not requested, so not sent

  Options bad = o;
  bad.tlsKeyFile = (dir.path / "other.key").string();
  Server mismatched(bad, [](Request&&, Respond) {});
  CHECK_FALSE(mismatched.start(error));
  CHECK_MESSAGE(error.find("other.key") != std::string::npos, error);
}

TEST_CASE("TLS: with a client CA file, a presented certificate must chain to it") {
  TempDir dir;
  REQUIRE(makeSelfSigned(dir.path, "server", "localhost"));
  REQUIRE(makeSelfSigned(dir.path, "trusted", "trusted-bot"));
  REQUIRE(makeSelfSigned(dir.path, "stranger", "stranger"));
  Options o;
  o.port = 0;
  o.threads = 1;
  o.tlsCertFile = (dir.path / "server.pem").string();
  o.tlsKeyFile = (dir.path / "server.key").string();
  o.requestClientCert = true;
  o.tlsClientCaFile = (dir.path / "trusted.pem").string();  // a self-signed certificate is its own CA
  Server server(o, [](Request&& req, Respond respond) {
    Response r;
    r.body = req.peerCertDer;
    respond(std::move(r));
  });
  std::string error;
  REQUIRE_MESSAGE(server.start(error), error);

  fs::path cert = dir.path / "trusted.pem", key = dir.path / "trusted.key";
  std::string raw = tlsRequest(server.port(), &cert, &key);
  bool complete = false;
  auto r = mandate::http::test::parseResponse(raw, false, complete);
  REQUIRE(complete);
  CHECK(r->body == readDer(cert));

  raw = tlsRequest(server.port(), nullptr, nullptr);  // still optional
  r = mandate::http::test::parseResponse(raw, false, complete);
  REQUIRE(complete);
  CHECK(r->body.empty());

  fs::path badCert = dir.path / "stranger.pem", badKey = dir.path / "stranger.key";
  // TLS 1.3 finishes the client's handshake before the server checks its certificate: the
  // refusal arrives as an alert instead of a response.
  boost::system::error_code end;
  raw.clear();
  try {
    raw = tlsRequest(server.port(), &badCert, &badKey, &end);
  } catch (const boost::system::system_error& e) {
    end = e.code();
  }
  CHECK(raw.empty());
  CHECK_MESSAGE(end.message().find("unknown ca") != std::string::npos, end.message());
}
