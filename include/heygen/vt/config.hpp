// Configuration macros: the transport, OpenSSL, SQLite, and defaults a build may override.
#pragma once

#include <cstddef>

/// Define HEYGEN_VT_NO_HTTPLIB to use the header with your own transport and no cpp-httplib at all.
#if !defined(HEYGEN_VT_NO_HTTPLIB) && !defined(HEYGEN_VT_WITH_HTTPLIB)
#if __has_include(<httplib.h>)
/// Set when the bundled cpp-httplib transport is compiled in.
#define HEYGEN_VT_WITH_HTTPLIB 1
#endif
#endif

/// Set when OpenSSL's libcrypto is there for the webhook's HMAC-SHA256: define it yourself (and link libcrypto), or
/// it follows from a cpp-httplib built with OpenSSL (its pkg-config flags define CPPHTTPLIB_OPENSSL_SUPPORT).
/// Without it a WebhookVerifier needs a verify function of the caller's, or it refuses every push.
#if !defined(HEYGEN_VT_WITH_OPENSSL) && defined(HEYGEN_VT_WITH_HTTPLIB) && defined(CPPHTTPLIB_OPENSSL_SUPPORT)
#define HEYGEN_VT_WITH_OPENSSL 1
#endif

// HEYGEN_VT_WITH_SQLITE: define it (and link libsqlite3) for SqliteJournal, the embedded journal; Meson, pkg-config
// and CMake do both when SQLite is there.

#ifndef HEYGEN_VT_DEFAULT_MAX_BODY_BYTES
/// Default cap on a response body, in bytes; a larger body ends the call with a clear error.
#define HEYGEN_VT_DEFAULT_MAX_BODY_BYTES (std::size_t{1024} * 1024)
#endif

#ifndef HEYGEN_VT_DEFAULT_BULK_CONCURRENCY
/// Requests in flight for bulk tracking when the caller sets no concurrent_limit.
#define HEYGEN_VT_DEFAULT_BULK_CONCURRENCY 8u
#endif

#ifndef HEYGEN_VT_DEFAULT_POLLER_THREADS
/// Worker threads of a client's poller when the options set none.
#define HEYGEN_VT_DEFAULT_POLLER_THREADS 8u
#endif
