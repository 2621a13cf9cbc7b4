// Opening: migrations, file mode, refusal of newer schemas, and files that are not a store.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

namespace {

std::string openError(const std::string& path) {
  try {
    auto st = openSqliteStore(path);
    // Opening may be lazy about some damage: the first reads must then fail cleanly.
    (void)st->listClients();
    (void)st->listSubjects();
    (void)st->configVersion();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a fresh database gets every migration once, WAL mode and owner-only permissions") {
  TempDir dir;
  const auto path = dir.file("m.db");
  {
    auto st = openSqliteStore(path);
    st->putSubject({"acct-1", "{}", 1, 1});
    // The WAL and its index exist while a connection is open; SQLite gives them the file's mode.
    for (const char* suffix : {"", "-wal", "-shm"}) {
      struct stat sb {};
      REQUIRE_MESSAGE(::stat((path + suffix).c_str(), &sb) == 0, suffix);
      CHECK_MESSAGE((sb.st_mode & 0777) == 0600, suffix);
    }
  }

  RawDb raw(path);
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  auto latest = raw.integer("SELECT max(version) FROM schema_migrations");
  CHECK(latest >= 1);
  CHECK(raw.integer("SELECT count(*) FROM schema_migrations") == latest);
  CHECK(raw.integer("SELECT min(applied_at) FROM schema_migrations") > 1'700'000'000'000);
  for (const char* table : {"subjects", "clients", "signing_keys", "refresh_tokens", "refresh_families",
                            "assertion_jtis", "revoked_access_tokens", "config_version"})
    CHECK_MESSAGE(raw.integer(std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '") +
                              table + "'") == 1,
                  table);
}

TEST_CASE("reopening is a no-op for the schema and keeps the data") {
  TempDir dir;
  const auto path = dir.file("m.db");
  {
    auto st = openSqliteStore(path);
    st->putSubject({"acct-1", "{}", 1, 1});
  }
  std::string before;
  {
    RawDb raw(path);
    before = raw.text("SELECT group_concat(version || ':' || applied_at) FROM schema_migrations");
  }
  auto st = openSqliteStore(path);
  CHECK(st->getSubject("acct-1").has_value());
  RawDb raw(path);
  CHECK(raw.text("SELECT group_concat(version || ':' || applied_at) FROM schema_migrations") == before);
}

TEST_CASE("a database from a newer schema version is refused") {
  TempDir dir;
  const auto path = dir.file("m.db");
  { auto st = openSqliteStore(path); }
  {
    RawDb raw(path);
    raw.exec("INSERT INTO schema_migrations (version, applied_at) SELECT max(version) + 1, 0 FROM schema_migrations");
  }
  auto err = openError(path);
  CHECK(err.find("newer") != std::string::npos);
  CHECK(err.find("schema version") != std::string::npos);
}

TEST_CASE("files that are not a usable store give StoreError, not a crash") {
  TempDir dir;

  SUBCASE("text file") {
    const auto path = dir.file("text.db");
    std::ofstream(path) << "this is not a database, just some text long enough to look like a header\n";
    auto err = openError(path);
    CHECK(err.find("not a database") != std::string::npos);
  }
  SUBCASE("damaged schema page") {
    const auto path = dir.file("m.db");
    {
      auto st = openSqliteStore(path);
      REQUIRE(st->insertClient(sampleClient("bot-1")));
    }
    {
      RawDb raw(path);
      raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // everything into the main file
    }
    // Overwrite page 1 after the 100-byte file header: the schema table's b-tree page.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    std::string junk(3000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    f.close();
    CHECK_FALSE(openError(path).empty());
  }
  SUBCASE("damaged data pages") {
    const auto path = dir.file("m.db");
    {
      auto st = openSqliteStore(path);
      for (int i = 0; i < 200; ++i) REQUIRE(st->insertClient(sampleClient("bot-" + std::to_string(i))));
    }
    {
      RawDb raw(path);
      raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    auto size = std::filesystem::file_size(path);
    REQUIRE(size > 8 * 4096);
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uintmax_t off = 4096; off + 4096 <= size; off += 4096) {
      f.seekp(static_cast<std::streamoff>(off));
      std::string junk(4096, '\xff');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    f.close();
    CHECK_FALSE(openError(path).empty());
  }
  SUBCASE("a directory") {
    CHECK_FALSE(openError(dir.path().string()).empty());
  }
  SUBCASE("a missing parent directory") {
    auto err = openError(dir.file("missing/m.db"));
    CHECK(err.find("missing/m.db") != std::string::npos);
  }
}

TEST_CASE("SQLite keeps no memory statistics (no global mutex on every allocation)") {
  TempDir dir;
  auto st = openSqliteStore(dir.file("mandate.db"));
  (void)st->listClients();
  sqlite3_int64 used = -1, highwater = -1;
  REQUIRE(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &highwater, 0) == SQLITE_OK);
  // With statistics on, the open connection's caches alone would count here.
  CHECK(used == 0);
}
