#pragma once
// The authorization server: routes HTTP requests to the endpoints, owns the caches and runs the
// poller that keeps them in step with the store (admin CLI changes, key activation times).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "http/server.h"
#include "oauth/context.h"

namespace mandate::oauth {

class AuthServer {
 public:
  AuthServer(Config config, store::Store& store, PolicyHolder& policy, const Clock& clock, RandomSource random);
  ~AuthServer();

  // Fills the caches and starts the poller. Throws StoreError if the store cannot be read.
  void start();
  void stop();
  void setIssuer(const std::string& issuer) { ctx_.setIssuer(issuer); }
  const std::string& issuer() const { return ctx_.issuer; }
  void setConnectionCounter(std::function<std::size_t()> f) { connections_ = std::move(f); }

  void handle(http::Request&& req, http::Respond respond);
  http::Response route(const http::Request& req);  // synchronous core of handle()

  // Policy reload (SIGHUP, `mandate policy reload`): logged, counted, old bundle kept on failure.
  bool reloadPolicy(std::string& error);
  // Checks the store for changes now (the poller does this every 250 ms).
  void pollStore();
  Metrics& metrics() { return metrics_; }

 private:
  Directory directory_;
  KeyRing keys_;
  Metrics metrics_;
  Context ctx_;
  std::function<std::size_t()> connections_;
  std::atomic<std::int64_t> lastVersion_{-1};
  std::atomic<bool> storeOk_{true};
  std::thread poller_;
  std::mutex pollMutex_;
  std::condition_variable pollCv_;
  bool stopping_ = false;
};

}  // namespace mandate::oauth
