// bufferedRandomBytes: the request path's CSPRNG draws (token ids, refresh tokens, families).
// Every draw has the asked length, no bytes are handed out twice (within a thread, across a
// refill, across threads), and the output looks uniform.
#include <array>
#include <set>
#include <thread>
#include <vector>

#include "support.h"

using namespace mandate::jose;

TEST_SUITE("jose buffered random") {
  TEST_CASE("the asked length, from the buffer and straight from OpenSSL") {
    CHECK(bufferedRandomBytes(0).empty());
    for (std::size_t n : {1u, 16u, 32u, 1024u, 1025u, 5000u, 100000u}) {
      const std::string a = bufferedRandomBytes(n), b = bufferedRandomBytes(n);
      CHECK(a.size() == n);
      CHECK(b.size() == n);
      if (n >= 16) CHECK(a != b);
    }
  }

  TEST_CASE("no bytes twice: 50,000 draws of 16 bytes in one thread, through a dozen refills") {
    std::set<std::string> seen;
    for (int i = 0; i < 50000; ++i) seen.insert(bufferedRandomBytes(16));
    CHECK(seen.size() == 50000);
    // Draws of sizes that do not divide the buffer: the one that does not fit starts a new one.
    std::set<std::string> odd;
    for (int i = 0; i < 2000; ++i) {
      const std::string s = bufferedRandomBytes(1000);
      REQUIRE(s.size() == 1000);
      odd.insert(s.substr(0, 16));
      odd.insert(s.substr(984));
    }
    CHECK(odd.size() == 4000);
  }

  TEST_CASE("no bytes twice across threads: each has its own buffer") {
    std::vector<std::vector<std::string>> out(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&out, t] {
        for (int i = 0; i < 20000; ++i) out[t].push_back(bufferedRandomBytes(16));
      });
    for (auto& th : threads) th.join();
    std::set<std::string> seen;
    for (const auto& v : out) seen.insert(v.begin(), v.end());
    CHECK(seen.size() == 80000);
  }

  TEST_CASE("uniform bytes: 1 MiB in draws of 16, every byte value 4,096 +- 6 sigma times") {
    std::array<int, 256> count{};
    for (int i = 0; i < 65536; ++i)
      for (unsigned char c : bufferedRandomBytes(16)) ++count[c];
    int low = 1 << 30, high = 0;
    for (int c : count) {
      low = std::min(low, c);
      high = std::max(high, c);
    }
    CHECK(low > 4096 - 6 * 64);
    CHECK(high < 4096 + 6 * 64);
  }
}
