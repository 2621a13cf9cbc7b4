// Signed checkpoints: every N records and every T seconds, in the table and the file, with the
// key generated once (mode 0600) and kept.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "audit/checkpoint.h"
#include "audit/export.h"
#include "audit/verify.h"
#include "audit_test_util.h"

using namespace mandate::audit;
using namespace mandate::audit::test;

namespace {
std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("checkpoint: every N records, signed, in the table and in audit-checkpoint.txt") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  Options opt;
  opt.checkpointEvery = 10;
  opt.checkpointInterval = std::chrono::hours(1);
  std::string key;
  {
    auto log = AuditLog::open(path, opt);
    key = log->checkpointPublicKey();
    for (int i = 0; i < 25; ++i) log->appendSync(sampleRecord(i));  // one record per batch
    RawDb raw(path);
    CHECK(raw.integer("SELECT count(*) FROM checkpoints") == 2);
    CHECK(raw.integer("SELECT min(size) FROM checkpoints") == 10);
    CHECK(raw.integer("SELECT max(size) FROM checkpoints") == 20);
    std::string error;
    auto cp = parseCheckpointFile(readFile(dir.file(kCheckpointFileName)), error);
    REQUIRE_MESSAGE(cp, error);
    CHECK(cp->size == 20);
    CHECK(cp->key == key);
    CHECK(cp->head == show(path, 20)->hash);
    CHECK(checkCheckpointSignature(*cp, key));
  }
  // Closing signs what arrived since the last checkpoint.
  std::string error;
  auto cp = parseCheckpointFile(readFile(dir.file(kCheckpointFileName)), error);
  REQUIRE(cp);
  CHECK(cp->size == 25);
  CHECK(cp->head == show(path, 25)->hash);
  auto rep = verify(path, {dir.file(kCheckpointFileName), key});
  CHECK_MESSAGE(rep.ok(), rep.detail);
  CHECK(rep.checkpoints == 4);  // 10, 20, 25 in the table, and the file

  // The key file: private, reused on reopen.
  struct stat st {};
  REQUIRE(::stat(dir.file(kKeyFileName).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = AuditLog::open(path, opt);
  CHECK(again->checkpointPublicKey() == key);
}

TEST_CASE("checkpoint: every T seconds when records arrived, none when nothing did") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  Options opt;
  opt.checkpointEvery = 1'000'000;
  opt.checkpointInterval = std::chrono::milliseconds(200);
  opt.checkpointDir = dir.file("anchor");
  std::filesystem::create_directory(opt.checkpointDir);
  auto log = AuditLog::open(path, opt);
  log->appendSync(sampleRecord(1));  // the first batch checkpoints at once (no earlier checkpoint time)
  appendN(*log, 3, 2);
  RawDb raw(path);
  const auto before = raw.integer("SELECT count(*) FROM checkpoints");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  CHECK(raw.integer("SELECT max(size) FROM checkpoints") == 4);  // the timer signed records 2..4
  const auto after = raw.integer("SELECT count(*) FROM checkpoints");
  CHECK(after == before + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(raw.integer("SELECT count(*) FROM checkpoints") == after);  // nothing new: nothing to sign
  CHECK(std::filesystem::exists(dir.file("anchor/audit-checkpoint.txt")));
}

TEST_CASE("checkpoint: the file format is strict and its signature covers size, head and time") {
  std::string error;
  auto key = mandate::jose::Key::generate(mandate::jose::Alg::EdDSA, error);
  REQUIRE(key);
  auto cp = signCheckpoint(*key, 42, std::string(32, '\x07'), 1764151200000000);
  const std::string text = checkpointFileText(cp);
  CHECK(text.rfind("mandate-audit-checkpoint/v1\nsize 42\nhead 0707", 0) == 0);
  auto parsed = parseCheckpointFile(text, error);
  REQUIRE(parsed);
  CHECK(checkCheckpointSignature(*parsed, publicKeyText(*key)));
  for (auto [from, to] : {std::pair{"size 42", "size 43"}, {"time_us 1764151200000000", "time_us 1764151200000001"},
                          {"head 07", "head 08"}}) {
    std::string t = text;
    t.replace(t.find(from), std::string(from).size(), to);
    auto p = parseCheckpointFile(t, error);
    REQUIRE(p);
    CHECK_FALSE(checkCheckpointSignature(*p, publicKeyText(*key)));
  }
  auto other = mandate::jose::Key::generate(mandate::jose::Alg::EdDSA, error);
  CHECK_FALSE(checkCheckpointSignature(*parsed, publicKeyText(*other)));
  CHECK_FALSE(parseCheckpointFile(text + "extra\n", error));
  CHECK_FALSE(parseCheckpointFile(text.substr(0, text.size() - 1), error));
  CHECK_FALSE(parseCheckpointFile("size 042\n", error));
}

TEST_CASE("checkpoint: a key file readable by others, or another key than the log's, is refused") {
  TempDir dir;
  const auto path = dir.file("audit.db");
  { AuditLog::open(path)->appendSync(sampleRecord(1)); }
  ::chmod(dir.file(kKeyFileName).c_str(), 0644);
  CHECK_THROWS_AS(AuditLog::open(path), AuditError);
  std::filesystem::remove(dir.file(kKeyFileName));
  CHECK_THROWS_WITH_AS(AuditLog::open(path), doctest::Contains("not the key"), AuditError);
}

TEST_CASE("checkpoint: the file never goes back to an earlier checkpoint, whatever order writers come in") {
  // The server and the admin CLI both sign checkpoints of one log and write the file after their
  // transactions: the slower one may come second with the earlier checkpoint.
  TempDir dir;
  std::string error;
  auto key = mandate::jose::Key::generate(mandate::jose::Alg::EdDSA, error);
  REQUIRE(key);
  const std::string file = dir.file(kCheckpointFileName);
  auto sizeInFile = [&] {
    auto cp = parseCheckpointFile(readFile(file), error);
    REQUIRE_MESSAGE(cp, error);
    return cp->size;
  };
  writeCheckpointFile(dir.str(), signCheckpoint(*key, 10, std::string(32, '\x01'), 1));
  writeCheckpointFile(dir.str(), signCheckpoint(*key, 5, std::string(32, '\x02'), 2));
  CHECK(sizeInFile() == 10);
  writeCheckpointFile(dir.str(), signCheckpoint(*key, 12, std::string(32, '\x03'), 3));
  CHECK(sizeInFile() == 12);
  writeCheckpointFile(dir.str(), signCheckpoint(*key, 12, std::string(32, '\x03'), 4));  // same size: replaced
  CHECK(parseCheckpointFile(readFile(file), error)->timeUs == 4);

  // A file that is not a valid checkpoint of this key does not hold the file back: a forged
  // "size 1000000", one signed by another key, garbage.
  auto other = mandate::jose::Key::generate(mandate::jose::Alg::EdDSA, error);
  std::string forged = checkpointFileText(signCheckpoint(*key, 1000000, std::string(32, '\x04'), 5));
  forged.replace(forged.find("size 1000000"), 12, "size 1000001");
  for (const std::string& text : {forged, checkpointFileText(signCheckpoint(*other, 1000000, std::string(32, '\x05'), 6)),
                                  std::string("garbage\n")}) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    writeCheckpointFile(dir.str(), signCheckpoint(*key, 13, std::string(32, '\x06'), 7));
    CHECK(sizeInFile() == 13);
  }

  // Eight threads writing sizes 1..400 in shuffled orders: the file ends at the largest.
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::uint64_t size = 1 + static_cast<std::uint64_t>((i * 8 + t) * 37 % 400);
        writeCheckpointFile(dir.str(), signCheckpoint(*key, size, std::string(32, '\x07'), 8));
      }
    });
  for (auto& w : writers) w.join();
  CHECK(sizeInFile() == 400);
}
