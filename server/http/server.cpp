// Server: binding, the accept loop, worker threads and graceful shutdown.
//
// Threading: one io_context per worker thread (not one shared io_context run by N threads):
// a connection stays on one thread, so it needs no strand and its worker's data no locks. The
// acceptor lives on worker 0 and hands sockets out round-robin.
#include <pthread.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/server.h"
#include "http/tls.h"
#include "http/worker.h"

namespace mandate::http {

using detail::Clock;
using detail::Worker;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Impl {
  std::shared_ptr<detail::Config> config = std::make_shared<detail::Config>();
  std::vector<std::shared_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;   // on workers[0]
  std::optional<asio::steady_timer> retry;  // accept back-off (out of file descriptors)
  std::size_t nextWorker = 0;
  std::uint16_t port = 0;

  std::mutex mutex;
  std::condition_variable cv;
  bool started = false, stopping = false, stopped = false;

  void accept();
  void stopNow();
};

void Server::Impl::accept() {
  auto worker = workers[nextWorker++ % workers.size()];
  acceptor->async_accept(worker->ctx, [this, worker](const boost::system::error_code& ec, tcp::socket socket) {
    if (!acceptor->is_open()) return;  // stop() closed it
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS would fail again at once: wait before the next attempt.
      retry->expires_after(std::chrono::milliseconds(50));
      retry->async_wait([this](const boost::system::error_code& e) {
        if (!e && acceptor->is_open()) accept();
      });
      return;
    }
    if (config->open.load() >= config->options.maxConnections) {
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      ++config->open;
      asio::post(worker->ctx, [worker, s = std::move(socket)]() mutable { worker->adopt(std::move(s)); });
    }
    accept();
  });
}

Server::Server(Options options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->config->options = std::move(options);
  impl_->config->handler = std::move(handler);
}

Server::~Server() { stop(); }

bool Server::start(std::string& error) {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.mutex);
    if (im.started || im.stopping) {
      error = "the server was already started";
      return false;
    }
  }
  auto& o = im.config->options;
  if (!o.tlsCertFile.empty() || !o.tlsKeyFile.empty()) {
    if (o.tlsCertFile.empty() || o.tlsKeyFile.empty()) {
      error = "TLS needs both a certificate and a key file";
      return false;
    }
    im.config->tls = detail::makeTlsContext(o, error);
    if (!im.config->tls) return false;
  }
  unsigned n = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) im.workers.push_back(std::make_shared<Worker>(im.config));

  boost::system::error_code ec;
  tcp::endpoint endpoint;
  if (auto address = asio::ip::make_address(o.host, ec); !ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {
    // A name ("localhost"): its first address.
    tcp::resolver resolver(im.workers[0]->ctx);
    auto results = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      error = "bad listen address '" + o.host + "': " + (ec ? ec.message() : "no address");
      im.workers.clear();
      return false;
    }
    endpoint = results.begin()->endpoint();
  }
  im.acceptor.emplace(im.workers[0]->ctx);
  im.retry.emplace(im.workers[0]->ctx);
  auto fail = [&](const char* what) {
    error = std::string(what) + " " + endpoint.address().to_string() + ":" + std::to_string(o.port) + ": " + ec.message();
    im.retry.reset();
    im.acceptor.reset();
    im.workers.clear();
    return false;
  };
  im.acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open");
  im.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("cannot configure");
  im.acceptor->bind(endpoint, ec);
  if (ec) return fail("cannot bind");
  im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  im.port = im.acceptor->local_endpoint(ec).port();

  {
    std::lock_guard lock(im.mutex);
    im.started = true;
  }
  for (auto& w : im.workers) asio::post(w->ctx, [w] { w->armSweep(); });
  asio::post(im.workers[0]->ctx, [&im] { im.accept(); });
  for (auto& w : im.workers)
    im.threads.emplace_back([w] {
      pthread_setname_np(pthread_self(), "mandate-http");  // for top -H and perf
      for (;;) {
        try {
          w->ctx.run();
          return;
        } catch (...) {
          // Handlers catch their own errors; an escaped exception must not kill the server.
        }
      }
    });
  return true;
}

std::uint16_t Server::port() const { return impl_->port; }

std::size_t Server::openConnections() const { return impl_->config->open.load(); }

void Server::stop() {
  auto& im = *impl_;
  {
    std::unique_lock lock(im.mutex);
    if (im.stopping) {
      im.cv.wait(lock, [&] { return im.stopped; });
      return;
    }
    im.stopping = true;
    if (!im.started) {
      im.stopped = true;
      im.cv.notify_all();
      return;
    }
  }
  im.stopNow();
  std::lock_guard lock(im.mutex);
  im.stopped = true;
  im.cv.notify_all();
}

void Server::Impl::stopNow() {
  asio::post(workers[0]->ctx, [this] {
    boost::system::error_code ignored;
    acceptor->close(ignored);
    retry->cancel();
  });
  for (auto& w : workers) asio::post(w->ctx, [w] { w->beginShutdown(); });
  // In-flight requests are answered (each of those connections then closes); a handler that
  // has not answered by the end of the grace period loses its connection.
  const auto deadline = Clock::now() + config->options.shutdownGrace;
  while (config->open.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (auto& w : workers) {
    asio::post(w->ctx, [w] { w->closeAll(); });
    w->guard.reset();
  }
  for (auto& t : threads) t.join();
  threads.clear();
  // Work still queued (a late Respond, an accept that raced the close) never runs; whatever
  // connection it held is released here or when the last Respond is dropped.
  for (auto& w : workers) w->connections.clear();
  config->open = 0;
}

void Server::wait() {
  auto& im = *impl_;
  std::unique_lock lock(im.mutex);
  im.cv.wait(lock, [&] { return im.stopped || !im.started; });
}

}  // namespace mandate::http
