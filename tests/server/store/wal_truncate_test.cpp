// Store::truncateJournal, the server's periodic wal_checkpoint(TRUNCATE) (security.md,
// Durability): the WAL goes back to zero bytes with nothing lost, and busy connections (a reader on
// an older snapshot, another process's writer) make it give up at once rather than wait.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>

#include "store_test_util.h"

using namespace mandate::store;
using namespace mandate::store::test;

namespace {

std::uintmax_t walBytes(const std::string& db) {
  std::error_code ec;
  auto n = std::filesystem::file_size(db + "-wal", ec);
  return ec ? 0 : n;
}

void putSubjects(Store& st, int from, int to) {
  for (int i = from; i < to; ++i) st.putSubject({"acct-" + std::to_string(i), R"({"tier":2})", 1, 1});
}

}  // namespace

TEST_CASE("truncateJournal checkpoints the WAL into the database and truncates it to zero bytes") {
  TempDir dir;
  const auto path = dir.file("m.db");
  auto st = openSqliteStore(path);
  putSubjects(*st, 0, 300);
  CHECK(walBytes(path) > 0);
  CHECK(st->truncateJournal());
  CHECK(walBytes(path) == 0);
  // Everything is in the database file itself now: a copy of it alone has every row.
  std::filesystem::copy_file(path, dir.file("copy.db"));
  RawDb copy(dir.file("copy.db"));
  CHECK(copy.integer("SELECT count(*) FROM subjects") == 300);
  // The store goes on writing and reading.
  putSubjects(*st, 300, 310);
  CHECK(st->listSubjects().size() == 310);
  CHECK(walBytes(path) > 0);
  CHECK(st->truncateJournal());
  CHECK(walBytes(path) == 0);
}

TEST_CASE("truncateJournal gives up at once while a reader holds an older snapshot; writes go on") {
  TempDir dir;
  const auto path = dir.file("m.db");
  auto st = openSqliteStore(path);
  putSubjects(*st, 0, 10);
  RawDb reader(path);
  reader.exec("BEGIN");
  CHECK(reader.integer("SELECT count(*) FROM subjects") == 10);
  putSubjects(*st, 10, 50);
  CHECK_FALSE(st->truncateJournal());
  CHECK(walBytes(path) > 0);
  putSubjects(*st, 50, 60);
  CHECK(st->listSubjects().size() == 60);
  CHECK(reader.integer("SELECT count(*) FROM subjects") == 10);
  reader.exec("COMMIT");
  CHECK(st->truncateJournal());
  CHECK(walBytes(path) == 0);
  CHECK(st->listSubjects().size() == 60);
}

TEST_CASE("truncateJournal does not wait out the busy timeout for another process's write transaction") {
  TempDir dir;
  const auto path = dir.file("m.db");
  auto st = openSqliteStore(path);
  putSubjects(*st, 0, 10);
  RawDb other(path);
  other.exec("BEGIN IMMEDIATE");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(st->truncateJournal());
  // The store's busy timeout is 5 s; waiting it out would hold this process's writers too.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2500));
  other.exec("COMMIT");
  CHECK(st->truncateJournal());
  CHECK(walBytes(path) == 0);
}
