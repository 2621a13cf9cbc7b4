#include "oauth/sign_ahead.h"

#include <pthread.h>
#include <sched.h>

#include <chrono>

#include "oauth/log.h"

namespace mandate::oauth {
namespace {

// Values computed per look at the key and at the stop flag (~20 µs of CPU each). Few, because a
// SCHED_IDLE thread on busy cores gets a tiny share of them: stop() waits for the batch in hand,
// and a key replaced by rotation or refresh is let go after it.
constexpr std::size_t kBatch = 4;
// With the stock full, how often to look again: at 25,000 tokens/s, 5 ms uses ~125 values.
constexpr auto kFullPause = std::chrono::milliseconds(5);

}  // namespace

void SignAhead::start() {
  if (target_ == 0 || thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void SignAhead::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SignAhead::run() {
  pthread_setname_np(pthread_self(), "sign-ahead");  // for top -H and perf
  sched_param param{};
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0) {
    // Without SCHED_IDLE this thread would compete with requests for the CPU: better none.
    logEvent(Level::Warn, "cannot schedule the signature precomputation thread SCHED_IDLE; precomputation off");
    return;
  }
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    // Pause when the stock is full, and also when nothing could be added (a key that is not
    // ES256, or an OpenSSL failure): the thread never spins.
    bool added = false;
    if (auto snap = keys_.current(); snap && snap->signing) added = snap->signing->precomputeSignatures(target_, kBatch) > 0;
    lock.lock();
    if (!added) cv_.wait_for(lock, kFullPause, [this] { return stopping_; });
  }
}

}  // namespace mandate::oauth
