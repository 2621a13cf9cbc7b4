// Throughput of the SQLite store on this machine (figures, not a test):
//   store_bench [directory]   (default /tmp; the file system matters for synchronous=FULL commits)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

using namespace mandate::store;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double perSecond(int n, F&& f) {
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) f(i);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return n / s;
}

// Total rate of `threads` threads each calling f(thread, i) n times.
template <class F>
double perSecondThreads(int threads, int n, F&& f) {
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < n; ++i) f(t, i);
    });
  for (auto& t : ts) t.join();
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return threads * n / s;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = argc > 1 ? argv[1] : "/tmp";
  auto path = dir / ("mandate-store-bench-" + std::to_string(::getpid()) + ".db");
  {
    auto st = openSqliteStore(path.string());
    constexpr int kRows = 1000;
    for (int i = 0; i < kRows; ++i) {
      st->putSubject({"acct-" + std::to_string(i), R"({"kyc_tier":2,"residence":"DE","pep":false})", 1, 1});
      Client c;
      c.id = "bot-" + std::to_string(i);
      c.subject = "acct-" + std::to_string(i);
      c.grants = {"client_credentials", "refresh_token"};
      c.authMethod = "client_secret_basic";
      c.secretHash = std::string(64, 'a');
      c.scope = "trade read";
      c.ipAllowlist = {"10.0.0.0/8"};
      st->insertClient(c);
    }
    std::size_t sink = 0;
    double clients = perSecond(200'000, [&](int i) { sink += st->getClient("bot-" + std::to_string(i % kRows))->scope.size(); });
    double subjects =
        perSecond(200'000, [&](int i) { sink += st->getSubject("acct-" + std::to_string(i % kRows))->attrsJson.size(); });
    double version = perSecond(200'000, [&](int) { sink += static_cast<std::size_t>(st->configVersion()); });
    double jtis = perSecond(2'000, [&](int i) { sink += st->recordAssertionJti("bot-1", "jti-" + std::to_string(i), std::int64_t{1} << 50, 1); });
    double clients2 = perSecondThreads(2, 100'000, [&](int, int i) {
      if (!st->getClient("bot-" + std::to_string(i % kRows))) std::abort();
    });
    double jtis4 = perSecondThreads(4, 500, [&](int t, int i) {
      st->recordAssertionJti("bot-" + std::to_string(t), "jti-" + std::to_string(i), std::int64_t{1} << 50, 1);
    });
    std::printf("getClient          %10.0f /s\n", clients);
    std::printf("getSubject         %10.0f /s\n", subjects);
    std::printf("configVersion      %10.0f /s\n", version);
    std::printf("recordAssertionJti %10.0f /s  (synchronous=FULL, one fsync'd commit each, %s)\n", jtis,
                dir.c_str());
    std::printf("getClient, 2 threads          %10.0f /s total\n", clients2);
    std::printf("recordAssertionJti, 4 threads %10.0f /s total\n", jtis4);
    if (sink == 0) std::puts("");
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}
