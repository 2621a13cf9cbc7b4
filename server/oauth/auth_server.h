#pragma once
// The authorization server: routes HTTP requests to the endpoints, owns the caches and runs the
// poller that keeps them in step with the store (admin CLI changes, key activation times).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "audit/audit_log.h"
#include "http/server.h"
#include "oauth/audit_events.h"
#include "oauth/context.h"
#include "oauth/sign_ahead.h"

namespace mandate::oauth {

class AuthServer {
 public:
  AuthServer(Config config, store::Store& store, PolicyHolder& policy, const Clock& clock, RandomSource random);
  ~AuthServer();

  // Fills the caches and starts the poller and the signature precomputation ([tokens]
  // precompute_signatures). Throws StoreError if the store cannot be read.
  void start();
  void stop();
  void setIssuer(const std::string& issuer) { ctx_.setIssuer(issuer); }
  const std::string& issuer() const { return ctx_.issuer; }
  void setConnectionCounter(std::function<std::size_t()> f) { connections_ = std::move(f); }
  // The audit trail (null: audit off). Set before start(); it must outlive every request, and
  // be closed before this server is destroyed (its completions call back into it).
  void setAudit(audit::AuditLog* log, std::string policySource);

  // Answers a request; an audited one only once its record is durable (from the audit log's
  // completion thread), or 503 when the record could not be made durable.
  void handle(http::Request&& req, http::Respond respond);
  http::Response route(const http::Request& req, AuditSlot& audit);  // synchronous core of handle()

  // Policy reload (SIGHUP, `mandate policy reload`): logged, counted, audited, old bundle kept on
  // failure.
  bool reloadPolicy(std::string& error);
  // Checks the store for changes now, and truncates its WAL when [store] wal_truncate_interval_s
  // has passed on the injected clock since the last truncation (the poller does this every 250 ms).
  void pollStore();
  std::uint64_t walTruncations() const { return walTruncations_.load(); }  // completed, for tests
  Metrics& metrics() { return metrics_; }

 private:
  Directory directory_;
  KeyRing keys_;
  Metrics metrics_;
  Context ctx_;
  std::function<std::size_t()> connections_;
  std::atomic<std::int64_t> lastVersion_{-1};
  std::atomic<bool> storeOk_{true};
  audit::AuditLog* audit_ = nullptr;
  std::string policySource_;
  std::atomic<bool> auditOk_{true};
  std::atomic<std::int64_t> lastAuditLogMs_{-1'000'000};
  std::string requestIdPrefix_;
  std::atomic<std::uint64_t> requestCounter_{0};
  void auditOutcome(bool durable, const std::string& error);
  void truncateStoreJournalIfDue();
  static constexpr std::int64_t kWalTruncateRetryMs = 10'000;
  std::atomic<std::int64_t> nextWalTruncateMs_{0};
  std::atomic<std::uint64_t> walTruncations_{0};
  std::unique_ptr<SignAhead> signAhead_;
  std::thread poller_;
  std::mutex pollMutex_;
  std::condition_variable pollCv_;
  bool stopping_ = false;
};

}  // namespace mandate::oauth
