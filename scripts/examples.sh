#!/usr/bin/env bash
# Builds the examples and the heygen-vt command-line tool (build/cli-check), runs every example, and checks the
# tool's exit codes and --json output against status_server processes started here on ephemeral ports, plus a
# tiny server in Python that speaks only the original GET /status?job_id= and records Authorization headers.
# Pushes (webhooks): status_server signs each job's final status with HEYGEN_WEBHOOK_SECRET and POSTs it to the
# tool's --webhook-listen receiver and to examples/webhook, all on loopback.
# Prints "ok: ..." or "FAIL: ..." per check; exits non-zero when any failed. Safe to re-run; about 1-2 minutes.
# EXAMPLES_BUILD_DIR picks an already configured build folder (default build/cli-check, configured here).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/lib.sh

ensure_packages || exit 1
build=${EXAMPLES_BUILD_DIR:-build/cli-check}
targets=(tools/heygen-vt/heygen-vt sim/status_server examples/usage examples/custom_transport examples/bulk_callback
  examples/cancellation examples/translate_three examples/webhook)
# A folder of its own is an -O0 g++ build: half the compile time, and speed is not measured here. A folder given in
# EXAMPLES_BUILD_DIR is used as it is configured (scripts/test.sh passes build/gcc, which has built these already).
if [ -z "${EXAMPLES_BUILD_DIR:-}" ]; then
  configure_build "$build" g++ --buildtype=debug || exit 1
fi
ninja -j 2 -C "$build" "${targets[@]}" || exit 1

work=$(mktemp -d)
server_pids=()
# Stops every server this script started (they also stop by themselves: `timeout`), then removes the scratch dir.
cleanup() {
  local pid
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
# check DESCRIPTION COMMAND...: runs a test command and reports it.
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# start_server NAME COMMAND...: starts a server that prints "listening on HOST:PORT"; sets $url to it.
start_server() {
  local name=$1; shift
  timeout 120 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  server_pids+=($!)
  local line=""
  for _ in $(seq 100); do
    line=$(grep -m 1 '^listening on ' "$work/$name.out" 2>/dev/null) && break
    sleep 0.1
  done
  [ -n "$line" ] || { echo "FAIL: $name did not start: $(cat "$work/$name.err")"; exit 1; }
  url="http://${line#listening on }"
}

# vt ARGS...: runs heygen-vt with a bounded run time; sets $out (stdout), $err (stderr) and $rc.
vt() {
  timeout 60 "$build/tools/heygen-vt/heygen-vt" "$@" >"$work/vt.out" 2>"$work/vt.err"
  rc=$?
  out=$(cat "$work/vt.out")
  err=$(cat "$work/vt.err")
}

# json EXPRESSION: true when the Python expression over `jobs` (the parsed --json output in $out) holds.
json() {
  python3 -c 'import json, sys; jobs = json.loads(sys.stdin.read()); sys.exit(0 if eval(sys.argv[1]) else 1)' \
    "$1" <<<"$out"
}

# status_requests URL: the status requests a status_server has served (its /stats).
status_requests() {
  python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/stats"))["totals"]["status_requests"])' "$1"
}

# created_ids: the ids of `heygen-vt create --json` output in $out, space-separated.
created_ids() { python3 -c 'import json, sys; print(" ".join(j["id"] for j in json.load(sys.stdin)))' <<<"$out"; }

status_server="$build/sim/status_server"

echo "--- examples"
for example in usage custom_transport bulk_callback cancellation translate_three webhook; do
  check "example $example runs and exits 0" timeout 30 "$build/examples/$example"
done

echo "--- usage errors (64) and --help (0)"
vt; check "no command: 64" test "$rc" -eq 64
vt wait; check "wait without ids: 64" test "$rc" -eq 64
vt frobnicate x; check "unknown command: 64" test "$rc" -eq 64
vt --bogus status x; check "unknown option: 64" test "$rc" -eq 64
vt --timeout soon wait x; check "bad --timeout: 64" test "$rc" -eq 64
vt --url localhost:5000 status x; check "URL without scheme: 64" test "$rc" -eq 64
vt --help; check "--help: 0 and documents the exit codes" test "$rc" -eq 0 -a -n "$(grep -F '130' <<<"$out")"
vt --lang French create; check "a v3 option without --api heygen-v3: 64" test "$rc" -eq 64
vt --api heygen-v4 status x; check "unknown --api: 64" test "$rc" -eq 64
HEYGEN_API_KEY=k vt --api heygen-v3 create --lang French; check "v3 create without a video: 64" test "$rc" -eq 64
HEYGEN_API_KEY=k vt --api heygen-v3 create --video-url https://example.com/v.mp4
check "v3 create without --lang: 64" test "$rc" -eq 64
env -u HEYGEN_API_KEY "$build/tools/heygen-vt/heygen-vt" --api heygen-v3 --url http://127.0.0.1:1 languages \
  >"$work/vt.out" 2>"$work/vt.err"
rc=$?
check "v3 without HEYGEN_API_KEY: 64, says so" test "$rc" -eq 64 -a -n "$(grep -F HEYGEN_API_KEY "$work/vt.err")"

echo "--- full-featured server"
start_server full "$status_server" --duration fixed:0.3
vt --url "$url" create --count 3 --json
check "create --count 3: 0, three ids" test "$rc" -eq 0 -a "$(created_ids | wc -w)" -eq 3
ids=$(created_ids)
# shellcheck disable=SC2086
vt --url "$url" --json wait $ids
check "wait, all completed: 0" test "$rc" -eq 0
check "wait --json: one object per job with the documented fields" json \
  'len(jobs) == 3 and all(j["status"] == "completed" and j["outcome"] == "completed" and j["cause"] is None
   and j["error_message"] is None and j["http_status"] == 200 and j["requests"] >= 1
   and isinstance(j["elapsed"], float) for j in jobs)'
# shellcheck disable=SC2086
vt --url "$url" wait $ids
check "wait prints a table and a summary" grep -q 'summary: jobs=3 completed=3 failed=0' <<<"$out"
vt --url "$url" --json wait no-such-job
check "unknown job id: 1, cause unknown_job" test "$rc" -eq 1
check "unknown job id in --json" json 'jobs[0]["cause"] == "unknown_job" and jobs[0]["http_status"] == 404'

echo "--- behind a proxy (from the environment, as curl reads it)"
first_id=${ids%% *}
http_proxy=http://alice:hunter2@127.0.0.1:1 vt --url "$url" --verbose --retries 0 --json wait "$first_id"
check "a proxy that is down: 69, --verbose and the error name it (from http_proxy), the password hidden" \
  test "$rc" -eq 69 -a -n "$(grep -F 'through the proxy http://alice:***@127.0.0.1:1 (from http_proxy)' <<<"$err")" \
  -a -n "$(grep -F 'to the proxy http://alice:***@127.0.0.1:1 from http_proxy' <<<"$err")" \
  -a -z "$(grep -F hunter2 <<<"$err$out")"
http_proxy=http://alice:hunter2@127.0.0.1:1 NO_PROXY=localhost,127.0.0.1 vt --url "$url" --verbose wait "$first_id"
check "NO_PROXY naming the host: 0, --verbose says it goes directly" \
  test "$rc" -eq 0 -a -n "$(grep -F 'go directly (NO_PROXY names the host)' <<<"$err")"
HTTPS_PROXY=socks5://h:1080 vt --url "$url" wait "$first_id"
check "a malformed proxy variable: 64, named" test "$rc" -eq 64 -a -n "$(grep -F 'HTTPS_PROXY' <<<"$err")"

echo "--- some jobs fail"
start_server failing "$status_server" --duration fixed:0.2 --error-rate 0.5 --seed 7
vt --url "$url" create --count 8 --json
ids=$(created_ids)
# shellcheck disable=SC2086
vt --url "$url" --json wait $ids
check "some failed: 1" test "$rc" -eq 1
check "some failed: job_failed and completed jobs in --json" json \
  'any(j["cause"] == "job_failed" and j["outcome"] == "failed" for j in jobs) and any(j["outcome"] == "completed" for j in jobs)'

echo "--- a journal (--journal): kill -9 mid-run, then resume"
# created_count URL: the jobs a status_server has made (its /stats).
created_count() {
  python3 -c 'import json, sys, urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1] + "/stats"))["jobs"]))' "$1"
}
# vt_killed UNTIL ARGS...: starts heygen-vt with ARGS and kill -9s it as soon as the command UNTIL succeeds (or after
# 10 s); its stdout lands in $out.
vt_killed() {
  local until=$1; shift
  "$build/tools/heygen-vt/heygen-vt" "$@" >"$work/killed.out" 2>"$work/killed.err" &
  local pid=$! i
  for i in $(seq 100); do
    "$until" && break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  out=$(cat "$work/killed.out")
}
three_ids_printed() { [ "$(wc -l <"$work/killed.out")" -ge 3 ]; }
# intent_written: the lost.journal holds a create's intent and no ids yet (read as another process would).
intent_written() {
  [ -s "$work/lost.journal" ] && python3 -c 'import sqlite3, sys
try:
    rows = sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM creates WHERE ids IS NULL").fetchone()[0]
except sqlite3.Error:
    rows = 0
sys.exit(0 if rows >= 1 else 1)' "$work/lost.journal" 2>/dev/null
}
# While waiting: the three jobs were created and printed, the run dies before any ends; resume waits for them.
start_server journal_wait "$status_server" --duration fixed:5
vt_killed three_ids_printed --url "$url" --journal "$work/wait.journal" create --count 3 --wait
killed_ids=$(sort <<<"$out" | tr '\n' ' ')
check "journal: killed while waiting, its three ids printed" test "$(wc -w <<<"$killed_ids")" -eq 3
vt --url "$url" --journal "$work/wait.journal" --json resume
check "journal: resume after a kill while waiting: 0, the same three jobs completed" json \
  "sorted(j['id'] for j in jobs) == '$killed_ids'.split() and all(j['outcome'] == 'completed' for j in jobs)"
check "journal: resume says what it picked up" grep -q "3 jobs watched again" <<<"$err"
check "journal: no job created twice" test "$(created_count "$url")" -eq 3
vt --url "$url" --journal "$work/wait.journal" --json resume
check "journal: a second resume: 0, nothing left" json "jobs == []"
# After the create reached the server, before its answer: the intent is on disk, the id is not; resume sends the
# create again with the same Idempotency-Key, and the server answers with the job it made.
start_server journal_lost "$status_server" --duration fixed:0.5 --latency-ms 4000
vt_killed intent_written --url "$url" --journal "$work/lost.journal" create --wait
check "journal: killed before the create's answer: no id printed" test -z "$out"
vt --url "$url" --journal "$work/lost.journal" --json resume
check "journal: resume sends the lost create again: 0, its job completed" json \
  "len(jobs) == 1 and jobs[0]['outcome'] == 'completed'"
check "journal: resume says it sent one create again" grep -q "1 creates sent again" <<<"$err"
check "journal: the lost create made one job, not two" test "$(created_count "$url")" -eq 1
printf 'not a journal at all' >"$work/corrupt.journal"
vt --url "$url" --journal "$work/corrupt.journal" resume
check "journal: a corrupt file: 71, named, left as it was" test "$rc" -eq 71 -a \
  "$(cat "$work/corrupt.journal")" = "not a journal at all"
check "journal: the error names the file" grep -q "corrupt.journal" <<<"$err"
vt --url "$url" resume
check "journal: resume without --journal: 64" test "$rc" -eq 64
vt --url "$url" --journal "$work/x.journal" status job-1
check "journal: --journal with status: 64" test "$rc" -eq 64
vt --url "$url" --journal "" resume
check "journal: resume with an empty --journal: 64" test "$rc" -eq 64

echo "--- long jobs: timeout and Ctrl-C"
start_server slow "$status_server" --duration fixed:60
vt --url "$url" create --count 2 --json
ids=$(created_ids)
started=$SECONDS
# shellcheck disable=SC2086
vt --url "$url" --timeout 1 --json wait $ids
check "timeout: 2 within a few seconds" test "$rc" -eq 2 -a $((SECONDS - started)) -le 5
check "timeout in --json: status timeout, cause deadline" json \
  'all(j["status"] == "timeout" and j["cause"] == "deadline" and j["outcome"] == "timeout" for j in jobs)'
# shellcheck disable=SC2086
vt --url "$url" --json status $ids
check "status of pending jobs: 2, pending" test "$rc" -eq 2
check "status --json: pending" json 'all(j["status"] == "pending" for j in jobs)'
# Interrupt once the tool is tracking: its handler is in place before its first status request.
before=$(status_requests "$url")
# shellcheck disable=SC2086
timeout 60 "$build/tools/heygen-vt/heygen-vt" --url "$url" --json wait $ids >"$work/vt.out" 2>"$work/vt.err" &
waiter=$!
for _ in $(seq 100); do
  [ "$(status_requests "$url")" -gt "$before" ] && break
  sleep 0.1
done
kill -INT "$waiter"
wait "$waiter"
rc=$?
out=$(cat "$work/vt.out")
check "SIGINT: 130" test "$rc" -eq 130
check "SIGINT: prints what is known (cancelled)" json 'len(jobs) == 2 and all(j["cause"] == "cancelled" for j in jobs)'

echo "--- pushes (webhooks): --webhook-listen, create --wait, examples/webhook"
# Jobs of 0.3 s, and the safety-net poll comes 30 s after a wait starts: a wait that ends within a few seconds
# without a status request was ended by a push.
hook_secret="hook-$RANDOM$RANDOM-secret"
HEYGEN_WEBHOOK_SECRET=$hook_secret start_server pushing "$status_server" --duration fixed:0.3
vt --url "$url" --json create --count 2 --wait
check "create --wait (polling): 0, both completed" \
  test "$rc" -eq 0 -a -n "$(json 'len(jobs) == 2 and all(j["outcome"] == "completed" for j in jobs)' && echo yes)"
started=$SECONDS
HEYGEN_WEBHOOK_SECRET=$hook_secret vt --url "$url" --json --timeout 20 create --count 2 --wait \
  --webhook-listen 127.0.0.1:0
printed="$out$err"
check "create --wait --webhook-listen 127.0.0.1:0: 0 within a few seconds" \
  test "$rc" -eq 0 -a $((SECONDS - started)) -le 10
check "--webhook-listen: both completed by their pushes, no status request" \
  json 'len(jobs) == 2 and all(j["outcome"] == "completed" and j["requests"] == 0 for j in jobs)'
check "--webhook-listen: says the pushes were accepted" grep -q 'pushes: accepted=2 .* refused=0' <<<"$err"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  HEYGEN_WEBHOOK_SECRET=$hook_secret vt --url "$url" --json --timeout 20 create --count 2 --wait \
    --webhook-listen '[::1]:0' --webhook-header X-HeyGen-Signature
  check "--webhook-listen [::1]:0 --webhook-header: 0, pushes accepted" \
    test "$rc" -eq 0 -a -n "$(grep 'pushes: accepted=2 ' <<<"$err")"
fi
HEYGEN_WEBHOOK_SECRET=wrong-secret vt --url "$url" --json --timeout 2 create --wait --webhook-listen 127.0.0.1:0
printed+="$out$err"
check "a wrong HEYGEN_WEBHOOK_SECRET: pushes refused (401 bad_signature) and reported, wait times out: 2" \
  test "$rc" -eq 2 -a -n "$(grep -F 'push refused, answered 401 (bad_signature)' <<<"$err")"
env -u HEYGEN_WEBHOOK_SECRET "$build/tools/heygen-vt/heygen-vt" --url "$url" create --wait \
  --webhook-listen 127.0.0.1:0 >"$work/vt.out" 2>"$work/vt.err"
rc=$?
check "--webhook-listen without HEYGEN_WEBHOOK_SECRET: 64, says so" \
  test "$rc" -eq 64 -a -n "$(grep -F HEYGEN_WEBHOOK_SECRET "$work/vt.err")"
vt --url "$url" --webhook-secret "$hook_secret" create --wait --webhook-listen 127.0.0.1:0
printed+="$out$err"
check "--webhook-secret on the command line: 64" test "$rc" -eq 64
vt --url "$url" create --webhook-listen 127.0.0.1:0; check "--webhook-listen with create but no --wait: 64" test "$rc" -eq 64
vt --url "$url" wait x --webhook-listen 0.0.0.0:0; check "--webhook-listen 0.0.0.0 without --webhook-url: 64" test "$rc" -eq 64
check "the webhook secret is never printed" test -z "$(grep -F "$hook_secret" <<<"$printed")"
for receiver in "" --bundled; do
  HEYGEN_WEBHOOK_SECRET=$hook_secret timeout 30 "$build/examples/webhook" "$url" ${receiver:+"$receiver"} \
    >"$work/example.out" 2>&1
  rc=$?
  check "example webhook ${receiver:-(own server)} against status_server: 0, three jobs completed by pushes" \
    test "$rc" -eq 0 -a "$(grep -c 'completed after .* 0 status requests' "$work/example.out")" -eq 3
done

echo "--- the seed's server (--seed-quirks) and a core-only server"
start_server quirks "$status_server" --duration fixed:0.2 --seed-quirks
vt --url "$url" create --json
ids=$(created_ids)
vt --url "$url" --json wait "$ids"
check "seed-quirks server: wait 0" test "$rc" -eq 0
vt --url "$url" --json wait no-such-job
check "seed-quirks unknown id ('Job ID not found'): 1, unexpected_result" \
  test "$rc" -eq 1 -a -n "$(json 'jobs[0]["cause"] == "unexpected_result"' && echo yes)"
start_server core "$status_server" --duration fixed:0.2 --core-only
vt --url "$url" create --json
ids=$(created_ids)
vt --url "$url" --json --status-path /status wait "$ids"
check "core-only server through GET /status?job_id=: 0" test "$rc" -eq 0

echo "--- a server with only the original GET /status?job_id=, and the bearer token"
cat >"$work/original_server.py" <<'PY'
# Speaks only POST /create_job and GET /status?job_id= (404 elsewhere); records each Authorization header.
import http.server, json, os, sys, threading, time, urllib.parse

auth_log, jobs, lock = sys.argv[1], {}, threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record_auth(self):
        with lock, open(auth_log, "a") as log:
            log.write(self.headers.get("Authorization", "(none)") + "\n")

    def do_POST(self):
        self.record_auth()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/create_job":
            return self.reply(404, "not found")
        with lock:
            job_id = "orig-%d" % (len(jobs) + 1)
            jobs[job_id] = time.monotonic() + 0.3
        self.reply(200, json.dumps({"job_id": job_id}))

    def do_GET(self):
        self.record_auth()
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/status":
            return self.reply(404, "<html>not found</html>")
        done_at = jobs.get(urllib.parse.parse_qs(url.query).get("job_id", [""])[0])
        result = "Job ID not found" if done_at is None else "completed" if time.monotonic() >= done_at else "pending"
        self.reply(200, json.dumps({"result": result}))

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
threading.Timer(120, os._exit, [0]).start()  # stops by itself
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
PY
token="tok-$RANDOM$RANDOM-secret"
start_server original python3 "$work/original_server.py" "$work/auth.log"
HEYGEN_API_TOKEN=$token vt --url "$url" --verbose create --json
printed="$out$err"
ids=$(created_ids)
HEYGEN_API_TOKEN=$token vt --url "$url" --verbose --json wait "$ids"
printed+="$out$err"
check "original-only server: auto-detected, 0" test "$rc" -eq 0 -a -n "$(grep -F 'GET /status?job_id=' <<<"$err")"
check "the token is sent on every request" test "$(wc -l <"$work/auth.log")" -ge 3 \
  -a "$(grep -c -v -x -F "Bearer $token" "$work/auth.log")" -eq 0
vt --url "$url" --json --status-path '/status/{job_id}' wait "$ids"
check "original-only server with an explicit /status/{job_id}: 1 (404)" test "$rc" -eq 1
HEYGEN_API_TOKEN=$token vt --url "http://127.0.0.1:1" --verbose --retries 1 wait x
printed+="$out$err"
check "the token is never printed" test -z "$(grep -F "$token" <<<"$printed")"

echo "--- HeyGen's v3 API (--api heygen-v3)"
# The help read whole first: `grep -q` stops at its first match, and under pipefail the server's SIGPIPE would
# fail the test and skip every v3 check.
if grep -q 'heygen-v3' <<<"$("$status_server" --help 2>/dev/null)"; then
  key="key-$RANDOM$RANDOM-secret"
  start_server v3 "$status_server" --api heygen-v3 --api-key "$key" --duration fixed:0.3
  export HEYGEN_API_KEY=$key
  vt --api heygen-v3 --url "$url" languages
  check "v3 languages: 0, one name a line" test "$rc" -eq 0 -a "$(grep -c . <<<"$out")" -ge 2
  printed="$out$err"
  mapfile -t languages <<<"$out"
  vt --api heygen-v3 --url "$url" --json languages
  check "v3 languages --json: an array of names" json 'len(jobs) >= 2 and all(isinstance(n, str) and n for n in jobs)'
  vt --api heygen-v3 --url "$url" --json create --video-url https://example.com/talk.mp4 \
    --lang "${languages[0]}" --lang "${languages[1]}"
  check "v3 create with two --lang: 0, two ids" test "$rc" -eq 0 -a "$(created_ids | wc -w)" -eq 2
  printed+="$out$err"
  ids=$(created_ids)
  # shellcheck disable=SC2086
  vt --api heygen-v3 --url "$url" --json wait $ids
  printed+="$out$err"
  check "v3 wait: 0" test "$rc" -eq 0
  check "v3 wait --json: completed, with outputs (video URL, language)" json \
    'len(jobs) == 2 and all(j["outcome"] == "completed" and j["outputs"] and j["outputs"]["video_url"]
     and j["outputs"]["output_language"] for j in jobs)'
  # shellcheck disable=SC2086
  vt --api heygen-v3 --url "$url" wait $ids
  check "v3 wait prints the outputs under each row" test "$(grep -c '^  video: ' <<<"$out")" -eq 2
  # HeyGen's per-job pushes are unsigned (the simulator sends them so): each is a hint, confirmed by one look, with
  # HEYGEN_WEBHOOK_SECRET unset (confirm) and set (either: a signed push would settle at once, an unsigned one is
  # confirmed).
  for secret_env in "" "$key-hook"; do
    started=$SECONDS
    HEYGEN_WEBHOOK_SECRET=$secret_env vt --api heygen-v3 --url "$url" --json --timeout 20 create \
      --video-url https://example.com/talk.mp4 --lang "${languages[0]}" --lang "${languages[1]}" --wait \
      --webhook-listen 127.0.0.1:0
    printed+="$out$err"
    check "v3 create --wait --webhook-listen (secret '${secret_env:+set}'): 0 within a few seconds, with outputs" \
      test "$rc" -eq 0 -a $((SECONDS - started)) -le 10 -a -n "$(json 'len(jobs) == 2 and all(j["outcome"] == "completed"
        and j["outputs"]["video_url"] for j in jobs)' && echo yes)"
    check "v3 --webhook-listen (secret '${secret_env:+set}'): both pushes hinted and confirmed, none refused" \
      grep -q 'pushes: accepted=0 hinted=2 confirmed=2 .* refused=0' <<<"$err"
  done
  vt --api heygen-v3 --url "$url" --json status "${ids%% *}"
  check "v3 status of a completed translation: 0, with outputs" \
    test "$rc" -eq 0 -a -n "$(json 'jobs[0]["outputs"]["video_url"]' && echo yes)"
  HEYGEN_API_KEY=wrong-key vt --api heygen-v3 --url "$url" languages
  check "v3 wrong key, languages: 69, HTTP 401" test "$rc" -eq 69 -a -n "$(grep -F '401' <<<"$err")"
  # shellcheck disable=SC2086
  HEYGEN_API_KEY=wrong-key vt --api heygen-v3 --url "$url" --json wait $ids
  check "v3 wrong key, wait: 69, cause http_status 401" \
    test "$rc" -eq 69 -a -n "$(json 'all(j["cause"] == "http_status" and j["http_status"] == 401 for j in jobs)' && echo yes)"
  vt --api heygen-v3 --url "$url" --verbose --retries 1 wait no-such-translation
  printed+="$out$err"
  check "v3 unknown id: 1" test "$rc" -eq 1
  vt --api heygen-v3 --url "$url" --json webhooks add http://127.0.0.1:9/hook --event video_translate.success
  check "v3 webhooks add --json: 0, the endpoint with its secret" test "$rc" -eq 0 -a -n "$(json \
    'jobs["endpoint_id"] and jobs["secret"] and jobs["events"] == ["video_translate.success"]' && echo yes)"
  printed+="$out$err"
  endpoint=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["endpoint_id"])' <<<"$out")
  secret=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])' <<<"$out")
  vt --api heygen-v3 --url "$url" webhooks list
  check "v3 webhooks list: 0, a header and one row, no secret" test "$rc" -eq 0 -a "$(grep -c . <<<"$out")" -eq 2 \
    -a -n "$(grep -F "$endpoint" <<<"$out")" -a -z "$(grep -F "$secret" <<<"$out$err")"
  vt --api heygen-v3 --url "$url" webhooks rotate "$endpoint"
  check "v3 webhooks rotate: 0, the new secret alone on stdout" \
    test "$rc" -eq 0 -a "$(grep -c . <<<"$out")" -eq 1 -a "$out" != "$secret" -a -z "$err"
  printed+="$out$err"
  vt --api heygen-v3 --url "$url" webhooks delete "$endpoint"
  check "v3 webhooks delete: 0, nothing printed" test "$rc" -eq 0 -a -z "$out$err"
  vt --api heygen-v3 --url "$url" --json webhooks list
  check "v3 webhooks list --json after the delete: an empty array" json 'jobs == []'
  vt --api heygen-v3 --url "$url" webhooks delete "$endpoint"
  check "v3 webhooks delete of an unknown id: 69, HTTP 404" test "$rc" -eq 69 -a -n "$(grep -F '404' <<<"$err")"
  vt --api heygen-v3 --url "$url" webhooks add not-a-url
  check "v3 webhooks add without a URL: 64" test "$rc" -eq 64
  vt --api heygen-v3 --url "$url" --event video_translate.fail webhooks list
  check "v3 --event with webhooks list: 64" test "$rc" -eq 64
  vt --url "$url" webhooks list
  check "webhooks without --api heygen-v3: 64" test "$rc" -eq 64
  # translate: files in, files out.
  head -c 300000 /dev/urandom >"$work/talk.mp4"
  printf 'MZ' >"$work/tool.exe"
  vt --api heygen-v3 --url "$url" --json translate "$work/talk.mp4" --lang "${languages[0]}" --lang "${languages[1]}" \
    --captions --out "$work/translated"
  printed+="$out$err"
  check "v3 translate: 0, two languages, four files each on disk" test "$rc" -eq 0 -a -n "$(json '(len(jobs) == 2 and
    all(j["status"] == "completed" and len(j["files"]) == 4 for j in jobs))' && echo yes)" \
    -a "$(find "$work/translated" -type f -name 'talk.*' | wc -l)" -eq 8
  vt --api heygen-v3 --url "$url" translate "$work/talk.mp4" --lang "${languages[0]}" --out "$work/translated"
  check "v3 translate into a folder holding that translation: 1, refused before the upload" \
    test "$rc" -eq 1 -a -n "$(grep -F 'already holds' <<<"$out")"
  vt --api heygen-v3 --url "$url" translate "$work/tool.exe" "$work/none.mp4" --lang "${languages[0]}" \
    --out "$work/translated2"
  check "v3 translate of a type HeyGen does not take and of a missing file: 1, each named" \
    test "$rc" -eq 1 -a -n "$(grep -F 'does not take' <<<"$out")" -a -n "$(grep -F 'cannot open' <<<"$out")"
  vt --api heygen-v3 --url "$url" translate "$work/talk.mp4" --lang "${languages[0]}"
  check "v3 translate without --out: 64" test "$rc" -eq 64
  # A disk that refuses the outputs' bytes: files capped at 32 KiB with SIGXFSZ ignored, so a write fails (EFBIG)
  # as on a full disk. The error names the temporary file, which is gone; nothing stands under a final name.
  (
    trap '' XFSZ
    ulimit -f 32
    exec timeout 60 "$build/tools/heygen-vt/heygen-vt" --api heygen-v3 --url "$url" translate "$work/talk.mp4" \
      --lang "${languages[0]}" --out "$work/full"
  ) >"$work/vt.out" 2>"$work/vt.err"
  rc=$?
  out=$(cat "$work/vt.out")
  err=$(cat "$work/vt.err")
  check "v3 translate onto a full disk: 69 (outputs not written), the temporary file named and removed, no file left" \
    test "$rc" -eq 69 -a -n "$(grep -F '.part: cannot write the download' <<<"$out$err")" \
    -a "$(find "$work/full" -type f | wc -l)" -eq 0
  check "v3: the key is never printed" test -z "$(grep -F "$key" <<<"$printed")"
  unset HEYGEN_API_KEY
else
  echo "skipped: this status_server has no --api heygen-v3"
fi

echo "--- unreachable server (69)"
vt --url http://127.0.0.1:1 --retries 0 --json wait x
check "wait, connection refused: 69, cause transport" \
  test "$rc" -eq 69 -a -n "$(json 'jobs[0]["cause"] == "transport" and jobs[0]["outcome"] == "unavailable"' && echo yes)"
vt --url http://127.0.0.1:1 --timeout 1 wait x
check "wait, no answer before the deadline: 69" test "$rc" -eq 69
vt --url http://127.0.0.1:1 --retries 0 create
check "create, connection refused: 69" test "$rc" -eq 69

echo "examples.sh: $failures failed"
[ "$failures" -eq 0 ]
