#include "audit/verify.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/read_db.h"
#include "audit/record_hash.h"

namespace mandate::audit {

namespace {

const std::string kZeroHash(32, '\0');

struct Expectation {
  std::uint64_t size;
  std::string head;
  std::string source;  // "checkpoint table" or the file name
};

VerifyReport bad(VerifyReport r, Tamper kind, std::uint64_t seq, std::string detail) {
  r.kind = kind;
  r.firstBadSeq = seq;
  r.detail = std::move(detail);
  return r;
}

// The sequence number of a record whose stored hash is `h` (0 for the genesis value), or nullopt.
// A full scan, run once, at the first broken link only.
std::optional<std::uint64_t> findByHash(ReadDb& db, const std::string& h) {
  if (h == kZeroHash) return 0;
  Query q(db, "SELECT seq, hash FROM records ORDER BY seq");
  while (q.step())
    if (q.text(1) == h) return static_cast<std::uint64_t>(q.int64(0));
  return std::nullopt;
}

}  // namespace

const char* tamperName(Tamper t) {
  switch (t) {
    case Tamper::None: return "none";
    case Tamper::Modified: return "modified";
    case Tamper::Deleted: return "deleted";
    case Tamper::Inserted: return "inserted";
    case Tamper::Reordered: return "reordered";
    case Tamper::Truncated: return "truncated";
    case Tamper::BadCheckpoint: return "bad_checkpoint";
  }
  return "?";
}

VerifyReport verify(const std::string& dbPath, const VerifyOptions& options) {
  ReadDb db(dbPath);
  db.beginSnapshot();
  VerifyReport rep;

  std::string key = options.trustedKey;
  if (key.empty()) {
    Query q(db, "SELECT value FROM audit_meta WHERE key = 'checkpoint_key'");
    if (q.step()) key = q.text(0);
  }

  std::vector<Expectation> expect;
  {
    Query q(db, "SELECT size, ts_us, head, key, sig FROM checkpoints ORDER BY size");
    std::int64_t lastTime = INT64_MIN;
    while (q.step()) {
      Checkpoint cp;
      cp.size = static_cast<std::uint64_t>(q.int64(0));
      cp.timeUs = q.int64(1);
      cp.head = q.text(2);
      cp.key = q.text(3);
      cp.signature = q.text(4);
      if (cp.key != key)
        return bad(rep, Tamper::BadCheckpoint, cp.size, "checkpoint at size " + std::to_string(cp.size) +
                                                            " is signed by another key than the trusted one");
      if (!checkCheckpointSignature(cp, key))
        return bad(rep, Tamper::BadCheckpoint, cp.size,
                   "checkpoint at size " + std::to_string(cp.size) + " has an invalid signature");
      if (cp.timeUs < lastTime)
        return bad(rep, Tamper::BadCheckpoint, cp.size,
                   "checkpoint at size " + std::to_string(cp.size) + " is older than the one before it");
      lastTime = cp.timeUs;
      ++rep.checkpoints;
      expect.push_back({cp.size, cp.head, "checkpoint table"});
    }
  }
  if (!options.checkpointFile.empty()) {
    std::string error;
    auto cp = readCheckpointFile(options.checkpointFile, error);
    if (!cp) return bad(rep, Tamper::BadCheckpoint, 0, options.checkpointFile + ": " + error);
    if (cp->key != key)
      return bad(rep, Tamper::BadCheckpoint, cp->size,
                 options.checkpointFile + " is signed by another key than " +
                     (options.trustedKey.empty() ? "the one recorded in the database" : "the trusted one"));
    if (!checkCheckpointSignature(*cp, key))
      return bad(rep, Tamper::BadCheckpoint, cp->size, options.checkpointFile + " has an invalid signature");
    ++rep.checkpoints;
    expect.push_back({cp->size, cp->head, options.checkpointFile});
  }
  std::stable_sort(expect.begin(), expect.end(), [](auto& a, auto& b) { return a.size < b.size; });

  std::size_t next = 0;               // the next expectation to meet
  std::uint64_t lastMatched = 0;      // the largest checkpoint size whose head matched
  std::string prev = kZeroHash;       // stored hash of the last good record
  std::uint64_t prevSeq = 0;
  // A record that differs from a signed head is reported once the walk shows nothing more
  // specific right after it: an inserted or re-hashed record sitting exactly at a checkpoint's
  // size breaks the link of the next record, which names the tampering better than "rewritten".
  std::optional<VerifyReport> deferred;
  std::uint64_t deferredAt = 0;
  auto fault = [&](Tamper kind, std::uint64_t seq, std::string detail) {
    if (deferred && seq > deferredAt + 1) return *deferred;
    return bad(rep, kind, seq, std::move(detail));
  };
  StoredRecord r;
  Query q(db, "SELECT seq, ts_us, type, actor, request_id, source_ip, data, policy_hash, jti, prev_hash, hash "
              "FROM records ORDER BY seq");
  while (q.step()) {
    readRecord(q, r);
    const std::uint64_t expected = prevSeq + 1;
    if (r.seq != expected) {
      return fault(Tamper::Deleted, expected,
                   r.seq == expected + 1 ? "record " + std::to_string(expected) + " is missing"
                                         : "records " + std::to_string(expected) + ".." + std::to_string(r.seq - 1) +
                                               " are missing");
    }
    const bool hashOk = recordHash(r) == r.hash;
    const bool linkOk = r.prevHash == prev;
    if (linkOk && !hashOk)
      return fault(Tamper::Modified, r.seq, "record " + std::to_string(r.seq) + " does not match its hash");
    if (!linkOk) {
      const std::string s = std::to_string(r.seq);
      auto pred = findByHash(db, r.prevHash);
      if (pred && *pred > r.seq)
        return fault(Tamper::Reordered, r.seq,
                     "record " + s + " links to record " + std::to_string(*pred) + ", which comes after it");
      if (pred && *pred + 1 < r.seq)
        return fault(Tamper::Inserted, *pred + 1,
                     "records " + std::to_string(*pred + 1) + ".." + std::to_string(r.seq - 1) +
                         " are not in the chain: record " + s + " links to record " + std::to_string(*pred));
      if (!hashOk)
        return fault(Tamper::Deleted, r.seq,
                     "the record before record " + s + " is gone (record " + s +
                         " was renumbered and its predecessor is missing)");
      return fault(Tamper::Modified, r.seq - 1,
                   "record " + std::to_string(r.seq - 1) + " was altered and re-hashed: record " + s +
                       " does not link to it");
    }
    bool checked = false;
    for (; next < expect.size() && expect[next].size == r.seq; ++next) {
      if (expect[next].head != r.hash && !deferred) {
        deferred = bad(rep, Tamper::Truncated, lastMatched + 1,
                       "record " + std::to_string(r.seq) + " differs from the head signed in " + expect[next].source +
                           ": the log after record " + std::to_string(lastMatched) + " was cut and rewritten");
        deferredAt = r.seq;
      }
      checked = true;
    }
    if (checked && !deferred) lastMatched = r.seq;
    prev = r.hash;
    prevSeq = r.seq;
    ++rep.records;
    rep.head = r.hash;
  }
  if (deferred) return *deferred;
  if (next < expect.size())
    return bad(rep, Tamper::Truncated, prevSeq + 1,
               "the log ends at record " + std::to_string(prevSeq) + " but " + expect.back().source +
                   " signed a log of " + std::to_string(expect.back().size) + " records");
  return rep;
}

}  // namespace mandate::audit
