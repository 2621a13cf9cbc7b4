#pragma once
// Time and randomness are injected so that server logic is deterministic under test.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace mandate::oauth {

struct Clock {
  virtual ~Clock() = default;
  virtual std::int64_t nowMs() const = 0;  // Unix time, milliseconds
};

struct SystemClock final : Clock {
  std::int64_t nowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// n random bytes from a CSPRNG (production: OpenSSL RAND_bytes).
using RandomSource = std::function<std::string(std::size_t n)>;

}  // namespace mandate::oauth
