#pragma once
// Internal: one HTTP/1.1 connection over a plain or TLS stream. Requests are read with a Beast
// parser fed from a small flat buffer (the header limit bounds it), handled one at a time, and
// answered in order, so pipelined requests queue in the buffer. Deadlines are plain time
// points checked by the worker's sweep timer rather than a timer per operation, which keeps
// per-request cost and per-connection memory low.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <optional>
#include <string>
#include <type_traits>

#include "http/wire.h"
#include "http/worker.h"

namespace mandate::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using PlainStream = tcp::socket;
using TlsStream = beast::ssl_stream<tcp::socket>;

std::string remoteAddress(const tcp::socket& socket);
std::string peerCertificateDer(SSL* ssl);

template <class Stream>
class Connection final : public ConnectionBase {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  enum class State { Handshake, Idle, Reading, Handling, Writing, Closing, Closed };

 public:
  Connection(Worker& worker, tcp::socket socket)
      : ConnectionBase(worker),
        stream_(makeStream(worker, std::move(socket))),
        buffer_(worker.config->options.maxHeaderBytes) {}

  void start() override {
    remoteIp_ = remoteAddress(lowest());
    // A new connection owes us a request: handshake and first request share one readTimeout,
    // so connecting and sending nothing holds a slot no longer than a stalled request does.
    deadline_ = Clock::now() + options().readTimeout;
    if constexpr (kTls) {
      state_ = State::Handshake;
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = self()](const beast::error_code& ec) { self->onHandshake(ec); });
    } else {
      waitForRequest();
    }
  }

  void close() override {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    deadline_ = Clock::time_point::max();
    beast::error_code ec;
    lowest().close(ec);
    worker_.forget(*this);  // may drop the last owner: nothing after this line
  }

  void respond(Response&& r) override {
    if (state_ != State::Handling) return;  // closed meanwhile (timeout, shutdown, client gone)
    const bool close = !keepAlive_ || worker_.stopping;
    write(serializeResponse(r, {.head = head_, .close = close, .keepAlive10 = http10_ && !close}), close);
  }

  void serverStopping() override {
    if (state_ == State::Idle || state_ == State::Handshake) close();
  }

 private:
  static Stream makeStream(Worker& worker, tcp::socket socket) {
    if constexpr (kTls)
      return Stream(std::move(socket), *worker.config->tls);
    else
      return socket;
  }
  std::shared_ptr<Connection> self() { return std::static_pointer_cast<Connection>(shared_from_this()); }
  const Options& options() const { return worker_.config->options; }
  tcp::socket& lowest() {
    if constexpr (kTls)
      return stream_.next_layer();
    else
      return stream_;
  }

  void onHandshake(const beast::error_code& ec) {
    if (state_ == State::Closed) return;
    if (ec) return close();
    if constexpr (kTls) peerCertDer_ = peerCertificateDer(stream_.native_handle());
    waitForRequest();
  }

  // Between requests: pipelined bytes already buffered start the next request at once;
  // otherwise the connection is idle until a byte arrives.
  void waitForRequest() {
    if (worker_.stopping) return finish();
    if (buffer_.size() > 0) return beginRequest();
    state_ = State::Idle;
    if (answered_) deadline_ = Clock::now() + options().idleTimeout;
    // An idle connection keeps little: a buffer grown by a large header is given back.
    if (buffer_.capacity() > 2048) buffer_.shrink_to_fit();
    if (out_.capacity() > 2048) std::string().swap(out_);
    readMore();
  }

  void beginRequest() {
    state_ = State::Reading;
    if (answered_) deadline_ = Clock::now() + options().readTimeout;
    parser_.emplace();
    parser_->eager(true);
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options().maxHeaderBytes, UINT32_MAX)));
    parser_->body_limit(options().maxBodyBytes);
    continueSent_ = false;
    parse();
  }

  void readMore() {
    const std::size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) return fail(bhttp::error::buffer_overflow);  // a header line longer than the limit
    const std::size_t n = std::min(std::max<std::size_t>(512, buffer_.capacity() - buffer_.size()), room);
    stream_.async_read_some(buffer_.prepare(n), [self = self()](const beast::error_code& ec, std::size_t got) {
      self->onRead(ec, got);
    });
  }

  void onRead(const beast::error_code& ec, std::size_t got) {
    if (state_ == State::Closed) return;
    if (ec) return close();  // client gone or closed mid-request: nobody to answer
    buffer_.commit(got);
    if (state_ == State::Idle) return beginRequest();
    parse();
  }

  void parse() {
    beast::error_code ec;
    while (!parser_->is_done() && buffer_.size() > 0) {
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return fail(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return dispatch();
    if (parser_->is_header_done() && !continueSent_ && expectsContinue()) {
      // RFC 9110 §10.1.1: the client waits for this before sending the body.
      continueSent_ = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = self()](const beast::error_code& e, std::size_t) {
                          if (self->state_ == State::Closed) return;
                          if (e) return self->close();
                          self->readMore();
                        });
      return;
    }
    readMore();
  }

  bool expectsContinue() const {
    const auto& h = parser_->get();
    auto it = h.find(bhttp::field::expect);
    return it != h.end() && beast::iequals(it->value(), "100-continue");
  }

  void fail(const beast::error_code& ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
      return refuse(431, "the request header is too large");
    if (ec == bhttp::error::body_limit) return refuse(413, "the request body is too large");
    refuse(400, "the request could not be parsed");
  }

  void refuse(int status, std::string_view description) {
    parser_.reset();
    state_ = State::Handling;
    keepAlive_ = false;
    head_ = false;
    failed_ = true;
    respond(errorResponse(status, "invalid_request", description));
  }

  // RFC 9112 §6.1, §6.3: a request whose Transfer-Encoding does not end in chunked has no
  // reliable length (Beast would read it as bodiless and take the body for the next request:
  // smuggling); and chunked is the only coding we decode.
  bool framingAccepted() {
    auto& m = parser_->get();
    const auto te = m.count(bhttp::field::transfer_encoding);
    if (te == 0) return true;
    if (!parser_->chunked()) {
      refuse(400, "the request body length cannot be determined");
      return false;
    }
    if (te > 1 || !beast::iequals(m[bhttp::field::transfer_encoding], "chunked")) {
      refuse(501, "only the chunked transfer coding is supported");
      return false;
    }
    return true;
  }

  void dispatch() {
    if (!framingAccepted()) return;
    auto& m = parser_->get();
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request with more than one, is 400.
    std::size_t hosts = m.count(bhttp::field::host);
    if (hosts > 1 || (hosts == 0 && m.version() >= 11)) {
      refuse(400, hosts > 1 ? "more than one Host header" : "an HTTP/1.1 request needs a Host header");
      return;
    }
    Request req;
    req.method = std::string(m.method_string());
    req.target = std::string(m.target());
    const auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.headers.reserve(8);
    for (const auto& f : m) {
      std::string name(f.name_string());
      for (char& c : name)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(m.body());
    req.remoteIp = remoteIp_;
    req.tls = kTls;
    req.peerCertDer = peerCertDer_;
    keepAlive_ = m.keep_alive();
    http10_ = m.version() == 10;
    head_ = m.method() == bhttp::verb::head;
    parser_.reset();

    state_ = State::Handling;
    deadline_ = Clock::time_point::max();  // the handler takes its time; stop() bounds it
    Respond respond = makeRespond(worker_.shared_from_this(), weak_from_this());
    try {
      worker_.config->handler(std::move(req), respond);
    } catch (...) {
      respond(errorResponse(500, "server_error", "the request handler failed"));
    }
  }

  void write(std::string bytes, bool close) {
    out_ = std::move(bytes);
    state_ = State::Writing;
    deadline_ = Clock::now() + options().readTimeout;  // a client that does not read is cut too
    asio::async_write(stream_, asio::buffer(out_), [self = self(), close](const beast::error_code& ec, std::size_t) {
      if (self->state_ == State::Closed) return;
      if (ec) return self->close();
      if (close) return self->failed_ ? self->lingeringClose() : self->finish();
      self->out_.clear();
      self->answered_ = true;
      self->waitForRequest();
    });
  }

  // A clean end after the last response: TLS says close_notify first (bounded by the deadline:
  // the peer need not answer it), plain TCP just closes.
  void finish() {
    if constexpr (kTls) {
      state_ = State::Closing;
      deadline_ = Clock::now() + std::min<Clock::duration>(options().readTimeout, std::chrono::seconds(2));
      stream_.async_shutdown([self = self()](const beast::error_code&) { self->close(); });
    } else {
      close();
    }
  }

  // After a refused request the client may still be sending (the rest of a body too large); closing with
  // unread data would reset the connection and could destroy the response before the client
  // reads it. So: send FIN, discard what arrives for a short while, then close.
  void lingeringClose() {
    state_ = State::Closing;
    deadline_ = Clock::now() + std::min<Clock::duration>(options().readTimeout, std::chrono::seconds(2));
    beast::error_code ec;
    lowest().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    drain(0);
  }

  void drain(std::size_t drained) {
    static constexpr std::size_t kMaxDrain = 1 << 20;
    if (drained > kMaxDrain) return close();
    buffer_.clear();
    lowest().async_read_some(buffer_.prepare(std::min<std::size_t>(buffer_.max_size(), 4096)),
                             [self = self(), drained](const beast::error_code& ec, std::size_t got) {
                               if (self->state_ == State::Closed) return;
                               if (ec) return self->close();
                               self->drain(drained + got);
                             });
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_;
  std::string remoteIp_;
  std::string peerCertDer_;
  State state_ = State::Idle;
  bool keepAlive_ = true;
  bool http10_ = false;
  bool head_ = false;
  bool continueSent_ = false;
  bool failed_ = false;    // the request was refused: the client may still be sending
  bool answered_ = false;  // a response went out: from now on idle waits use idleTimeout
};

}  // namespace mandate::http::detail
