// Workers: adopting accepted sockets, the deadline sweep, shutdown; and the Respond callable.
#include "http/worker.h"

#include <boost/asio/post.hpp>

#include "http/connection.h"

namespace mandate::http::detail {

namespace {

// The sweep runs often enough that a deadline is overshot by at most about a quarter of the
// shortest timeout, and at least every half second.
Clock::duration sweepPeriod(const Options& o) {
  using namespace std::chrono;
  auto shortest = std::min(o.readTimeout, o.idleTimeout);
  return std::clamp<Clock::duration>(shortest / 4, milliseconds(5), milliseconds(500));
}

}  // namespace

Worker::Worker(std::shared_ptr<Config> c) : config(std::move(c)), sweepEvery(sweepPeriod(config->options)) {
  guard.emplace(ctx.get_executor());
}

Worker::~Worker() {
  // Threads are joined by now. Sockets must go before the io_context they belong to.
  connections.clear();
}

void Worker::adopt(asio::ip::tcp::socket socket) {
  if (stopping) {
    beast::error_code ec;
    socket.close(ec);
    --config->open;
    return;
  }
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // responses are single small writes
  std::shared_ptr<ConnectionBase> c;
  if (config->tls)
    c = std::make_shared<Connection<TlsStream>>(*this, std::move(socket));
  else
    c = std::make_shared<Connection<PlainStream>>(*this, std::move(socket));
  connections.push_front(c);
  c->self_ = connections.begin();
  c->start();
}

void Worker::forget(ConnectionBase& c) {
  --config->open;
  connections.erase(c.self_);  // may destroy c
}

void Worker::beginShutdown() {
  stopping = true;
  for (auto it = connections.begin(); it != connections.end();) {
    auto c = *it++;  // close() removes c from the list
    c->serverStopping();
  }
}

void Worker::closeAll() {
  stopping = true;
  finished = true;
  sweepTimer.cancel();
  while (!connections.empty()) {
    auto c = connections.front();
    c->close();
  }
}

void Worker::armSweep() {
  if (finished) return;
  sweepTimer.expires_after(sweepEvery);
  sweepTimer.async_wait([this](const beast::error_code& ec) {
    if (ec || finished) return;
    const auto now = Clock::now();
    for (auto it = connections.begin(); it != connections.end();) {
      auto c = *it++;
      if (c->deadline() <= now) c->close();
    }
    armSweep();
  });
}

void Worker::deliver(std::weak_ptr<ConnectionBase> connection, Response&& r) {
  bool first;
  {
    std::lock_guard lk(inboxMu);
    first = inbox.empty();
    inbox.emplace_back(std::move(connection), std::move(r));
  }
  // `this` outlives the handler: it runs on ctx, a member, or is destroyed with it unrun.
  if (first) asio::post(ctx, [this] { drainInbox(); });
}

void Worker::drainInbox() {
  {
    std::lock_guard lk(inboxMu);
    draining.swap(inbox);
  }
  for (auto& [connection, r] : draining)
    if (auto c = connection.lock()) c->respond(std::move(r));
  draining.clear();
}

namespace {

struct ResponseSlot {
  std::shared_ptr<Worker> worker;  // keeps the io_context alive for the post below
  std::weak_ptr<ConnectionBase> connection;
  std::atomic<bool> answered{false};

  void send(Response&& r) {
    if (answered.exchange(true)) return;
    // Inline when already on the connection's thread (the usual synchronous handler), queued
    // otherwise. The queue holds only a weak reference: no cycle through the io_context.
    if (worker->ctx.get_executor().running_in_this_thread()) {
      if (auto conn = connection.lock()) conn->respond(std::move(r));
    } else {
      worker->deliver(connection, std::move(r));
    }
  }

  ~ResponseSlot() {
    if (!answered.load()) send(errorResponse(500, "server_error", "the request was not answered"));
  }
};

}  // namespace

Respond makeRespond(std::shared_ptr<Worker> worker, std::weak_ptr<ConnectionBase> connection) {
  auto slot = std::make_shared<ResponseSlot>();
  slot->worker = std::move(worker);
  slot->connection = std::move(connection);
  return [slot = std::move(slot)](Response&& r) { slot->send(std::move(r)); };
}

std::string remoteAddress(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return {};
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

}  // namespace mandate::http::detail
