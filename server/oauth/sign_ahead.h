#pragma once
// Keeps the signing key stocked with precomputed ES256 signature values (jose::Key::
// precomputeSignatures) from a thread scheduled SCHED_IDLE: it runs only when no other thread of
// the machine wants the CPU (a core idle while requests wait on audit commits, or between
// requests), so it never takes time from a request, and a token signed with a precomputed value
// spends ~0.5 µs on its signature instead of ~22. Under saturation it gets no CPU and tokens are
// signed whole, as without it. docs/performance.md has the figures.
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "oauth/keyring.h"

namespace mandate::oauth {

class SignAhead {
 public:
  // `target`: values to keep ready for the key that signs now (0: the thread is not started).
  SignAhead(const KeyRing& keys, std::size_t target) : keys_(keys), target_(target) {}
  ~SignAhead() { stop(); }
  SignAhead(const SignAhead&) = delete;
  SignAhead& operator=(const SignAhead&) = delete;

  void start();
  void stop();

 private:
  void run();
  const KeyRing& keys_;
  std::size_t target_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mandate::oauth
