// The "Video Translation Status Tracker" simulator: the reference implementation of the wire protocol (see
// "The simulator" in README.md). It speaks the seed server's core protocol plus every extension (each
// switchable off), injects faults on demand, and records server-side truth (when each job really finished,
// when a client first saw it finished) so clients can be measured. Header-only so the server program, the
// tests and the benchmarks all run the same code, in-process or as a separate process.
//
// This header includes the parts in reading order:
//   support.hpp     the clock, number parsing, the JSON writer
//   options.hpp     SimulatorConfig (durations, faults, switches, limits, TLS, webhooks) and its validation
//   stats.hpp       the server-side truth (SimulatorStats) and its JSON for GET /stats
//   args.hpp        status_server's command line (parse_args, usage)
//   tls.hpp         OpenSSL for the connection loop
//   connection.hpp  per-connection state and the socket stream httplib parses
//   http.hpp        the worker pool and the HTTP server with its own connection loop
//   jobs.hpp        jobs and faults as the server keeps them
//   webhooks.hpp    pushes of jobs' final states to their callback URLs and registered endpoints, with faults
//   endpoints.hpp   heygen_v3's registered webhook endpoints
//   objects.hpp     the object store's parts: output bytes, URL signatures, ranges, S3 errors, pacing, counters
//   simulator.hpp   the StatusSimulator class: lifecycle and statistics
//   store.hpp       its job store and fault draws
//   routes.hpp      its routes, handlers and answers
//   heygen_v3.hpp   its HeyGen v3 routes (--api heygen-v3)
//   heygen_webhooks.hpp  its v3 webhook endpoints routes (/v3/webhooks/endpoints)
//   storage.hpp     its object store over HTTP: presigned output GETs and upload PUTs, with storage faults
//   assets.hpp      its v3 asset API: direct uploads, completion, multipart uploads, ingest statuses
#ifndef HEYGEN_SIM_STATUS_SIMULATOR_HPP
#define HEYGEN_SIM_STATUS_SIMULATOR_HPP

#include "args.hpp"
#include "assets.hpp"
#include "endpoints.hpp"
#include "heygen_v3.hpp"
#include "heygen_webhooks.hpp"
#include "options.hpp"
#include "routes.hpp"
#include "simulator.hpp"
#include "stats.hpp"
#include "storage.hpp"
#include "store.hpp"
#include "webhooks.hpp"

#endif  // HEYGEN_SIM_STATUS_SIMULATOR_HPP
