// The HTTP front end against real sockets: framing, limits, timeouts, asynchronous answers,
// shutdown. Malformed input is sent with a raw socket client.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "http/server.h"
#include "test_client.h"

using namespace std::chrono_literals;
using mandate::http::Options;
using mandate::http::Request;
using mandate::http::Respond;
using mandate::http::Response;
using mandate::http::Server;
using mandate::http::test::RawClient;

namespace {

// Echoes what the server parsed, so tests can check it.
void echo(Request&& req, Respond respond) {
  Response r;
  r.contentType = "text/plain";
  r.headers.emplace_back("X-Method", req.method);
  r.headers.emplace_back("X-Path", req.path);
  r.headers.emplace_back("X-Query", req.query);
  r.headers.emplace_back("X-Remote", req.remoteIp);
  if (auto* h = req.header("x-test")) r.headers.emplace_back("X-Test-Echo", *h);
  r.headers.emplace_back("X-Test-Count", std::to_string(req.headerCount("x-test")));
  r.body = req.body;
  respond(std::move(r));
}

struct Running {
  explicit Running(Options o, mandate::http::Handler h = echo) : server(withPort0(std::move(o)), std::move(h)) {
    std::string error;
    REQUIRE_MESSAGE(server.start(error), error);
  }
  static Options withPort0(Options o) {
    o.port = 0;
    if (o.threads == 0) o.threads = 2;
    return o;
  }
  std::uint16_t port() const { return server.port(); }
  Server server;
};

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds within = 5s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

}  // namespace

TEST_CASE("GET and POST: request parsed, response framed") {
  Running s({});
  RawClient c(s.port());
  REQUIRE(c.connected());
  REQUIRE(c.send(get("/a/b?x=1&y=%20", "X-Test: one\r\nx-TEST: two\r\n")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->headers["x-method"] == "GET");
  CHECK(r->headers["x-path"] == "/a/b");
  CHECK(r->headers["x-query"] == "x=1&y=%20");
  CHECK(r->headers["x-test-echo"] == "one");
  CHECK(r->headers["x-test-count"] == "2");
  CHECK(r->headers["x-remote"] == "127.0.0.1");
  CHECK(r->headers["content-type"] == "text/plain");
  CHECK(r->headers["content-length"] == "0");
  CHECK(r->headers.count("connection") == 0);
  CHECK(r->headers.count("cache-control") == 0);
  CHECK(r->headers["date"].size() == 29);  // IMF-fixdate: "Thu, 26 Nov 2026 08:42:25 GMT"
  CHECK(r->headers["date"].substr(r->headers["date"].size() - 4) == " GMT");

  REQUIRE(c.send("POST /token HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 "Content-Length: 27\r\n\r\ngrant_type=client_credentials"));
  r = c.read();
  REQUIRE(r);
  CHECK(r->headers["x-method"] == "POST");
  CHECK(r->body == "grant_type=client_credentia");  // exactly Content-Length bytes
}

TEST_CASE("chunked request body is decoded") {
  Running s({});
  RawClient c(s.port());
  REQUIRE(c.send("POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello world");
}

TEST_CASE("Expect: 100-continue gets an interim answer before the body is sent") {
  Running s({});
  RawClient c(s.port());
  REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = c.read();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c.send("hello"));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello");
}

TEST_CASE("a request delivered one byte at a time is parsed the same") {
  Running s({});
  RawClient c(s.port());
  std::string req = "POST /slow?q=1 HTTP/1.1\r\nHost: t\r\nX-Test: v\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n" + get("/next");
  for (char ch : req) {
    REQUIRE(c.send(std::string_view(&ch, 1)));
    std::this_thread::sleep_for(200us);
  }
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->headers["x-path"] == "/slow");
  CHECK(r->headers["x-query"] == "q=1");
  CHECK(r->headers["x-test-echo"] == "v");
  CHECK(r->body == "abcde");
  r = c.read();
  REQUIRE(r);
  CHECK(r->headers["x-path"] == "/next");
}

TEST_CASE("mutated requests: every one is answered with a sane status or closed; the server survives") {
  Options o;
  o.readTimeout = 300ms;  // incomplete requests and idle connections end quickly
  o.idleTimeout = 300ms;
  Running s(o);
  const std::string valid = "POST /token?a=b HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nX-Test: v\r\n\r\nhello world" +
                            get("/second") + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n";
  std::mt19937 rng(20261126);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 200; ++i) {
    std::string m = valid;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = rng() % m.size();
      switch (rng() % 4) {
        case 0: m[at] = static_cast<char>(rng() % 256); break;
        case 1: m.erase(at, 1 + rng() % 8); break;
        case 2: m.insert(at, std::string(1 + rng() % 3, "\r\n:; 0\t\x00"[rng() % 9])); break;
        default: m.insert(at, m.substr(rng() % m.size(), 1 + rng() % 16)); break;
      }
    }
    clients.push_back(std::make_unique<RawClient>(s.port(), 3s));
    REQUIRE(clients.back()->connected());
    clients.back()->send(m);
  }
  for (auto& c : clients) {
    while (auto r = c->read()) {
      bool sane = r->status == 200 || r->status == 400 || r->status == 413 || r->status == 431 || r->status == 501;
      CHECK_MESSAGE(sane, r->status);
    }
  }
  clients.clear();
  RawClient c(s.port());
  REQUIRE(c.send(get("/alive")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(waitFor([&] { return s.server.openConnections() == 1; }));
}

TEST_CASE("keep-alive: several requests on one connection; Connection: close honoured") {
  Running s({});
  RawClient c(s.port());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(c.send(get("/n" + std::to_string(i))));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->headers["x-path"] == "/n" + std::to_string(i));
  }
  CHECK(s.server.openConnections() == 1);
  REQUIRE(c.send(get("/last", "Connection: close\r\n")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->headers["connection"] == "close");
  CHECK(c.closedWithin(2s));
  CHECK(waitFor([&] { return s.server.openConnections() == 0; }));
}

TEST_CASE("HTTP/1.0 closes unless keep-alive is asked for") {
  Running s({});
  RawClient c(s.port());
  REQUIRE(c.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->headers["connection"] == "keep-alive");
  REQUIRE(c.send("GET /y HTTP/1.0\r\n\r\n"));
  r = c.read();
  REQUIRE(r);
  CHECK(r->headers["connection"] == "close");
  CHECK(c.closedWithin(2s));
}

TEST_CASE("pipelined requests are answered in order even when answers finish out of order") {
  // Request i is answered after (5 - i) * 20 ms from another thread: later requests would
  // finish first if the server handled them concurrently.
  std::vector<std::thread> helpers;
  std::mutex m;
  Running s({}, [&](Request&& req, Respond respond) {
    int i = req.path.back() - '0';
    std::lock_guard lock(m);
    helpers.emplace_back([i, path = req.path, respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds((5 - i) * 20));
      Response r;
      r.body = path;
      respond(std::move(r));
    });
  });
  RawClient c(s.port());
  std::string batch;
  for (int i = 0; i < 5; ++i) batch += get("/p" + std::to_string(i));
  REQUIRE(c.send(batch));
  for (int i = 0; i < 5; ++i) {
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->body == "/p" + std::to_string(i));
  }
  s.server.stop();
  for (auto& t : helpers) t.join();
}

TEST_CASE("limits: 431 for a header over 8 KiB, 413 for a body over 64 KiB") {
  Running s({});
  SUBCASE("header") {
    RawClient c(s.port());
    REQUIRE(c.send(get("/", "X-Big: " + std::string(9 * 1024, 'a') + "\r\n")));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 431);
    CHECK(r->headers["connection"] == "close");
    CHECK(r->headers["content-type"] == "application/json");
    CHECK(r->body.find("\"error\":\"invalid_request\"") != std::string::npos);
    CHECK(c.closedWithin(3s));
  }
  SUBCASE("header just under the limit is fine") {
    RawClient c(s.port());
    REQUIRE(c.send(get("/", "X-Big: " + std::string(7 * 1024, 'a') + "\r\n")));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  SUBCASE("body with Content-Length") {
    RawClient c(s.port());
    std::string body(65 * 1024, 'b');
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
    c.send(body);  // the server may already have answered and stopped reading
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->headers["connection"] == "close");
    CHECK(c.closedWithin(3s));
  }
  SUBCASE("body of exactly 64 KiB is accepted") {
    RawClient c(s.port());
    std::string body(64 * 1024, 'b');
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.size() == body.size());
  }
  SUBCASE("chunked body") {
    RawClient c(s.port());
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
    std::string chunk = "1000\r\n" + std::string(4096, 'c') + "\r\n";  // 4 KiB chunks
    bool answered = false;
    for (int i = 0; i < 17 && !answered; ++i) answered = !c.send(chunk);
    c.send("0\r\n\r\n");
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(c.closedWithin(3s));
  }
}

TEST_CASE("configurable limits") {
  Options o;
  o.maxHeaderBytes = 1024;
  o.maxBodyBytes = 10;
  Running s(o);
  RawClient c(s.port());
  REQUIRE(c.send(get("/", "X-Big: " + std::string(1100, 'a') + "\r\n")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 431);
  RawClient d(s.port());
  REQUIRE(d.send("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890"));
  r = d.read();
  REQUIRE(r);
  CHECK(r->status == 413);
}

TEST_CASE("malformed input: 400 and the connection closes") {
  Running s({});
  for (std::string bad : {std::string("GARBAGE\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
                          std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
                          std::string("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
                          std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                          // request smuggling: two framings, or two different lengths
                          std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                          std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
                          std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
                          std::string("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
                          std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)}) {
    CAPTURE(bad);
    RawClient c(s.port());
    REQUIRE(c.send(bad));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->headers["connection"] == "close");
    CHECK(r->body.find(R"({"error":"invalid_request","error_description":")") == 0);
    CHECK(c.closedWithin(3s));
  }
  CHECK(waitFor([&] { return s.server.openConnections() == 0; }));
}

TEST_CASE("a transfer coding other than chunked is refused with 501") {
  Running s({});
  RawClient c(s.port());
  REQUIRE(c.send("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 501);
}

TEST_CASE("slowloris: a started request that stalls is cut after readTimeout") {
  Options o;
  o.readTimeout = 300ms;
  o.idleTimeout = 10s;
  Running s(o);
  RawClient c(s.port());
  REQUIRE(c.send("GET / HTTP/1.1\r\nHost: t\r\n"));
  auto start = std::chrono::steady_clock::now();
  // Trickling bytes does not extend the deadline.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(50ms);
    c.send("X-A: b\r\n");
  }
  CHECK(c.closedWithin(2s));
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 250ms);
  CHECK(took < 1500ms);
}

TEST_CASE("an idle keep-alive connection is closed after idleTimeout, not before") {
  Options o;
  o.readTimeout = 5s;
  o.idleTimeout = 400ms;
  Running s(o);
  RawClient c(s.port());
  REQUIRE(c.send(get("/")));
  REQUIRE(c.read());
  CHECK_FALSE(c.closedWithin(200ms));
  REQUIRE(c.send(get("/again")));  // a request resets the idle clock
  REQUIRE(c.read());
  auto start = std::chrono::steady_clock::now();
  CHECK(c.closedWithin(3s));
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
}

TEST_CASE("a new connection that sends nothing is cut after readTimeout, not idleTimeout") {
  Options o;
  o.readTimeout = 300ms;
  o.idleTimeout = 10s;
  Running s(o);
  RawClient c(s.port());
  auto start = std::chrono::steady_clock::now();
  CHECK(c.closedWithin(3s));
  CHECK(std::chrono::steady_clock::now() - start >= 250ms);
}

TEST_CASE("the first request's deadline runs from the connection, not from its first byte") {
  Options o;
  o.readTimeout = 600ms;
  o.idleTimeout = 10s;
  Running s(o);
  RawClient d(s.port());
  std::this_thread::sleep_for(400ms);
  REQUIRE(d.send("GET / HTTP/1.1\r\n"));
  // From the connection: closed 200-350 ms from now. From the first byte it would be >= 600 ms.
  CHECK(d.closedWithin(550ms));
}

TEST_CASE("the handler answers later from another thread") {
  std::vector<std::thread> helpers;
  std::mutex m;
  Running s({}, [&](Request&& req, Respond respond) {
    std::lock_guard lock(m);
    helpers.emplace_back([body = req.body, respond = std::move(respond)] {
      std::this_thread::sleep_for(100ms);
      Response r;
      r.status = 201;
      r.body = "late:" + body;
      respond(std::move(r));
      respond(Response{});  // a second call is ignored
    });
  });
  RawClient c(s.port());
  REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(r->body == "late:hi");
  REQUIRE(c.send(get("/")));  // the connection is still usable; the stray second answer is not sent
  r = c.read();
  REQUIRE(r);
  CHECK(r->body == "late:");
  s.server.stop();
  for (auto& t : helpers) t.join();
}

TEST_CASE("a burst of answers from one thread reaches every connection, twice over") {
  // As the audit log answers a committed batch: one thread calls many Responds back to back, so
  // the answers queue in the workers' inboxes and each worker delivers a whole burst at once.
  constexpr int kClients = 40;
  std::mutex m;
  std::vector<std::pair<std::string, Respond>> held;
  Running s({}, [&](Request&& req, Respond respond) {
    std::lock_guard lock(m);
    held.emplace_back(req.path, std::move(respond));
  });
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<RawClient>(s.port()));
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kClients; ++i) REQUIRE(clients[i]->send(get("/" + std::to_string(round) + "/" + std::to_string(i))));
    REQUIRE(waitFor([&] {
      std::lock_guard lock(m);
      return held.size() == kClients;
    }));
    std::vector<std::pair<std::string, Respond>> burst;
    {
      std::lock_guard lock(m);
      burst.swap(held);
    }
    std::thread answerer([&burst] {
      for (auto it = burst.rbegin(); it != burst.rend(); ++it) {
        Response r;
        r.body = "answer to " + it->first;
        it->second(std::move(r));
      }
    });
    answerer.join();
    for (int i = 0; i < kClients; ++i) {
      auto r = clients[i]->read();
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->body == "answer to /" + std::to_string(round) + "/" + std::to_string(i));
    }
  }
}

TEST_CASE("respond after the client disconnected, and after the server is gone, is harmless") {
  std::promise<Respond> held;
  Options o;
  o.shutdownGrace = 200ms;
  auto server = std::make_unique<Running>(o, [&](Request&&, Respond respond) { held.set_value(respond); });
  {
    RawClient c(server->port());
    REQUIRE(c.send(get("/")));
    auto f = held.get_future();
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    Respond respond = f.get();
    c.close();
    CHECK(waitFor([&] { return server->server.openConnections() == 1; }));
    Response r;
    r.body = "nobody listens";
    respond(std::move(r));
    // The write fails or the next read sees EOF: either way the connection goes away.
    CHECK(waitFor([&] { return server->server.openConnections() == 0; }));
  }
  held = {};
  RawClient c(server->port());
  REQUIRE(c.send(get("/")));
  auto f = held.get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  Respond respond = f.get();
  server.reset();  // stop() gives up on the unanswered request after the grace period
  respond(Response{});
}

TEST_CASE("a handler that drops Respond without calling it yields a 500") {
  Running s({}, [](Request&&, Respond) {});
  RawClient c(s.port());
  REQUIRE(c.send(get("/")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 500);
}

TEST_CASE("a handler that throws yields a 500") {
  Running s({}, [](Request&&, Respond) { throw std::runtime_error("boom"); });
  RawClient c(s.port());
  REQUIRE(c.send(get("/")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->body.find("server_error") != std::string::npos);
}

TEST_CASE("HEAD gets headers with the body's length but no body; 204 has no Content-Length") {
  Running s({}, [](Request&& req, Respond respond) {
    Response r;
    if (req.path == "/empty") r.status = 204;
    r.body = "0123456789";
    respond(std::move(r));
  });
  RawClient c(s.port());
  REQUIRE(c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/empty") + get("/")));
  auto head = c.read(/*headOnly=*/true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->headers["content-length"] == "10");
  auto empty = c.read();  // would start with the body bytes if HEAD had sent them
  REQUIRE(empty);
  CHECK(empty->status == 204);
  CHECK(empty->headers.count("content-length") == 0);
  CHECK(empty->headers.count("content-type") == 0);
  auto full = c.read();
  REQUIRE(full);
  CHECK(full->body == "0123456789");
}

TEST_CASE("stop(): the in-flight request is answered, idle connections closed, new ones refused") {
  std::promise<void> entered;
  std::atomic<bool> handlerDone{false};
  std::thread slow;
  Options o;
  o.shutdownGrace = 5s;
  Running s(o, [&](Request&&, Respond respond) {
    slow = std::thread([&, respond] {
      entered.set_value();
      std::this_thread::sleep_for(300ms);
      Response r;
      r.body = "finished";
      handlerDone = true;
      respond(std::move(r));
    });
  });
  RawClient idle(s.port());
  RawClient busy(s.port());
  REQUIRE(busy.send(get("/slow")));
  REQUIRE(entered.get_future().wait_for(5s) == std::future_status::ready);
  CHECK(waitFor([&] { return s.server.openConnections() == 2; }));

  auto stopped = std::async(std::launch::async, [&] { s.server.stop(); });
  CHECK(idle.closedWithin(2s));  // closed at once, not after the grace period
  CHECK_FALSE(handlerDone.load());
  auto r = busy.read();
  REQUIRE(r);
  CHECK(r->body == "finished");
  CHECK(r->headers["connection"] == "close");
  CHECK(busy.closedWithin(3s));
  REQUIRE(stopped.wait_for(5s) == std::future_status::ready);
  s.server.wait();
  s.server.stop();  // idempotent
  RawClient late(s.port());
  CHECK_FALSE(late.connected());
  slow.join();
}

TEST_CASE("maxConnections: connections beyond the cap are closed at once") {
  Options o;
  o.maxConnections = 2;
  Running s(o);
  RawClient a(s.port()), b(s.port());
  CHECK(waitFor([&] { return s.server.openConnections() == 2; }));
  RawClient c(s.port());
  CHECK(c.closedWithin(2s));
  a.close();
  CHECK(waitFor([&] { return s.server.openConnections() == 1; }));
  RawClient d(s.port());
  REQUIRE(d.send(get("/")));
  auto r = d.read();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("IPv4-mapped IPv6 peers are shown as IPv4") {
  Options o;
  o.host = "::";
  Server server(Running::withPort0(o), echo);
  std::string error;
  if (!server.start(error)) {
    MESSAGE("no IPv6 here: " << error);
    return;
  }
  RawClient c(server.port());
  REQUIRE(c.send(get("/")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->headers["x-remote"] == "127.0.0.1");
}

TEST_CASE("the listen host may be a name") {
  Options o;
  o.host = "localhost";
  Server server(Running::withPort0(o), echo);
  std::string error;
  REQUIRE_MESSAGE(server.start(error), error);
  RawClient c(server.port());  // IPv4 loopback: localhost resolves to 127.0.0.1 first here
  if (!c.connected()) return;  // resolved to ::1 only
  REQUIRE(c.send(get("/")));
  auto r = c.read();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("start() fails with a reason") {
  Running first({});
  Options o;
  o.port = first.port();
  Server second(o, echo);
  std::string error;
  CHECK_FALSE(second.start(error));
  CHECK(error.find("bind") != std::string::npos);
  Options t;
  t.port = 0;
  t.tlsCertFile = "/nonexistent/cert.pem";
  t.tlsKeyFile = "/nonexistent/key.pem";
  Server third(t, echo);
  error.clear();
  CHECK_FALSE(third.start(error));
  CHECK(error.find("/nonexistent/cert.pem") != std::string::npos);
  Options h;
  h.port = 0;
  h.host = "no-such-host.invalid";
  Server fourth(h, echo);
  error.clear();
  CHECK_FALSE(fourth.start(error));
  CHECK(error.find("no-such-host.invalid") != std::string::npos);
}

TEST_CASE("1,000 concurrent idle connections are accepted, then closed") {
  Running s({});
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(std::make_unique<RawClient>(s.port()));
    REQUIRE(clients.back()->connected());
  }
  CHECK(waitFor([&] { return s.server.openConnections() == 1000; }, 10s));
  // Every one of them still works.
  for (int i = 0; i < 1000; i += 97) {
    REQUIRE(clients[i]->send(get("/")));
    REQUIRE(clients[i]->read());
  }
  clients.clear();
  CHECK(waitFor([&] { return s.server.openConnections() == 0; }, 10s));
}

TEST_CASE("errorResponse builds the JSON error body") {
  auto r = mandate::http::errorResponse(401, "invalid_client", "bad \"secret\"\n");
  CHECK(r.status == 401);
  CHECK(r.contentType == "application/json");
  CHECK(r.body == R"({"error":"invalid_client","error_description":"bad \"secret\"\n"})");
}

TEST_CASE("Host: required once in HTTP/1.1 (RFC 9112 §3.2), optional in HTTP/1.0") {
  Running s({}, [](Request&&, Respond respond) { respond(Response{}); });
  {
    RawClient c(s.port());
    REQUIRE(c.send("GET / HTTP/1.1\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  {
    RawClient c(s.port());
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  {
    RawClient c(s.port());
    REQUIRE(c.send("GET / HTTP/1.0\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 200);
  }
}
