// Server configuration: defaults, files (TOML and JSON), environment, and refusals.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "oauth/config.h"

using mandate::oauth::Config;

namespace {
std::string writeTemp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("mandate-config-test-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("config: embedded defaults give a working server on 127.0.0.1:8080") {
  Config c;
  std::string error;
  REQUIRE(mandate::oauth::finishConfig(c, error));
  CHECK(c.http.host == "127.0.0.1");
  CHECK(c.http.port == 8080);
  CHECK(c.issuer == "http://127.0.0.1:8080");
  CHECK(c.dataDir == "./mandate-data");
  CHECK(c.http.maxHeaderBytes == 8192);
  CHECK(c.http.maxBodyBytes == 65536);
}

TEST_CASE("config: a TOML file sets nested settings; unknown keys and bad values are refused by name") {
  Config c;
  std::string error;
  auto path = writeTemp("a.toml", R"(
listen = "0.0.0.0:9443"
issuer = "https://auth.venue.example/"
threads = 4
[limits]
max_body_bytes = 32768
idle_timeout_ms = 5000
[tokens]
max_access_ttl_s = 600
)");
  REQUIRE_MESSAGE(mandate::oauth::applyConfigFile(path, c, error), error);
  REQUIRE(mandate::oauth::finishConfig(c, error));
  CHECK(c.http.port == 9443);
  CHECK(c.issuer == "https://auth.venue.example");  // trailing slash dropped
  CHECK(c.http.threads == 4);
  CHECK(c.http.maxBodyBytes == 32768);
  CHECK(c.http.idleTimeout.count() == 5000);
  CHECK(c.tokens.maxAccessTtlS == 600);

  Config d;
  CHECK_FALSE(mandate::oauth::applyConfigFile(writeTemp("b.toml", "[limits]\nmax_body_byte = 1\n"), d, error));
  CHECK(error.find("limits.max_body_byte") != std::string::npos);
  CHECK(error.find("unknown setting") != std::string::npos);
  CHECK_FALSE(mandate::oauth::applyConfigFile(writeTemp("c.toml", "threads = \"many\"\n"), d, error));
  CHECK(error.find("threads") != std::string::npos);
  CHECK_FALSE(mandate::oauth::applyConfigFile(writeTemp("d.toml", "listen = \n"), d, error));
  CHECK(error.find("d.toml:1") != std::string::npos);
  CHECK_FALSE(mandate::oauth::applyConfigFile("/nonexistent/file.toml", d, error));

  Config j;
  REQUIRE(mandate::oauth::applyConfigFile(writeTemp("e.json", R"({"tokens":{"clock_skew_s":5}})"), j, error));
  CHECK(j.tokens.clockSkewS == 5);

  Config w;
  CHECK(w.tokens.precomputeSignatures == 1024);
  REQUIRE(mandate::oauth::applyConfigFile(writeTemp("p.toml", "[tokens]\nprecompute_signatures = 0\n"), w, error));
  CHECK(w.tokens.precomputeSignatures == 0);
  CHECK_FALSE(mandate::oauth::applyConfigFile(writeTemp("q.toml", "[tokens]\nprecompute_signatures = -1\n"), w, error));
  CHECK(error.find("tokens.precompute_signatures") != std::string::npos);
  CHECK(w.store.walTruncateIntervalS == 300);
  REQUIRE(mandate::oauth::applyConfigFile(writeTemp("f.toml", "[store]\nwal_truncate_interval_s = 60\n"), w, error));
  CHECK(w.store.walTruncateIntervalS == 60);
  CHECK_FALSE(mandate::oauth::applyConfigFile(writeTemp("g.toml", "[store]\nwal_truncate_interval_s = 0\n"), w, error));
  CHECK(error.find("store.wal_truncate_interval_s") != std::string::npos);
}

TEST_CASE("config: environment over file, and --listen / --issuer validation") {
  Config c;
  std::string error;
  ::setenv("MANDATE_LISTEN", "127.0.0.1:0", 1);
  ::setenv("MANDATE_THREADS", "2", 1);
  REQUIRE(mandate::oauth::applyEnvironment(c, error));
  ::unsetenv("MANDATE_LISTEN");
  CHECK(c.listen == "127.0.0.1:0");
  CHECK(c.http.threads == 2);
  ::setenv("MANDATE_THREADS", "lots", 1);
  CHECK_FALSE(mandate::oauth::applyEnvironment(c, error));
  ::unsetenv("MANDATE_THREADS");

  for (const char* bad : {"nohost", ":80", "host:99999", "host:x", "[::1"}) {
    Config b;
    b.listen = bad;
    CHECK_FALSE(mandate::oauth::finishConfig(b, error));
  }
  Config v6;
  v6.listen = "[::1]:8080";
  REQUIRE(mandate::oauth::finishConfig(v6, error));
  CHECK(v6.http.host == "::1");
  Config q;
  q.issuer = "https://as.example/?x=1";
  CHECK_FALSE(mandate::oauth::finishConfig(q, error));
  Config f;
  f.issuer = "ftp://as.example";
  CHECK_FALSE(mandate::oauth::finishConfig(f, error));
}
