// Durable audit records per second with 1, 8 and 64 concurrent appenders (not a test).
// Each appender waits for its record to be durable before appending the next, as a request
// waits for its record before its response: group commit is what lets many share one fsync.
// Usage: audit_bench [dir] [seconds per run] [appenders,...]
//   dir: where the databases go (default /tmp); appenders default 1,8,64
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.h"

using namespace mandate::audit;

namespace {

Record record(int t, long i) {
  Record r;
  r.type = "token.issued";
  r.actor = {"bot-" + std::to_string(t), "acct-" + std::to_string(t), ""};
  r.requestId = "req-" + std::to_string(t) + "-" + std::to_string(i);
  r.sourceIp = "10.0.0.1";
  // About the size of a token decision: granted cells, no denials, obligations, the input frame.
  r.dataJson = R"({"granted":[{"actions":["read"]},{"actions":["trade"],"product_classes":["spot","margin","future","perpetual","option"],"limits":{"max_leverage":10}}],"denied":[],"obligations":{"aal":1,"ttl_cap_s":300},"errors":[],"input":{"subject":{"kyc_tier":3,"residence":"SG","category":"professional","us_person":false,"ecp":true,"net_worth_usd":"5000000"},"client":{"kind":"trading_bot","ip_allowlist":["127.0.0.1/32"]},"request":{"ip":"127.0.0.1","scopes":["read","trade"],"aal":1,"auth_age":0,"country":"SG"},"risk":{"score":0,"flags":[]},"now":"2026-11-26T10:00:00Z"}})";
  r.policyHash = "sha256:b52c5e0a4c3b1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddcc";
  r.jti = "jti-" + std::to_string(t) + "-" + std::to_string(i);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string base = argc > 1 ? argv[1] : "/tmp";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::string dir = base + "/audit-bench-XXXXXX";
  if (!::mkdtemp(dir.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  std::vector<int> counts{1, 8, 64};
  if (argc > 3) {
    counts.clear();
    for (const char* p = argv[3]; *p;) {
      char* end = nullptr;
      counts.push_back(static_cast<int>(std::strtol(p, &end, 10)));
      p = *end == ',' ? end + 1 : end;
      if (counts.back() <= 0) return 2;
    }
  }
  for (int appenders : counts) {
    const std::string path = dir + "/audit-" + std::to_string(appenders) + ".db";
    auto log = AuditLog::open(path);
    std::atomic<bool> stop{false};
    std::atomic<long> durable{0}, failed{0};
    std::vector<std::thread> threads;
    auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < appenders; ++t)
      threads.emplace_back([&, t] {
        for (long i = 0; !stop; ++i) {
          std::promise<bool> p;
          log->append(record(t, i), [&p](bool ok, std::string) { p.set_value(ok); });
          (p.get_future().get() ? durable : failed)++;
        }
      });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : threads) th.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto st = log->status();
    std::printf("appenders=%d durable_records_per_s=%.0f records=%ld failed=%ld transactions=%llu records_per_tx=%.1f\n",
                appenders, durable / secs, durable.load(), failed.load(),
                static_cast<unsigned long long>(st.batches),
                st.batches ? static_cast<double>(durable) / static_cast<double>(st.batches) : 0.0);
    std::fflush(stdout);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
