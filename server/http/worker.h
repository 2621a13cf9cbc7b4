#pragma once
// Internal: one worker = one io_context run by one thread, the connections it owns and the
// timer that enforces their deadlines. A connection lives on one worker for its whole life, so
// its state needs no locks; other threads reach it only by posting to the worker.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "http/server.h"

namespace mandate::http::detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// What every worker shares; kept alive by the workers, which may outlive the Server while a
// handler still holds a Respond.
struct Config {
  Options options;
  Handler handler;
  std::unique_ptr<asio::ssl::context> tls;  // null: plain TCP
  std::atomic<std::size_t> open{0};         // accepted and not yet closed
};

struct Worker;

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  explicit ConnectionBase(Worker& worker) : worker_(worker) {}
  virtual ~ConnectionBase() = default;
  ConnectionBase(const ConnectionBase&) = delete;
  ConnectionBase& operator=(const ConnectionBase&) = delete;

  virtual void start() = 0;
  // All below run on the worker's thread.
  virtual void close() = 0;                   // immediately; idempotent
  virtual void respond(Response&& r) = 0;     // the handler's answer
  virtual void serverStopping() = 0;          // closes the connection if nothing is in flight
  Clock::time_point deadline() const { return deadline_; }

 protected:
  friend struct Worker;
  Worker& worker_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::list<std::shared_ptr<ConnectionBase>>::iterator self_;  // position in worker_.connections
};

struct Worker : std::enable_shared_from_this<Worker> {
  explicit Worker(std::shared_ptr<Config> c);
  ~Worker();

  void adopt(asio::ip::tcp::socket socket);  // on this worker's thread
  void forget(ConnectionBase& c);            // on close: drops the owning reference
  void beginShutdown();                      // close idle connections; later ones close after answering
  void closeAll();                           // end of grace: close everything, stop the timer
  void armSweep();
  // From another thread: queues the answer and, if the inbox was empty, posts one drain. A burst
  // of answers from one thread (the audit log completes a whole committed batch) costs the
  // io_context one handler instead of one per answer.
  void deliver(std::weak_ptr<ConnectionBase> connection, Response&& r);

  std::shared_ptr<Config> config;
  asio::io_context ctx{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  asio::steady_timer sweepTimer{ctx};
  Clock::duration sweepEvery;
  std::list<std::shared_ptr<ConnectionBase>> connections;  // the owners of open connections
  bool stopping = false;
  bool finished = false;

 private:
  void drainInbox();
  std::mutex inboxMu;
  std::vector<std::pair<std::weak_ptr<ConnectionBase>, Response>> inbox;  // guarded by inboxMu
  std::vector<std::pair<std::weak_ptr<ConnectionBase>, Response>> draining;  // this thread's; keeps its capacity
};

// Builds the Respond given to the handler: callable from any thread, at most once counts, safe
// after the connection or the server is gone; if every copy is dropped unanswered, the client
// gets a 500 instead of waiting forever.
Respond makeRespond(std::shared_ptr<Worker> worker, std::weak_ptr<ConnectionBase> connection);

}  // namespace mandate::http::detail
