// CSPRNG output for the request path, drawn from OpenSSL 4 KiB at a time per thread. OpenSSL 3's
// RAND_bytes takes a process-wide write lock (RAND_get_rand_method) and the DRBG's own lock on
// every call; with a token id drawn per request and ECDSA nonces drawn by the signature
// precomputation thread, those locks were 6-8% of the server's CPU at 64 connections. Bytes are
// handed out once and wiped from the buffer as they go, so it holds only output nobody has seen.
// The buffer is not fork-safe (a child would repeat the parent's unused bytes): the server does
// not fork.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <cstring>

#include "jose/jose.h"

namespace mandate::jose {
namespace {

constexpr std::size_t kBufferBytes = 4096;

struct RandomBuffer {
  unsigned char bytes[kBufferBytes];
  std::size_t next = kBufferBytes;  // empty
  ~RandomBuffer() {
    OPENSSL_cleanse(bytes + next, kBufferBytes - next);
    next = kBufferBytes;  // a use after the thread's destructors refills rather than hand out zeros
  }
};

}  // namespace

std::string bufferedRandomBytes(std::size_t n) {
  if (n > kBufferBytes / 4) return randomBytes(n);  // rare and large: straight from OpenSSL
  thread_local RandomBuffer buf;
  if (kBufferBytes - buf.next < n) {
    if (RAND_bytes(buf.bytes, static_cast<int>(kBufferBytes)) != 1) {
      ERR_clear_error();
      OPENSSL_cleanse(buf.bytes, kBufferBytes);
      buf.next = kBufferBytes;
      return {};
    }
    buf.next = 0;
  }
  std::string out(reinterpret_cast<const char*>(buf.bytes + buf.next), n);
  OPENSSL_cleanse(buf.bytes + buf.next, n);
  buf.next += n;
  return out;
}

}  // namespace mandate::jose
