// Configuration macros: the bundled transport, and defaults a build may override.
#pragma once

#include <cstddef>

/// Define HEYGEN_VT_NO_HTTPLIB to use the header with your own transport and no cpp-httplib at all.
#if !defined(HEYGEN_VT_NO_HTTPLIB) && !defined(HEYGEN_VT_WITH_HTTPLIB)
#if __has_include(<httplib.h>)
/// Set when the bundled cpp-httplib transport is compiled in.
#define HEYGEN_VT_WITH_HTTPLIB 1
#endif
#endif

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
