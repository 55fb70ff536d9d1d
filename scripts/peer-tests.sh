#!/usr/bin/env bash
# Peer conformance tests: run the crate against the real Azure ML scoring server.
#
# Starts Microsoft's azmlinfsrv (PyPI package azureml-inference-server-http, the
# HTTP server inside Azure ML online-endpoint containers) with the echo model
# tests/peer/score.py, on a free loopback port, exports AZUREML_PEER_URL and runs
# the Rust peer tests (or a curl smoke check while tests/peer.rs does not exist).
#
# Usage: scripts/peer-tests.sh [extra args for the test binary, e.g. a test name]
#        scripts/peer-tests.sh --bench [REQUESTS [DELAY_MS]]
#            requests/s of generate on 1 and 8 threads (examples/peer_bench.rs, release build)
# Environment:
#   PEER_TEST_CMD           replace the whole test command (run with bash -c)
#   PEER_WORKERS            gunicorn worker processes (azmlinfsrv --worker_count; default 2)
#   PEER_THREADS            threads per worker (default 1 = gunicorn "sync" worker, as azmlinfsrv
#                           runs by default: Connection: close on every response, scoring timeout
#                           enforced; >1 = "gthread" worker: keep-alive, no scoring timeout)
#   PEER_SCORING_TIMEOUT_MS azmlinfsrv's SCORING_TIMEOUT_MS (default: the server's 3600000); a run()
#                           slower than this is answered 500 {"message": "Scoring timeout after N ms"}
#                           (sync workers only: the timer is a SIGALRM in the worker's main thread)
#   PEER_HEALTH_TIMEOUT_S   how long to wait for GET / (default 60)
#   PEER_PYTHON             python used to create the venv (default python3, needs 3.11)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Must match the pin in tests/peer/requirements.txt (which pins every transitive package).
AZMLINFSRV_VERSION="1.5.1"
REQS="$ROOT/tests/peer/requirements.txt"
VENV="$ROOT/target/peer-venv"
STAMP="$VENV/.peer-requirements.sha256"
LOG="$ROOT/target/peer-server.log"
MODEL_DIR="$ROOT/target/peer-model"
PYTHON="${PEER_PYTHON:-python3}"
WORKERS="${PEER_WORKERS:-2}"
THREADS="${PEER_THREADS:-1}"
if [[ "$THREADS" == 1 ]]; then WORKER_CLASS=sync; else WORKER_CLASS=gthread; fi
HEALTH_TIMEOUT_S="${PEER_HEALTH_TIMEOUT_S:-60}"
DEFAULT_TEST_CMD=(cargo test --test peer -- --ignored --test-threads=1)
BENCH_CMD=(cargo run --quiet --release --example peer_bench --)
BENCH=0
if [[ "${1:-}" == --bench ]]; then BENCH=1; shift; fi

die() { echo "peer-tests: $*" >&2; exit 1; }
say() { echo "peer-tests: $*" >&2; }

grep -qx "azureml-inference-server-http==$AZMLINFSRV_VERSION" "$REQS" \
    || die "$REQS does not pin azureml-inference-server-http==$AZMLINFSRV_VERSION"

# --- virtualenv (reused when the requirements file and the installed server match) ---
t_start=$(date +%s.%N)
want_stamp="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') $(sha256sum "$REQS" | cut -d' ' -f1)"
have_version=""
if [[ -x "$VENV/bin/azmlinfsrv" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    have_version="$("$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("azureml-inference-server-http"))' 2>/dev/null || true)"
fi
if [[ "$have_version" == "$AZMLINFSRV_VERSION" ]]; then
    say "reusing $VENV (azureml-inference-server-http $have_version)"
else
    say "creating $VENV (azureml-inference-server-http $AZMLINFSRV_VERSION)"
    rm -rf "$VENV"
    mkdir -p "$ROOT/target"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want_stamp" > "$STAMP"
fi
t_venv=$(date +%s.%N)

# --- server ---
PORT="$("$VENV/bin/python" -c \
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
mkdir -p "$MODEL_DIR"   # empty AZUREML_MODEL_DIR: the echo model loads nothing
SERVER_PID=""
WORKER_PIDS=""

stop_server() {
    local rc=$? pid
    if [[ -n "$SERVER_PID" ]]; then
        WORKER_PIDS="$(pgrep -P "$SERVER_PID" | tr "\n" " " || true)"
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 75); do   # gunicorn stops gracefully on SIGTERM; allow 15 s
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            say "server $SERVER_PID ignored SIGTERM for 15 s; sending SIGKILL"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
            rc=1
        fi
        wait "$SERVER_PID" 2>/dev/null || true
        sleep 0.2
        for pid in $WORKER_PIDS; do
            if kill -0 "$pid" 2>/dev/null; then
                say "worker $pid still alive after the server stopped; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                rc=1
            fi
        done
        if ss -ltnH "sport = :$PORT" | grep -q .; then
            say "port $PORT is still listening after the server stopped"
            rc=1
        else
            say "server $SERVER_PID (workers:${WORKER_PIDS:- none}) stopped; port $PORT closed"
        fi
    fi
    exit "$rc"
}
trap stop_server EXIT

# azmlinfsrv has no bind-address flag or variable (amlserver.run passes the
# hard-coded "-b 0.0.0.0:PORT" to gunicorn); the gunicorn config hook named in
# GUNICORN_CMD_ARGS rewrites it to 127.0.0.1 before the socket is created.
# Worker model made explicit: --worker_count N (azmlinfsrv's WORKER_COUNT) worker
# processes of the given class and thread count, no gunicorn control socket.
say "starting azmlinfsrv on 127.0.0.1:$PORT ($WORKERS $WORKER_CLASS workers x $THREADS threads), log $LOG"
env -u AZUREML_CONFIG_FILE -u SEPERATE_HEALTH_ENDPOINT -u HEALTH_PORT -u AML_APP_INSIGHTS_ENABLED \
    -u AML_APP_INSIGHTS_KEY -u AZUREML_DEBUG_PORT -u AML_CORS_ORIGINS -u SCORING_TIMEOUT_MS \
    -u WORKER_PRELOAD \
    GUNICORN_CMD_ARGS="--config $ROOT/tests/peer/gunicorn_loopback.py --worker-class $WORKER_CLASS --threads $THREADS --no-control-socket" \
    WORKER_TIMEOUT=300 \
    ${PEER_SCORING_TIMEOUT_MS:+SCORING_TIMEOUT_MS="$PEER_SCORING_TIMEOUT_MS"} \
    AML_APP_ROOT="$ROOT/tests/peer" \
    PYTHONUNBUFFERED=1 \
    "$VENV/bin/azmlinfsrv" \
        --entry_script "$ROOT/tests/peer/score.py" \
        --model_dir "$MODEL_DIR" \
        --port "$PORT" \
        --worker_count "$WORKERS" \
        >"$LOG" 2>&1 &
SERVER_PID=$!

deadline=$(( $(date +%s) + HEALTH_TIMEOUT_S ))
until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$LOG" >&2
        die "azmlinfsrv exited before answering GET / (log above: $LOG)"
    fi
    if (( $(date +%s) >= deadline )); then
        cat "$LOG" >&2
        die "azmlinfsrv did not answer GET / on 127.0.0.1:$PORT within ${HEALTH_TIMEOUT_S}s (log above: $LOG)"
    fi
    sleep 0.2
done
t_up=$(date +%s.%N)

listeners="$(ss -ltnH "sport = :$PORT" | awk '{print $4}')"
[[ -n "$listeners" ]] || die "nothing listens on port $PORT"
if grep -qv "^127\.0\.0\.1:$PORT\$" <<<"$listeners"; then
    die "azmlinfsrv listens beyond loopback: $(tr '\n' ' ' <<<"$listeners")"
fi
say "$(awk -v a="$t_start" -v b="$t_venv" -v c="$t_up" -v p="$PORT" \
    'BEGIN { printf "venv %.1fs, server up %.1fs; listening on 127.0.0.1:%s only", b - a, c - b, p }')"

export AZUREML_PEER_URL="http://127.0.0.1:$PORT/score"
export AZUREML_PEER_PYTHON="$VENV/bin/python"   # has PyYAML, for tests/peer/yaml.rs
export PEER_SERVER="$WORKERS $WORKER_CLASS workers x $THREADS threads"

# --- tests ---
smoke_fail=0
smoke() {   # smoke NAME EXPECTED_STATUS EXPECTED_BODY REQUEST_BODY
    local name=$1 want_status=$2 want_body=$3 req=$4 out status body
    out="$(curl -sS --max-time 30 -w '\n%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$req" "$AZUREML_PEER_URL")"
    status="${out##*$'\n'}"
    body="${out%$'\n'*}"
    if [[ "$status" == "$want_status" && "$body" == "$want_body" ]]; then
        say "smoke ok: $name"
    else
        say "smoke FAILED: $name: got $status $body; want $want_status $want_body"
        smoke_fail=1
    fi
}

run_smoke() {
    # Special characters: quote, backslash, newline, tab, NUL, Chinese, emoji (the
    # server escapes non-ASCII as \uXXXX, astral characters as surrogate pairs).
    local s='q\"b\\s\nl\tt\u0000z 中文 😀'
    local e='q\"b\\s\nl\tt\u0000z \u4e2d\u6587 \ud83d\ude00'
    smoke gpt2 200 "[{\"0\": \"$e\"}]" "{\"inputs\": {\"input_string\": [\"$s\"]}, \"parameters\": {\"t\": 1}}"
    smoke hf 200 "[{\"generated_text\": \"$e\"}]" "{\"inputs\": [\"$s\"], \"parameters\": {}}"
    smoke dolly 200 "[\"$e\"]" "{\"input_data\": {\"input_string\": [\"$s\"]}, \"parameters\": {}}"
    smoke custom_openai 200 "[{\"0\": \"$e\"}]" \
        "{\"input_data\": {\"input_string\": [\"$s\"], \"parameters\": {}}}"
    smoke chat 200 "{\"output\": \"$e\"}" \
        "{\"input_data\": {\"input_string\": [{\"role\": \"system\", \"content\": \"x\"}, {\"role\": \"user\", \"content\": \"$s\"}], \"parameters\": {}}}"
    smoke raise 500 '{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}' \
        '{"inputs": ["p"], "parameters": {"fail": "raise"}}'
    smoke status-429 429 '{"message": "status on purpose"}' '{"inputs": ["p"], "parameters": {"status": 429}}'
    smoke bad-shape 400 '{"message": "echo model: unrecognised request shape: unexpected top-level keys ['"'prompt'"']"}' \
        '{"prompt": "p"}'
    (( smoke_fail == 0 )) || die "smoke check failed"
}

if (( BENCH )); then
    say "running: ${BENCH_CMD[*]} $*"
    "${BENCH_CMD[@]}" "$@"
elif [[ -n "${PEER_TEST_CMD:-}" ]]; then
    say "running: $PEER_TEST_CMD"
    bash -c "$PEER_TEST_CMD"
elif [[ -f "$ROOT/tests/peer.rs" ]]; then
    say "running: ${DEFAULT_TEST_CMD[*]} $*"
    "${DEFAULT_TEST_CMD[@]}" "$@"
else
    say "tests/peer.rs does not exist yet: curl smoke check against $AZUREML_PEER_URL"
    run_smoke
fi
