// TLS setup: TLS 1.2+ only, certificate chain and key from PEM files, optional client
// certificates for mutual TLS (RFC 8705).
#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http/connection.h"

namespace mandate::http::detail {

namespace {

std::string opensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// RFC 8705 §3 (self-signed certificate binding): the certificate need not chain to anything;
// the token binding, checked by the handler, is what makes it meaningful.
int acceptAnyClientCertificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

std::unique_ptr<asio::ssl::context> makeTlsContext(const Options& o, std::string& error) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, o.tlsCertFile.c_str()) != 1) {
    error = "TLS certificate " + o.tlsCertFile + ": " + opensslError();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, o.tlsKeyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "TLS key " + o.tlsKeyFile + ": " + opensslError();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    error = "TLS key " + o.tlsKeyFile + " does not match the certificate: " + opensslError();
    return nullptr;
  }
  if (o.requestClientCert) {
    // Session resumption with client certificates needs a session id context.
    static constexpr unsigned char kSessionContext[] = "mandate";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
    if (!o.tlsClientCaFile.empty()) {
      if (SSL_CTX_load_verify_locations(native, o.tlsClientCaFile.c_str(), nullptr) != 1) {
        error = "TLS client CA " + o.tlsClientCaFile + ": " + opensslError();
        return nullptr;
      }
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);  // no FAIL_IF_NO_PEER_CERT: optional
    } else {
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER, acceptAnyClientCertificate);
    }
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

std::string peerCertificateDer(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return {};
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

}  // namespace mandate::http::detail
