#include "audit/checkpoint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>
#include <fstream>
#include <memory>
#include <sstream>

#include "audit/audit_log.h"
#include "audit/record_hash.h"

namespace mandate::audit {

namespace {

constexpr std::string_view kMagic = "mandate-audit-checkpoint/v1";

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string sysError(const std::string& what) { return "audit: " + what + ": " + std::strerror(errno); }

void writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw AuditError(sysError("write " + path));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw AuditError(sysError("open " + dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw AuditError(sysError("fsync " + dir));
}

// Writes `data` to a new unique temporary file in `dir`, fsynced, mode 0600; returns its path.
std::string writeTemp(const std::string& dir, std::string_view data) {
  std::string tmpl = dir + "/.audit-tmp-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw AuditError(sysError("mkstemp in " + dir));
  try {
    if (::fchmod(fd, 0600) != 0) throw AuditError(sysError("fchmod " + tmpl));
    writeAll(fd, data, tmpl);
    if (::fsync(fd) != 0) throw AuditError(sysError("fsync " + tmpl));
  } catch (...) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw;
  }
  ::close(fd);
  return tmpl;
}

bool parseU64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parseHex32(std::string_view s, std::string& out) {
  if (s.size() != 64) return false;
  out.clear();
  for (std::size_t i = 0; i < 64; i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

}  // namespace

std::string checkpointMessage(std::uint64_t size, std::string_view head, std::int64_t timeUs) {
  std::string m(kMagic);
  m += "\nsize " + std::to_string(size) + "\nhead " + toHex(head) + "\ntime_us " + std::to_string(timeUs) + "\n";
  return m;
}

Checkpoint signCheckpoint(const jose::Key& key, std::uint64_t size, std::string_view head, std::int64_t timeUs) {
  const std::string msg = checkpointMessage(size, head, timeUs);
  MdCtx ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  std::size_t sigLen = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.evp()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sigLen,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1 ||
      sigLen != 64)
    throw AuditError("audit: checkpoint signature failed");
  return Checkpoint{size, std::string(head), timeUs, publicKeyText(key), sig};
}

bool checkCheckpointSignature(const Checkpoint& cp, std::string_view publicKey) {
  if (cp.signature.size() != 64 || cp.head.size() != 32) return false;
  std::string error;
  auto key = jose::Key::fromPublicJwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", std::string(publicKey)}}, error);
  if (!key) return false;
  const std::string msg = checkpointMessage(cp.size, cp.head, cp.timeUs);
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->evp()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(cp.signature.data()), cp.signature.size(),
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

std::string checkpointFileText(const Checkpoint& cp) {
  return checkpointMessage(cp.size, cp.head, cp.timeUs) + "key " + cp.key + "\nsig " + jose::b64urlEncode(cp.signature) +
         "\n";
}

std::optional<Checkpoint> parseCheckpointFile(std::string_view text, std::string& error) {
  if (text.size() > 4096) {
    error = "checkpoint file too large";
    return std::nullopt;
  }
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      error = "checkpoint file: last line not terminated";
      return std::nullopt;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  auto value = [&](std::size_t i, std::string_view name) -> std::optional<std::string_view> {
    if (i >= lines.size() || lines[i].substr(0, name.size() + 1) != std::string(name) + " ") return std::nullopt;
    return lines[i].substr(name.size() + 1);
  };
  Checkpoint cp;
  auto size = value(1, "size"), head = value(2, "head"), time = value(3, "time_us"), key = value(4, "key"),
       sig = value(5, "sig");
  std::uint64_t t = 0;
  if (lines.size() != 6 || lines[0] != kMagic || !size || !parseU64(*size, cp.size) || !head ||
      !parseHex32(*head, cp.head) || !time || !parseU64(*time, t) || t > static_cast<std::uint64_t>(INT64_MAX) || !key ||
      !sig || !jose::b64urlDecode(*sig, cp.signature)) {
    error = "checkpoint file: not a mandate-audit-checkpoint/v1 file";
    return std::nullopt;
  }
  cp.timeUs = static_cast<std::int64_t>(t);
  cp.key = std::string(*key);
  return cp;
}

std::optional<Checkpoint> readCheckpointFile(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot be read";
    return std::nullopt;
  }
  // One byte past the parser's limit is enough for it to refuse a larger file.
  std::string text;
  char buf[4097];
  ssize_t n;
  while (text.size() <= 4096 && (n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return parseCheckpointFile(text, error);
}

void writeCheckpointFile(const std::string& dir, const Checkpoint& cp) {
  // Several processes sign checkpoints of one log (the server, the admin CLI), each writing the
  // file after its transaction: under the directory's lock, a later checkpoint already in the
  // file stays, so the file never goes back to an earlier one.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw AuditError(sysError("open " + dir));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // releases the flock
  } unlock{dfd};
  while (::flock(dfd, LOCK_EX) != 0)
    if (errno != EINTR) throw AuditError(sysError("lock " + dir));
  const std::string final = dir + "/" + kCheckpointFileName;
  // A file that is absent, malformed, forged or by another key does not hold the new one back.
  std::string ignored;
  if (auto existing = readCheckpointFile(final, ignored);
      existing && existing->key == cp.key && checkCheckpointSignature(*existing, cp.key) && existing->size > cp.size)
    return;
  std::string tmp = writeTemp(dir, checkpointFileText(cp));
  if (::rename(tmp.c_str(), final.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw AuditError(sysError("rename to " + final));
  }
  fsyncDir(dir);
}

std::string publicKeyText(const jose::Key& key) { return key.publicJwk().at("x").get<std::string>(); }

jose::Key loadOrCreateKey(const std::string& dir) {
  const std::string path = dir + "/" + kKeyFileName;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        ::close(fd);
        throw AuditError("audit: " + path + " must not be accessible to group or others (mode 0600)");
      }
      std::string pem;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0 && pem.size() < 65536) pem.append(buf, static_cast<std::size_t>(n));
      ::close(fd);
      std::string error;
      auto key = jose::Key::fromPem(pem, error);
      if (!key || key->alg() != jose::Alg::EdDSA || !key->hasPrivate())
        throw AuditError("audit: " + path + " is not an Ed25519 private key" + (error.empty() ? "" : ": " + error));
      return *key;
    }
    if (errno != ENOENT) throw AuditError(sysError("open " + path));
    std::string error;
    auto key = jose::Key::generate(jose::Alg::EdDSA, error);
    if (!key) throw AuditError("audit: generating the checkpoint key: " + error);
    std::string tmp = writeTemp(dir, key->privatePem());
    // link() never replaces an existing file: if another process won the race, use its key.
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc == 0) {
      fsyncDir(dir);
      return *key;
    }
    if (err != EEXIST) {
      errno = err;
      throw AuditError(sysError("link " + path));
    }
  }
  throw AuditError("audit: could not create or read " + path);
}

}  // namespace mandate::audit
