#pragma once
// Owning pointers for the OpenSSL objects this library creates, and the helpers every file uses.
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

namespace mandate::jose::detail {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// SHA-256, fetched from the default provider once per process (a fetch per call costs more than
// hashing a token).
const EVP_MD* sha256Md();

// `what` plus the first queued OpenSSL reason, and the queue cleared so that a stale error never
// surfaces in an unrelated caller later.
std::string sslFailure(const char* what);

// A value taken from the input, made safe to put in an error message that may be logged: at most
// 40 characters, anything but printable ASCII replaced by '?', so no log injection.
std::string echo(std::string_view untrusted);

}  // namespace mandate::jose::detail
