// ES256 signatures computed ahead of time. Nearly all of an ECDSA signature's cost (~21 of ~22 µs
// on the benchmark machine) is choosing the nonce k and computing r = x(kG) mod n and k^-1 mod n;
// none of it depends on the message. Key::precomputeSignatures does that part on a thread that
// only gets otherwise idle CPU (the server runs it at SCHED_IDLE), and a signature then costs
// ~0.5 µs: s = k^-1 (z + r d) mod n. OpenSSL offers exactly this split only through its EC_KEY
// interface (ECDSA_sign_setup / ECDSA_do_sign_ex), deprecated since 3.0 but built in Debian's
// OpenSSL; if a later OpenSSL drops it, this file is all there is to remove (signing then always
// takes the EVP path in signer.cpp).
//
// Security: a pair is as secret as the private key (with a signature it yields d), so pairs are
// kept only in this process's memory, each is removed from the pool under its mutex before use
// (never two signatures with one k) and cleared when freed. k comes from OpenSSL's CSPRNG
// (ECDSA_sign_setup without a digest draws it uniformly below n).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <new>

#include "jose/internal/key_state.h"

namespace mandate::jose {
namespace {

constexpr int kCoordinate = 32;

EC_KEY* legacyKey(detail::KeyState& st) {
  std::call_once(st.ecOnce, [&st] {
    st.ec = EVP_PKEY_get1_EC_KEY(st.pkey);  // a reference of its own, freed by freeAhead
    if (st.ec == nullptr) ERR_clear_error();
  });
  return st.ec;
}

}  // namespace

std::size_t Key::precomputeSignatures(std::size_t target, std::size_t batch) const {
  if (alg_ != Alg::ES256 || !private_) return 0;
  detail::KeyState& st = *state_;
  EC_KEY* ec = legacyKey(st);
  if (ec == nullptr) return 0;
  const std::size_t held = precomputedSignatures();
  if (held >= target) return 0;
  // Computed outside the pool's mutex and added under one short lock: the thread computing them
  // runs at SCHED_IDLE and may be preempted anywhere, and must not be preempted holding it.
  const std::size_t want = std::min(batch, target - held);
  std::vector<std::pair<BIGNUM*, BIGNUM*>> fresh;
  try {
    fresh.reserve(want);  // emplace_back below never allocates
  } catch (const std::bad_alloc&) {
    return 0;
  }
  BN_CTX* ctx = BN_CTX_new();
  if (ctx == nullptr) return 0;
  while (fresh.size() < want) {
    BIGNUM* kinv = nullptr;
    BIGNUM* r = nullptr;
    if (ECDSA_sign_setup(ec, ctx, &kinv, &r) != 1) {
      ERR_clear_error();
      BN_clear_free(kinv);
      BN_clear_free(r);
      break;
    }
    fresh.emplace_back(kinv, r);
  }
  BN_CTX_free(ctx);
  try {
    std::lock_guard lock(st.aheadMu);
    if (st.ahead.capacity() < target) st.ahead.reserve(target);  // once per key: no growth later
    st.ahead.insert(st.ahead.end(), fresh.begin(), fresh.end());
  } catch (const std::bad_alloc&) {
    // Out of memory: the values are wiped, not lost in the heap (and no exception leaves here).
    for (auto& [kinv, r] : fresh) {
      BN_clear_free(kinv);
      BN_clear_free(r);
    }
    return 0;
  }
  return fresh.size();
}

std::size_t Key::precomputedSignatures() const {
  detail::KeyState& st = *state_;
  std::lock_guard lock(st.aheadMu);
  return st.ahead.size();
}

namespace detail {

bool signAhead(KeyState& st, const unsigned char (&dgst)[32], std::string& signature) {
  std::pair<BIGNUM*, BIGNUM*> pair{nullptr, nullptr};
  {
    // Never waits: the pool's other user is a SCHED_IDLE thread, which a busy core may not run
    // again for a while; a request that finds the mutex taken signs the ordinary way.
    std::unique_lock lock(st.aheadMu, std::try_to_lock);
    if (!lock.owns_lock() || st.ahead.empty()) return false;
    pair = st.ahead.back();
    st.ahead.pop_back();
  }
  // The pair left the pool above: whatever happens below, it signs nothing else.
  ECDSA_SIG* sig = st.ec != nullptr ? ECDSA_do_sign_ex(dgst, sizeof dgst, pair.first, pair.second, st.ec) : nullptr;
  BN_clear_free(pair.first);
  BN_clear_free(pair.second);
  if (sig == nullptr) {
    // s = 0 (probability ~2^-256: OpenSSL asks for new values) or an allocation failure.
    ERR_clear_error();
    return false;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  signature.assign(2 * kCoordinate, '\0');
  auto* out = reinterpret_cast<unsigned char*>(signature.data());
  const bool ok = BN_bn2binpad(r, out, kCoordinate) == kCoordinate && BN_bn2binpad(s, out + kCoordinate, kCoordinate) == kCoordinate;
  ECDSA_SIG_free(sig);
  if (!ok) signature.clear();
  return ok;
}

void freeAhead(KeyState& st) {
  for (auto& [kinv, r] : st.ahead) {
    BN_clear_free(kinv);
    BN_clear_free(r);
  }
  st.ahead.clear();
  EC_KEY_free(st.ec);
  st.ec = nullptr;
}

}  // namespace detail
}  // namespace mandate::jose
