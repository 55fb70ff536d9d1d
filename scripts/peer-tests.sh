#!/usr/bin/env bash
# Peer conformance tests: run the crate against real servers.
#
# Starts Microsoft's azmlinfsrv (PyPI package azureml-inference-server-http, the
# HTTP server inside Azure ML online-endpoint containers) with the echo model
# tests/peer/score.py, and the LiteLLM proxy (an OpenAI-compatible server) with the
# mock models of tests/peer/litellm.yaml, each on a free loopback port; exports
# AZUREML_PEER_URL and AZUREML_PEER_OPENAI_URL and runs the peer test binary, tests/peer/
# (or a curl smoke check while tests/peer/main.rs does not exist).
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
#   PEER_HEALTH_TIMEOUT_S   how long to wait for each server's health check (default 60)
#   PEER_PYTHON             python used to create the venvs (default python3, needs 3.11)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Must match the pin in tests/peer/requirements.txt (which pins every transitive package).
AZMLINFSRV_VERSION="1.5.1"
REQS="$ROOT/tests/peer/requirements.txt"
VENV="$ROOT/target/peer-venv"
LOG="$ROOT/target/peer-server.log"
# Must match the pin in tests/peer/litellm-requirements.txt (every transitive package pinned too).
LITELLM_VERSION="1.106.2"
LITELLM_REQS="$ROOT/tests/peer/litellm-requirements.txt"
LITELLM_VENV="$ROOT/target/peer-litellm-venv"
LITELLM_LOG="$ROOT/target/peer-litellm.log"
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

# --- virtualenvs (each reused when its requirements file and installed server match) ---
# ensure_venv VENV REQS PACKAGE VERSION COMMAND: (re)creates VENV from the fully pinned REQS
# unless it was built from this very file with this python and PACKAGE is at VERSION; a fresh
# venv must hold exactly the pinned set (pip freeze), so an unpinned transitive package fails here.
ensure_venv() {
    local venv=$1 reqs=$2 package=$3 version=$4 command=$5 stamp want have=""
    grep -qx "$package==$version" "$reqs" || die "$reqs does not pin $package==$version"
    stamp="$venv/.peer-requirements.sha256"
    want="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') $(sha256sum "$reqs" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/$command" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        have="$("$venv/bin/python" -c \
            "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null || true)"
    fi
    if [[ "$have" == "$version" ]]; then
        say "reusing $venv ($package $have)"
        return
    fi
    say "creating $venv ($package $version)"
    rm -rf "$venv"
    mkdir -p "$ROOT/target"
    "$PYTHON" -m venv "$venv" || die "cannot create $venv with $PYTHON"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs" \
        || die "pip could not install $reqs into $venv"
    local extra
    extra="$(comm -13 <(grep -v '^#' "$reqs" | tr 'A-Z_' 'a-z-' | sort) \
        <("$venv/bin/python" -m pip freeze --disable-pip-version-check | tr 'A-Z_' 'a-z-' | sort))"
    [[ -z "$extra" ]] || die "$reqs misses packages pip installed: $(tr '\n' ' ' <<<"$extra")"
    echo "$want" > "$stamp"
}

# Both venvs are built at once (a cold build is mostly waiting on downloads), each in a
# background subshell, where `set -e` still holds and `die` ends only that subshell.
t_start=$(date +%s.%N)
ensure_venv "$VENV" "$REQS" azureml-inference-server-http "$AZMLINFSRV_VERSION" azmlinfsrv &
venv_pid=$!
litellm_venv_pid=""
if (( ! BENCH )); then
    ensure_venv "$LITELLM_VENV" "$LITELLM_REQS" litellm "$LITELLM_VERSION" litellm &
    litellm_venv_pid=$!
fi
wait "$venv_pid" || die "could not build $VENV (see above)"
[[ -z "$litellm_venv_pid" ]] || wait "$litellm_venv_pid" || die "could not build $LITELLM_VENV (see above)"
t_venv=$(date +%s.%N)

# --- servers ---
free_port() {
    "$VENV/bin/python" -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
PORT="$(free_port)"
mkdir -p "$MODEL_DIR"   # empty AZUREML_MODEL_DIR: the echo model loads nothing
SERVER_PID=""
LITELLM_PORT=""
LITELLM_PID=""
stop_rc=0

# stop_one NAME PID PORT: SIGTERM (SIGKILL after 15 s), then checks that the process, its
# children (gunicorn workers) and the listening port are all gone.
stop_one() {
    local name=$1 pid=$2 port=$3 children child
    children="$(pgrep -P "$pid" | tr "\n" " " || true)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 75); do   # both stop gracefully on SIGTERM; allow 15 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name $pid ignored SIGTERM for 15 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        stop_rc=1
    fi
    wait "$pid" 2>/dev/null || true
    sleep 0.2
    for child in $children; do
        if kill -0 "$child" 2>/dev/null; then
            say "$name child $child still alive after $pid stopped; sending SIGKILL"
            kill -KILL "$child" 2>/dev/null || true
            stop_rc=1
        fi
    done
    if ss -ltnH "sport = :$port" | grep -q .; then
        say "port $port is still listening after $name stopped"
        stop_rc=1
    else
        say "$name $pid (children:${children:- none}) stopped; port $port closed"
    fi
}

stop_servers() {
    local rc=$?
    [[ -z "$SERVER_PID" ]] || stop_one azmlinfsrv "$SERVER_PID" "$PORT"
    [[ -z "$LITELLM_PID" ]] || stop_one litellm "$LITELLM_PID" "$LITELLM_PORT"
    (( stop_rc == 0 )) || rc=1
    exit "$rc"
}
trap stop_servers EXIT

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

# LiteLLM starts without network: the model-cost map is the bundled copy, the tokenizers are
# bundled (litellm points TIKTOKEN_CACHE_DIR at them), no database, no telemetry, and a proxy in
# the environment is dropped so nothing could go out through it; provider keys are dropped too,
# so its pass-through routes (/openai/…) cannot reach a real provider. The master key (which it
# requires) is tests/support's KEY; tests/peer/litellm_auth.py answers any other key with 401.
if (( ! BENCH )); then
    TEST_KEY="$(sed -n 's/^pub const KEY: &str = "\(sk-[^"]*\)";$/\1/p' "$ROOT/tests/support/mod.rs")"
    [[ -n "$TEST_KEY" ]] || die "no 'pub const KEY: &str = \"sk-…\";' in tests/support/mod.rs"
    LITELLM_PORT="$(free_port)"
    say "starting litellm $LITELLM_VERSION on 127.0.0.1:$LITELLM_PORT, log $LITELLM_LOG"
    env -u DATABASE_URL -u LITELLM_CONFIG_BUCKET_NAME -u REDIS_HOST -u REDIS_URL \
        -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u http_proxy -u https_proxy -u all_proxy \
        -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENAI_API_BASE -u AZURE_API_KEY -u AZURE_API_BASE \
        LITELLM_LOCAL_MODEL_COST_MAP=True \
        LITELLM_TELEMETRY=False \
        LITELLM_MASTER_KEY="$TEST_KEY" \
        PYTHONUNBUFFERED=1 \
        "$LITELLM_VENV/bin/litellm" \
            --config "$ROOT/tests/peer/litellm.yaml" \
            --host 127.0.0.1 \
            --port "$LITELLM_PORT" \
            --num_workers 1 \
            >"$LITELLM_LOG" 2>&1 &
    LITELLM_PID=$!
fi

# wait_healthy NAME PID URL LOG: polls URL until it answers 2xx; fails loudly with the log.
wait_healthy() {
    local name=$1 pid=$2 url=$3 log=$4 deadline=$(( $(date +%s) + HEALTH_TIMEOUT_S ))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            die "$name exited before answering $url (log above: $log)"
        fi
        if (( $(date +%s) >= deadline )); then
            cat "$log" >&2
            die "$name did not answer $url within ${HEALTH_TIMEOUT_S}s (log above: $log)"
        fi
        sleep 0.2
    done
}

# only_loopback NAME PORT: fails unless 127.0.0.1:PORT is the one listener on PORT.
only_loopback() {
    local name=$1 port=$2 listeners
    listeners="$(ss -ltnH "sport = :$port" | awk '{print $4}')"
    [[ -n "$listeners" ]] || die "nothing listens on port $port ($name)"
    if grep -qv "^127\.0\.0\.1:$port\$" <<<"$listeners"; then
        die "$name listens beyond loopback: $(tr '\n' ' ' <<<"$listeners")"
    fi
}

wait_healthy azmlinfsrv "$SERVER_PID" "http://127.0.0.1:$PORT/" "$LOG"
only_loopback azmlinfsrv "$PORT"
export AZUREML_PEER_URL="http://127.0.0.1:$PORT/score"
export AZUREML_PEER_PYTHON="$VENV/bin/python"   # has PyYAML, for tests/peer/yaml.rs
export PEER_SERVER="$WORKERS $WORKER_CLASS workers x $THREADS threads"
if [[ -n "$LITELLM_PID" ]]; then
    wait_healthy litellm "$LITELLM_PID" "http://127.0.0.1:$LITELLM_PORT/health/liveliness" "$LITELLM_LOG"
    only_loopback litellm "$LITELLM_PORT"
    export AZUREML_PEER_OPENAI_URL="http://127.0.0.1:$LITELLM_PORT"
fi
t_up=$(date +%s.%N)
say "$(awk -v a="$t_start" -v b="$t_venv" -v c="$t_up" \
    'BEGIN { printf "venvs %.1fs, servers up %.1fs; listening on loopback only", b - a, c - b }')"

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
elif [[ -f "$ROOT/tests/peer/main.rs" ]]; then
    say "running: ${DEFAULT_TEST_CMD[*]} $*"
    "${DEFAULT_TEST_CMD[@]}" "$@"
else
    say "tests/peer/main.rs does not exist yet: curl smoke check against $AZUREML_PEER_URL"
    run_smoke
fi
