// The verifier against each kind of tampering, done as an attacker with file access would: on a
// copy of a closed log, with the sqlite3 API, dropping the append-only triggers first.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "audit/checkpoint.h"
#include "audit/export.h"
#include "audit/record_hash.h"
#include "audit/verify.h"
#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

namespace {

// A closed log of 30 records with checkpoints at 10, 20 and 30, and a copy to tamper with.
struct Fixture {
  TempDir dir;
  std::string original = dir.file("audit.db");
  std::string copy = dir.file("copy.db");
  std::string anchor = dir.file("anchored-checkpoint.txt");
  std::string key;
  Fixture() {
    Options opt;
    opt.checkpointEvery = 10;
    opt.checkpointInterval = std::chrono::hours(1);
    {
      auto log = AuditLog::open(original, opt);
      key = log->checkpointPublicKey();
      for (int i = 1; i <= 30; ++i) log->appendSync(sampleRecord(i));
    }
    // Closed: the WAL is checkpointed into the main file, so a file copy is the whole log.
    std::filesystem::copy_file(original, copy);
    std::filesystem::copy_file(dir.file(kCheckpointFileName), anchor);
  }
  VerifyReport check(bool withAnchor = false) { return verify(copy, {withAnchor ? anchor : "", key}); }
};

// Recomputes and stores the hash of record `seq` from its (possibly altered) fields: an attacker
// who read docs/audit.md.
void rehash(RawDb& raw, const std::string& path, std::uint64_t seq) {
  auto r = show(path, seq);
  REQUIRE(r);
  std::string h = recordHash(*r);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(raw.handle(), "UPDATE records SET hash = ?1 WHERE seq = ?2", -1, &s, nullptr);
  sqlite3_bind_blob(s, 1, h.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(seq));
  REQUIRE(sqlite3_step(s) == SQLITE_DONE);
  sqlite3_finalize(s);
}

}  // namespace

TEST_CASE("tamper: an untampered log verifies, with its checkpoints and the anchored file") {
  Fixture f;
  auto rep = f.check(true);
  CHECK_MESSAGE(rep.ok(), rep.detail);
  CHECK(rep.records == 30);
  CHECK(rep.checkpoints == 4);
  CHECK(rep.head == show(f.copy, 30)->hash);
  CHECK(verify(f.original).ok());  // the database's own key when none is pinned
}

TEST_CASE("tamper: modification of a field is caught at that record") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec(R"(UPDATE records SET data = '{"permissions":"all"}' WHERE seq = 12)");
  }
  auto rep = f.check();
  CHECK(rep.kind == Tamper::Modified);
  CHECK(rep.firstBadSeq == 12);
  CHECK(rep.records == 11);
}

TEST_CASE("tamper: modification with the hash recomputed is caught by the next record's link") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("UPDATE records SET source_ip = '203.0.113.9' WHERE seq = 12");
    rehash(raw, f.copy, 12);
  }
  auto rep = f.check();
  CHECK(rep.kind == Tamper::Modified);
  CHECK(rep.firstBadSeq == 12);
}

TEST_CASE("tamper: modification with the hash recomputed, of the record a checkpoint signed") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("UPDATE records SET jti = 'other' WHERE seq = 20");
    rehash(raw, f.copy, 20);
  }
  auto rep = f.check();
  CHECK(rep.kind == Tamper::Modified);
  CHECK(rep.firstBadSeq == 20);
}

TEST_CASE("tamper: deletion leaves a gap in the sequence") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("DELETE FROM records WHERE seq IN (7, 8)");
  }
  auto rep = f.check();
  CHECK(rep.kind == Tamper::Deleted);
  CHECK(rep.firstBadSeq == 7);
  CHECK(rep.detail.find("7..8") != std::string::npos);
}

TEST_CASE("tamper: deletion of the first record, and deletion with the rest renumbered") {
  SUBCASE("first record") {
    Fixture f;
    {
      RawDb raw(f.copy);
      raw.dropTriggers();
      raw.exec("DELETE FROM records WHERE seq = 1");
    }
    auto rep = f.check();
    CHECK(rep.kind == Tamper::Deleted);
    CHECK(rep.firstBadSeq == 1);
  }
  SUBCASE("renumbered to close the gap") {
    Fixture f;
    {
      RawDb raw(f.copy);
      raw.dropTriggers();
      raw.exec("DELETE FROM records WHERE seq = 15");
      for (int s = 16; s <= 30; ++s) raw.exec("UPDATE records SET seq = " + std::to_string(s - 1) + " WHERE seq = " + std::to_string(s));
    }
    auto rep = f.check();
    CHECK(rep.kind == Tamper::Deleted);
    CHECK(rep.firstBadSeq == 15);
  }
}

namespace {
// Shifts records at..30 up by one and inserts a forged record at `at`, linked to its predecessor
// with a valid hash: what an attacker who read docs/audit.md would do.
void insertForged(const std::string& path, int at) {
  RawDb raw(path);
  raw.dropTriggers();
  for (int s = 30; s >= at; --s)
    raw.exec("UPDATE records SET seq = " + std::to_string(s + 1) + " WHERE seq = " + std::to_string(s));
  auto before = show(path, static_cast<std::uint64_t>(at - 1));
  StoredRecord fake = *before;
  fake.seq = static_cast<std::uint64_t>(at);
  fake.jti = "forged";
  fake.prevHash = before->hash;
  fake.hash = recordHash(fake);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(raw.handle(),
                     "INSERT INTO records (seq, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, "
                     "prev_hash, hash) SELECT ?4, ts_us, type, actor, request_id, source_ip, data, policy_hash, ?1, ?2, ?3 "
                     "FROM records WHERE seq = ?4 - 1",
                     -1, &s, nullptr);
  sqlite3_bind_text(s, 1, "forged", -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(s, 2, fake.prevHash.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_blob(s, 3, fake.hash.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 4, at);
  REQUIRE(sqlite3_step(s) == SQLITE_DONE);
  sqlite3_finalize(s);
}
}  // namespace

TEST_CASE("tamper: insertion of a well-formed record in the middle") {
  SUBCASE("between checkpoints") {
    Fixture f;
    insertForged(f.copy, 15);
    REQUIRE(show(f.copy, 15)->jti == "forged");
    auto rep = f.check();
    CHECK(rep.kind == Tamper::Inserted);
    CHECK(rep.firstBadSeq == 15);
    CHECK(rep.records == 15);  // the forged record itself is well-formed; the one after it exposes it
  }
  SUBCASE("exactly at a checkpoint's size") {
    Fixture f;
    insertForged(f.copy, 20);
    auto rep = f.check();
    CHECK(rep.kind == Tamper::Inserted);
    CHECK(rep.firstBadSeq == 20);
  }
}

TEST_CASE("tamper: reordering two records") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("UPDATE records SET seq = 1000 WHERE seq = 5; UPDATE records SET seq = 5 WHERE seq = 6; "
             "UPDATE records SET seq = 6 WHERE seq = 1000");
  }
  auto rep = f.check();
  CHECK(rep.kind == Tamper::Reordered);
  CHECK(rep.firstBadSeq == 5);
}

TEST_CASE("tamper: truncation is caught by the checkpoints table") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("DELETE FROM records WHERE seq > 25");
  }
  auto rep = f.check();
  CHECK(rep.kind == Tamper::Truncated);
  CHECK(rep.firstBadSeq == 26);
  CHECK(rep.records == 25);
}

TEST_CASE("tamper: truncation with the checkpoints removed too is caught by the anchored file") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("DELETE FROM records WHERE seq > 25; DELETE FROM checkpoints WHERE size > 25");
  }
  CHECK(f.check(false).ok());  // without an anchor the shorter log is self-consistent
  auto rep = f.check(true);
  CHECK(rep.kind == Tamper::Truncated);
  CHECK(rep.firstBadSeq == 26);
}

TEST_CASE("tamper: truncation then new records appended: the head differs from the anchored checkpoint's") {
  Fixture f;
  {
    RawDb raw(f.copy);
    raw.dropTriggers();
    raw.exec("DELETE FROM records WHERE seq > 25; DELETE FROM checkpoints WHERE size > 20");
  }
  {
    // Appended through the library itself: a valid chain and freshly signed checkpoints.
    Options opt;
    opt.checkpointEvery = 10;
    auto log = AuditLog::open(f.copy, opt);
    for (int i = 0; i < 10; ++i) log->appendSync(sampleRecord(100 + i));
  }
  CHECK(f.check(false).ok());
  auto rep = f.check(true);
  CHECK(rep.kind == Tamper::Truncated);
  CHECK(rep.firstBadSeq == 21);  // the last checkpoint that still matched covers 1..20
}

TEST_CASE("tamper: a checkpoint with a forged signature, head or size") {
  SUBCASE("signature") {
    Fixture f;
    {
      RawDb raw(f.copy);
      raw.dropTriggers();
      raw.exec("UPDATE checkpoints SET sig = zeroblob(64) WHERE size = 20");
    }
    auto rep = f.check();
    CHECK(rep.kind == Tamper::BadCheckpoint);
    CHECK(rep.firstBadSeq == 20);
  }
  SUBCASE("size moved back after truncating") {
    Fixture f;
    {
      RawDb raw(f.copy);
      raw.dropTriggers();
      raw.exec("DELETE FROM records WHERE seq > 25; UPDATE checkpoints SET size = 25 WHERE size = 30");
    }
    auto rep = f.check();
    CHECK(rep.kind == Tamper::BadCheckpoint);
    CHECK(rep.firstBadSeq == 25);
  }
  SUBCASE("the database's key replaced and everything re-signed: the pinned key or the anchor exposes it") {
    Fixture f;
    std::string error;
    auto evil = mandate::jose::Key::generate(mandate::jose::Alg::EdDSA, error);
    REQUIRE(evil);
    {
      RawDb raw(f.copy);
      raw.dropTriggers();
      raw.exec("DROP TRIGGER meta_no_update; UPDATE audit_meta SET value = '" + publicKeyText(*evil) +
               "' WHERE key = 'checkpoint_key'; DELETE FROM checkpoints");
      auto cp = signCheckpoint(*evil, 30, show(f.copy, 30)->hash, 1764151200000000);
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(raw.handle(), "INSERT INTO checkpoints (size, ts_us, head, key, sig) VALUES (30, ?1, ?2, ?3, ?4)",
                         -1, &s, nullptr);
      sqlite3_bind_int64(s, 1, cp.timeUs);
      sqlite3_bind_blob(s, 2, cp.head.data(), 32, SQLITE_TRANSIENT);
      sqlite3_bind_text(s, 3, cp.key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(s, 4, cp.signature.data(), 64, SQLITE_TRANSIENT);
      REQUIRE(sqlite3_step(s) == SQLITE_DONE);
      sqlite3_finalize(s);
    }
    CHECK(verify(f.copy).ok());  // consistent with itself
    auto rep = f.check();        // pinned key
    CHECK(rep.kind == Tamper::BadCheckpoint);
    auto rep2 = verify(f.copy, {f.anchor, ""});  // no pinned key, but the anchored file names the real one
    CHECK(rep2.kind == Tamper::BadCheckpoint);
  }
}

TEST_CASE("tamper: an edited or unreadable checkpoint file") {
  Fixture f;
  std::ifstream in(f.anchor);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("size 30"), 7, "size 31");
  std::ofstream(f.anchor, std::ios::trunc) << text;
  auto rep = f.check(true);
  CHECK(rep.kind == Tamper::BadCheckpoint);
  std::filesystem::remove(f.anchor);
  CHECK(f.check(true).kind == Tamper::BadCheckpoint);
}

TEST_CASE("tamper: verify never writes to the file it checks") {
  Fixture f;
  auto before = std::filesystem::last_write_time(f.copy);
  auto size = std::filesystem::file_size(f.copy);
  CHECK(f.check(true).ok());
  CHECK(std::filesystem::last_write_time(f.copy) == before);
  CHECK(std::filesystem::file_size(f.copy) == size);
  CHECK_THROWS_AS(verify(f.dir.file("missing.db")), AuditError);
}
