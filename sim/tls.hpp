// TLS for the simulator's own connection loop: OpenSSL used directly, or stand-ins that refuse when cpp-httplib
// is built without OpenSSL.
#ifndef HEYGEN_SIM_TLS_HPP
#define HEYGEN_SIM_TLS_HPP

#include <httplib.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace heygen::sim::detail {

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
using TlsSession = SSL;
using TlsContext = SSL_CTX;
/// Bytes the TLS session has decrypted but not yet handed out.
inline bool tls_pending(TlsSession* tls) { return SSL_pending(tls) > 0; }
/// One TLS read (blocking, bounded by the socket's receive timeout): 0 at a clean close, -1 on error.
inline ssize_t tls_read(TlsSession* tls, char* data, std::size_t size) {
  const int n = SSL_read(tls, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) return n;
  return SSL_get_error(tls, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}
/// One TLS write: the bytes written, or -1.
inline ssize_t tls_write(TlsSession* tls, const char* data, std::size_t size) {
  const int n = SSL_write(tls, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  return n > 0 ? n : -1;
}
/// A server context for one certificate and key; throws when either cannot be loaded.
inline TlsContext* make_tls_context(const std::string& cert_file, const std::string& key_file) {
  TlsContext* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx != nullptr && SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) == 1 &&
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) == 1 &&
      SSL_CTX_check_private_key(ctx) == 1) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    return ctx;
  }
  SSL_CTX_free(ctx);
  throw std::runtime_error("status simulator: cannot load TLS certificate '" + cert_file + "' and key '" + key_file +
                           "'");
}
/// Accepts a TLS session on a connected socket (the handshake is bounded by the socket's timeouts).
inline TlsSession* accept_tls(TlsContext* ctx, int sock) {
  TlsSession* tls = SSL_new(ctx);
  if (tls != nullptr && SSL_set_fd(tls, sock) == 1 && SSL_accept(tls) == 1) return tls;
  SSL_free(tls);
  return nullptr;
}
/// Ends a session: a close_notify when the peer is still there, then the memory.
inline void end_tls(TlsSession* tls) {
  SSL_shutdown(tls);
  SSL_free(tls);
}
inline void free_tls_context(TlsContext* ctx) { SSL_CTX_free(ctx); }
#else
struct TlsSession {};
struct TlsContext {};
inline bool tls_pending(TlsSession*) { return false; }
inline ssize_t tls_read(TlsSession*, char*, std::size_t) { return -1; }
inline ssize_t tls_write(TlsSession*, const char*, std::size_t) { return -1; }
inline TlsContext* make_tls_context(const std::string&, const std::string&) {
  throw std::runtime_error("status simulator: TLS needs cpp-httplib built with OpenSSL");
}
inline TlsSession* accept_tls(TlsContext*, int) { return nullptr; }
inline void end_tls(TlsSession*) {}
inline void free_tls_context(TlsContext*) {}
#endif

}  // namespace heygen::sim::detail

#endif  // HEYGEN_SIM_TLS_HPP
