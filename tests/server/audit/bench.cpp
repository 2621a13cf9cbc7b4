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
  // A token decision as the server records it (mandate serve, the reference policies, the
  // token suite's client): requested, granted cells, authorization_details, obligations, the
  // evaluated input frame; 1,448 bytes.
  r.dataJson = R"({"grant_type":"client_credentials","request":{"scope":"read trade"},"requested":{"read":[],"trade":"*"},"decision":{"granted":{"read":[],"trade":["spot","margin","future","perpetual","option","swap","cfd","binary_option","cfd_fx_major","cfd_fx_cftc_major","cfd_fx_minor","cfd_gold","cfd_index_major","cfd_index_minor","cfd_commodity","cfd_equity","cfd_other"]},"authorization_details":[{"type":"trading","actions":["read"]},{"type":"trading","actions":["trade"],"product_classes":["spot"],"limits":{"max_leverage":1}},{"type":"trading","actions":["trade"],"product_classes":["margin"],"limits":{"max_leverage":10}},{"type":"trading","actions":["trade"],"product_classes":["future","perpetual","option","swap","cfd","binary_option","cfd_fx_major","cfd_fx_cftc_major","cfd_fx_minor","cfd_gold","cfd_index_major","cfd_index_minor","cfd_commodity","cfd_equity","cfd_other"],"limits":{"max_leverage":100}}],"scope":"read trade","denied":[],"obligations":{"ttl_cap_s":300},"errors":[]},"token":{"exp":1795703739,"refresh":false},"input":{"client":{"ip_allowlist":["127.0.0.1/32"],"kind":"trading_bot"},"subject":{"appropriateness":[],"category":"professional","ecp":true,"kyc_tier":3,"net_worth_usd":"5000000","onboarded":"2024-01-01T00:00:00Z","residence":"SG","us_person":false},"now":1795703439,"request":{"aal":1,"auth_age":0,"country":"SG","ip":"127.0.0.1","scopes":["read","trade"]},"risk":{"impossible_travel":false,"new_device":false,"score":0}}})";
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
